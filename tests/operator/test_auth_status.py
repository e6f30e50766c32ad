"""`auth status`: dates and warnings from the token store, never a token nor part of one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg import sql
from tests.helpers import AssertNoSecrets, Cli, stored_secrets

from qbo_backfill.auth.login import expiry_warnings, must_reauthorize
from qbo_backfill.auth.tokens import TokenStatus

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def status(rolling_days: float | None, hard_days: float | None) -> TokenStatus:
    def at(days: float | None) -> datetime | None:
        return None if days is None else NOW + timedelta(days=days)

    return TokenStatus("1", "sandbox", NOW, at(rolling_days), at(hard_days), NOW, NOW)


@pytest.mark.parametrize(
    ("rolling", "hard", "expected", "reauthorize"),
    [
        (90, 1500, [], False),
        (14.5, 61, [], False),
        (13, 1500, ["refresh token expires in 13 days unless used"], False),
        (1.5, 1500, ["refresh token expires in 36 hours unless used"], False),
        (90, 59, ["hard expiry in 59 days"], False),
        (-1, 1500, ["refresh token expired"], True),
        (90, -1, ["refresh token passed its hard expiry"], True),
        (None, None, ["expiry unknown until the first refresh"], False),
    ],
)
def test_warnings_come_well_before_each_expiry(
    rolling: float | None, hard: float | None, expected: list[str], reauthorize: bool
) -> None:
    warnings = expiry_warnings(status(rolling, hard), NOW)
    assert len(warnings) == len(expected)
    for warning, start in zip(warnings, expected, strict=True):
        assert warning.startswith(start)
    assert must_reauthorize(status(rolling, hard), NOW) is reauthorize


def set_expiry(database_url: str, schema: str, rolling: timedelta, hard: timedelta) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(
            sql.SQL(
                "UPDATE {} SET refresh_expires_at = now() + %s, "
                "refresh_hard_expires_at = now() + %s"
            ).format(sql.Identifier(schema, "qbo_backfill_tokens")),
            (rolling, hard),
        )


@pytest.mark.db
def test_status_shows_dates_warns_and_never_a_secret(
    cli: Cli, database_url: str, schema: str, assert_no_secrets: AssertNoSecrets
) -> None:
    empty = cli.run("auth", "status")
    assert empty.returncode == 0
    assert "no tokens stored" in empty.stdout

    # A backfill imports QBO_REFRESH_TOKEN, refreshes it, and the sandbox rotates it.
    assert cli.run("backfill", "Item").returncode == 0
    secrets = [*stored_secrets(database_url, schema, cli.cipher()), cli.env["QBO_REFRESH_TOKEN"]]
    secrets.append(cli.env["QBO_CLIENT_SECRET"])
    assert len(secrets) == 4

    healthy = cli.run("auth", "status")
    assert healthy.returncode == 0, healthy.stderr
    realm = cli.env["QBO_REALM_ID"]
    for expected in (realm, "sandbox", "access token expires", "refresh hard expiry", "ok"):
        assert expected in healthy.stdout
    assert "(in 100 d)" in healthy.stdout or "(in 101 d)" in healthy.stdout

    set_expiry(database_url, schema, timedelta(days=10, hours=1), timedelta(days=30, hours=1))
    soon = cli.run("auth", "status", COLUMNS="200")
    assert soon.returncode == 0
    flat = " ".join(soon.stdout.split())
    assert "refresh token expires in 10 days" in flat
    assert "hard expiry in 30 days" in flat

    set_expiry(database_url, schema, timedelta(days=-1), timedelta(days=30))
    expired = cli.run("auth", "status")
    assert expired.returncode == 3
    assert "refresh token expired" in " ".join(expired.stdout.split())

    assert_no_secrets([r.stdout + r.stderr for r in (empty, healthy, soon, expired)], secrets)
