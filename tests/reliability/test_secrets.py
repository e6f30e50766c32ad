"""Secrets: a full backfill with known secret values, then every output it produced is
searched for them; tokens at rest are encrypted; secret files are 0600; loopback binds."""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql
from tests.helpers import run_cli, stored_secrets
from tests.reliability.harness import ENTITIES, cli_env, record_figures, sandbox_process

from qbo_backfill.auth import login
from qbo_backfill.auth.tokens import TOKEN_TABLE, TokenCipher
from qbo_backfill.sandbox import SandboxConfig
from qbo_backfill.settings import Secret

pytestmark = pytest.mark.db

CLIENT_SECRET = "CliSecret" + "Zq7Wv3Xk9Lm2Np4Rt6Yb8"
REFRESH_TOKEN = "AB11RefreshTok" + "Hs5Jd8Kf2Gl9Qw3Er7"
TOKEN_KEY = "TokenKeyPass" + "Uy6Io1Pa4Sd0Fg"
DB_PASSWORD = "DbPassw0rd" + "Vc2Bn5Mx8Zl1"


@pytest.fixture
def password_url(database_url: str) -> Iterator[tuple[str, str | None]]:
    """A login role with a known password; (url, reason-if-the-password-is-not-checked)."""
    role = f"qbo_sec_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(DB_PASSWORD)
            )
        )
        dbname = conn.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
        conn.execute(
            sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(
                sql.Identifier(dbname), sql.Identifier(role)
            )
        )
    parts = urlsplit(database_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    url = urlunsplit(parts._replace(netloc=f"{role}:{DB_PASSWORD}@{host}"))
    try:
        psycopg.connect(url.replace(DB_PASSWORD, "wrong-password")).close()
        reason: str | None = "this server trusts every login: the password is not checked"
    except psycopg.OperationalError:
        reason = None
    yield url, reason
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP OWNED BY {} CASCADE").format(sql.Identifier(role)))
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def _variants(secret: str) -> list[str]:
    """The secret as text, and as the hex PostgreSQL shows for bytea."""
    return [secret, secret.encode().hex()]


def _dump_schema(url: str, schema: str) -> str:
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
        ).fetchall()
        text = []
        for (table,) in tables:
            rows = conn.execute(
                sql.SQL("SELECT t::text FROM {} t").format(sql.Identifier(schema, table))
            ).fetchall()
            text.extend(row[0] for row in rows)
    return "\n".join(text)


def test_no_secret_reaches_any_output_and_tokens_rest_encrypted(
    password_url: tuple[str, str | None], schema: str, home: Path, tmp_path: Path
) -> None:
    url, reason = password_url
    with sandbox_process(
        invoices=800,
        customers=60,
        items=20,
        client_secret=CLIENT_SECRET,
        refresh_token=REFRESH_TOKEN,
        access_token_ttl=62,
    ) as sandbox:
        env = cli_env(sandbox.info, url, schema, home, QBO_TOKEN_KEY=TOKEN_KEY)
        args = ["backfill", *ENTITIES, "--start=2024-01-01", "--end=2026-01-01", "--chunk-days=60"]
        outputs = []
        for extra in ([], ["--json-logs"], ["--force"]):
            result = run_cli([*args, *extra], env, tmp_path)
            assert result.returncode == 0, result.stderr[-1500:]
            outputs += [result.stdout, result.stderr]
        for command in (
            ["report", "--format", "json"],
            ["report"],
            ["auth", "status"],
            ["db", "url"],
            ["verify", "Invoice", "--start=2024-01-01", "--end=2026-01-01"],
        ):
            result = run_cli(command, env, tmp_path)
            outputs += [result.stdout, result.stderr]
        report_dir = tmp_path / "evidence"
        run_cli(["report", "--out", str(report_dir)], env, tmp_path)
        outputs += [p.read_text(errors="replace") for p in report_dir.glob("*")]
        # Errors: a refused refresh token and an unreachable database, in one line each.
        sandbox.admin("POST", "/tokens/revoke")
        with psycopg.connect(url) as conn:
            conn.execute(
                sql.SQL("UPDATE {} SET access_expires_at = now()").format(
                    sql.Identifier(schema, TOKEN_TABLE)
                )
            )
        failed = run_cli([*args, "--force"], env, tmp_path)
        assert failed.returncode == 3, failed.stderr[-800:]
        outputs += [failed.stdout, failed.stderr]
        role_and_password = urlsplit(url).netloc.rsplit("@", 1)[0]
        bad_db = env | {"QBO_DATABASE_URL": f"postgresql://{role_and_password}@127.0.0.1:1/x"}
        unreachable = run_cli(args, bad_db, tmp_path)
        assert unreachable.returncode != 0
        outputs += [unreachable.stdout, unreachable.stderr]
        dump = _dump_schema(url, schema)
    stored = stored_secrets(url, schema, TokenCipher(Secret(TOKEN_KEY)))
    assert stored, "the token store holds no token"
    secrets = [CLIENT_SECRET, REFRESH_TOKEN, TOKEN_KEY, DB_PASSWORD, *stored]
    everything = "\n".join([*outputs, dump])
    leaks = {
        s[:6] + "...": everything.count(v) for s in secrets for v in _variants(s) if v in everything
    }
    assert leaks == {}, leaks
    # the stored tokens really are tokens the run used: the dump holds only ciphertext
    assert stored
    assert all(len(t) > 20 for t in stored)
    record_figures(
        "secrets",
        {
            "secret_values": len(secrets),
            "outputs_searched": len(outputs) + 1,
            "characters_searched": len(everything),
            "leaks": 0,
            "db_password_note": reason,
        },
    )


def test_local_token_key_file_is_0600(tmp_path: Path) -> None:
    from qbo_backfill.settings import Settings

    home = tmp_path / "home"
    TokenCipher.from_settings(Settings(home=home))
    mode = stat.S_IMODE(os.stat(home / "token.key").st_mode)
    assert mode == 0o600, oct(mode)


def test_sandbox_and_login_callback_bind_loopback_by_default() -> None:
    assert SandboxConfig().host == "127.0.0.1"
    assert login.BIND_ADDRESS == "127.0.0.1"
    redirect = login.RedirectUri.parse(login.DEFAULT_REDIRECT_URI)
    assert urlsplit(redirect.url).hostname in login.LOOPBACK_HOSTS


def test_sandbox_process_listens_on_loopback_only() -> None:
    with sandbox_process(invoices=0, customers=1, items=1) as sandbox:
        assert urlsplit(sandbox.info["base_url"]).hostname == "127.0.0.1"
