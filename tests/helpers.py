"""What the tests share: the CLI as a subprocess with an explicit environment that points it
at a sandbox, settings for the library called in-process, and readers of the tables."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from qbo_backfill.auth.tokens import TokenCipher, TokenStore
from qbo_backfill.sandbox import Sandbox, SandboxInfo, client_env
from qbo_backfill.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
# `python -m qbo_backfill`, and the installed `qbo-backfill` script (what a user runs).
QBO_MODULE = [sys.executable, "-m", "qbo_backfill"]
QBO = str(Path(sys.executable).with_name("qbo-backfill"))
TOKEN_KEY = "operator-tests-token-key-0123456789"

AssertNoSecrets = Callable[[Iterable[str], Iterable[str]], None]
MakeSandbox = Callable[..., Sandbox]

# The sandbox's limits off (each limit 0): tests spend no time waiting unless they ask.
NO_LIMITS: dict[str, Any] = {
    "rate_limit_per_min": 0,
    "rate_limit_per_sec": 0,
    "max_in_flight": 0,
    "batch_limit_per_min": 0,
}
# Intuit's limits, as the sandbox enforces them by default.
INTUIT_LIMITS: dict[str, Any] = {
    "rate_limit_per_min": 500,
    "rate_limit_per_sec": 10,
    "max_in_flight": 10,
    "batch_limit_per_min": 40,
}
# A small company: tests that need other sizes say so.
SMALL: dict[str, Any] = {"customers": 40, "items": 12, "invoices": 300}
# The CLI's options for 2025 in 30-day chunks, and how many chunks that is (12, and 5 days).
YEAR_2025_ARGS = ("--start", "2025-01-01", "--end", "2026-01-01", "--chunk-days", "30")
YEAR_2025_CHUNKS = 13


def views_schema_of(schema: str) -> str:
    """The typed views' schema of a test whose raw schema is `schema` (backfill and sync
    keep views there): never the fixed `quickbooks` that tests sharing a database would
    fight over; the `schema` fixture drops it too."""
    return "v_" + hashlib.sha256(schema.encode("utf-8")).hexdigest()[:12]


def sandbox_env(
    sandbox: Sandbox | SandboxInfo | Mapping[str, Any],
    database_url: str,
    schema: str,
    home: Path,
    **extra: str,
) -> dict[str, str]:
    """A complete, explicit environment that points the CLI at the sandbox and the test's
    schema, running this checkout's source: nothing leaks in from the caller's."""
    env = client_env(_info(sandbox)) | {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(SRC),
        "QBO_DATABASE_URL": database_url,
        "QBO_SCHEMA": schema,
        "QBO_VIEWS_SCHEMA": views_schema_of(schema),
        "QBO_HOME": str(home),
        "QBO_BACKOFF_SECONDS": "0.01",
        "QBO_THROTTLE_WAIT_SECONDS": "0.5",
        "QBO_REQUESTS_PER_MINUTE": "6000",
    }
    return env | extra


def _info(sandbox: Sandbox | SandboxInfo | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(sandbox, Sandbox):
        return asdict(sandbox.info)
    if is_dataclass(sandbox) and not isinstance(sandbox, type):
        return asdict(sandbox)
    return sandbox


def operator_env(sb: Sandbox, database_url: str, schema: str, home: Path) -> dict[str, str]:
    """`sandbox_env` plus the authorize page and a fixed token key (so a test can decrypt
    the store and look for its tokens in the output)."""
    return sandbox_env(
        sb,
        database_url,
        schema,
        home,
        QBO_AUTHORIZE_URL=sb.info.authorize_url,
        QBO_TOKEN_KEY=TOKEN_KEY,
        QBO_THROTTLE_WAIT_SECONDS="0.2",
    )


def settings_for(
    sb: Sandbox | SandboxInfo | Mapping[str, Any],
    database_url: str,
    schema: str,
    home: Path,
    **extra: Any,
) -> Settings:
    """The settings `sandbox_env` gives, for the library called in this process."""
    env = sandbox_env(sb, database_url, schema, home)
    del env["PATH"], env["PYTHONPATH"]
    return Settings.load(extra, environ=env, dotenv_path=None)


def run_cli(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 280
) -> subprocess.CompletedProcess[str]:
    """`python -m qbo_backfill ARGS` with exactly `env`."""
    return subprocess.run(
        [*QBO_MODULE, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class Cli:
    """The installed `qbo-backfill` command, run with exactly the environment given."""

    env: dict[str, str]
    cwd: Path

    def run(
        self, *args: str, stdin: str | None = None, timeout: float = 240, **extra_env: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [QBO, *args],
            env=self.env | extra_env,
            cwd=self.cwd,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self, *args: str, **extra_env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [QBO, *args],
            env=self.env | extra_env,
            cwd=self.cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def settings(self) -> Settings:
        return Settings.load({}, environ=self.env, dotenv_path=None)

    def cipher(self) -> TokenCipher:
        return TokenCipher.from_settings(self.settings())

    def token_store(self) -> TokenStore:
        """The token store this environment's database and schema hold."""
        return TokenStore(self.env["QBO_DATABASE_URL"], self.env["QBO_SCHEMA"], self.cipher())

    def stored_secrets(self) -> list[str]:
        """Every token that store holds, decrypted: none may ever appear in output."""
        return stored_secrets(self.env["QBO_DATABASE_URL"], self.env["QBO_SCHEMA"], self.cipher())


# ---- tables ------------------------------------------------------------------------------


def table_rows(database_url: str, schema: str, table: str) -> dict[int, dict[str, Any]]:
    """id -> payload of every row in a raw table."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            sql.SQL("SELECT id, payload FROM {}").format(sql.Identifier(schema, table))
        ).fetchall()
    return {int(row[0]): row[1] for row in rows}


def sandbox_rows(sb: Sandbox, entity: str) -> dict[int, dict[str, Any]]:
    """id -> record, inactive included, as the sandbox holds them."""
    return {int(record["Id"]): record for record in sb.records(entity)}


def count(database_url: str, query: sql.Composable, params: tuple[Any, ...] = ()) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(query, params).fetchone()
    return int(row[0]) if row else 0


def tables_in(database_url: str, schema: str) -> list[str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
        ).fetchall()
    return sorted(r[0] for r in rows)


def stored_secrets(database_url: str, schema: str, cipher: TokenCipher) -> list[str]:
    """Every token the store holds, decrypted: none may ever appear in output."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            sql.SQL("SELECT refresh_token_enc, access_token_enc FROM {}").format(
                sql.Identifier(schema, "qbo_backfill_tokens")
            )
        ).fetchall()
    return [cipher.decrypt(blob).reveal() for row in rows for blob in row if blob is not None]
