"""The three Mage blocks' glue, in-process: the local sandbox over HTTP into PostgreSQL.

Mage itself is not needed here (the Mage CI job runs the real pipelines with `mage run`);
these tests call what the blocks call, with the variables Mage would pass.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from tests.helpers import sandbox_env

from qbo_backfill.integrations.mage import BlockFailed, check_token, ingest, reconcile
from qbo_backfill.sandbox import Sandbox
from qbo_backfill.settings import Settings

pytestmark = pytest.mark.db

YEAR_2025 = {"start_date": "2025-01-01", "end_date": "2026-01-01", "chunk_days": 30}


class Lines:
    """Stands in for Mage's block logger: keeps every line by level."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def info(self, message: str) -> None:
        self.lines.append(("info", message))

    def warning(self, message: str) -> None:
        self.lines.append(("warning", message))

    def error(self, message: str) -> None:
        self.lines.append(("error", message))

    def text(self, level: str | None = None) -> str:
        return "\n".join(m for lv, m in self.lines if level in (None, lv))


@pytest.fixture
def sandbox_config() -> dict[str, Any]:
    return {"customers": 30, "items": 10, "invoices": 240}


@pytest.fixture
def settings(sandbox: Sandbox, database_url: str, schema: str, home: Path) -> Settings:
    env = sandbox_env(sandbox, database_url, schema, home, QBO_RETRY_ATTEMPTS="2")
    del env["PATH"], env["PYTHONPATH"]
    return Settings.load(environ=env, dotenv_path=None, secrets_dir=home / "none")


def rows(database_url: str, schema: str, table: str) -> tuple[int, int]:
    """(rows, distinct ids) of a raw table."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            sql.SQL("SELECT count(*), count(DISTINCT (realm_id, id)) FROM {}").format(
                sql.Identifier(schema, table)
            )
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def invoices_in_2025(sandbox: Sandbox) -> int:
    return sum(1 for r in sandbox.records("Invoice") if r["TxnDate"].startswith("2025-"))


def test_token_check_imports_the_token_and_names_no_secret(
    sandbox: Sandbox, settings: Settings
) -> None:
    log = Lines()
    result = check_token({"logger": log}, settings=settings)
    assert result["realm_id"] == sandbox.info.realm_id
    assert "imported now" in log.text()
    again = Lines()
    check_token({"logger": again}, settings=settings)
    assert "from the token store" in again.text()
    everything = log.text() + again.text() + repr(result)
    for secret in (sandbox.info.client_secret, sandbox.info.refresh_token):
        assert secret not in everything


def test_token_check_turns_invalid_grant_into_what_to_do_in_mage(
    sandbox: Sandbox, settings: Settings
) -> None:
    check_token({}, settings=settings)
    sandbox.revoke_tokens()
    with pytest.raises(BlockFailed, match=r"invalid_grant.*Mage secret qb_refresh_token") as err:
        check_token({}, settings=settings)
    assert err.value.exit_code == 3


def test_pipelines_copy_every_record_and_a_second_run_only_confirms(
    sandbox: Sandbox, settings: Settings, database_url: str, schema: str
) -> None:
    expected = {
        "Customer": len(sandbox.records("Customer")),
        "Item": len(sandbox.records("Item")),
        "Invoice": invoices_in_2025(sandbox),
    }
    variables = {"Customer": {}, "Item": {"page_size": 7}, "Invoice": YEAR_2025}
    for entity, want in expected.items():
        log = Lines()
        figures = ingest(entity, variables[entity] | {"logger": log}, settings=settings)
        assert sum(f["rows_extracted"] for f in figures) == want
        assert all(f["status"] == "done" and f["matched"] for f in figures)
        assert "in database" in log.text()
        assert "retries 0" in log.text()
        checks = reconcile(entity, variables[entity] | {"logger": log}, settings=settings)
        assert sum(c["rows_in_table"] for c in checks) == want
        assert rows(database_url, schema, f"qb_{entity.lower()}") == (want, want)
    assert len(figures) == 13  # 2025 in 30-day chunks: 12 full ones and 5 days

    log = Lines()
    again = ingest("Invoice", YEAR_2025 | {"force": "true", "logger": log}, settings=settings)
    assert sum(f["rows_unchanged"] for f in again) == expected["Invoice"]
    assert sum(f["rows_inserted"] + f["rows_updated"] for f in again) == 0
    assert rows(database_url, schema, "qb_invoice") == (expected["Invoice"],) * 2


def test_a_resumed_run_skips_done_chunks(settings: Settings) -> None:
    ingest("Invoice", YEAR_2025, settings=settings)
    log = Lines()
    figures = ingest("Invoice", YEAR_2025 | {"logger": log}, settings=settings)
    assert "13 chunks, 13 already done (skipped)" in log.text()
    assert len(figures) == 13


def test_export_fails_when_the_table_lost_a_row(
    settings: Settings, database_url: str, schema: str
) -> None:
    ingest("Invoice", YEAR_2025, settings=settings)
    with psycopg.connect(database_url) as conn:
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE id = (SELECT min(id) FROM {})").format(
                sql.Identifier(schema, "qb_invoice"), sql.Identifier(schema, "qb_invoice")
            )
        )
    log = Lines()
    with pytest.raises(BlockFailed, match="1 of 13 windows do not reconcile") as err:
        reconcile("Invoice", YEAR_2025 | {"logger": log}, settings=settings)
    assert err.value.exit_code == 1
    assert "MISMATCH" in log.text("error")


def test_ingest_fails_and_says_how_to_resume_when_the_api_fails(
    sandbox: Sandbox, settings: Settings
) -> None:
    check_token({}, settings=settings)  # a valid access token first: only queries fail
    sandbox.set_faults("500=1.0")
    log = Lines()
    # Planning's batch counts fail first: no window is paged blind.
    with pytest.raises(
        BlockFailed, match=r"Invoice: not planned: .*Run the pipeline again to resume"
    ):
        ingest("Invoice", YEAR_2025 | {"logger": log}, settings=settings)
    assert "failed" in log.text("error")
    assert "retry in" in log.text("warning")


def test_bad_variables_fail_before_any_request(sandbox: Sandbox, settings: Settings) -> None:
    before = sandbox.counters()
    with pytest.raises(BlockFailed, match=r"end_date 2025-01-01 must be after start_date") as err:
        ingest("Invoice", {"start_date": "2025-02-01", "end_date": "2025-01-01"}, settings=settings)
    assert err.value.exit_code == 2
    assert sandbox.counters() == before
