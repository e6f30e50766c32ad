"""Helpers for the engine's integration tests: settings and CLI runs against the sandbox."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from qbo_backfill.sandbox import Sandbox
from qbo_backfill.settings import Settings

QBO = [sys.executable, "-m", "qbo_backfill"]


def sandbox_env(
    sb: Sandbox, database_url: str, schema: str, home: Path, **extra: str
) -> dict[str, str]:
    """Environment variables that point the CLI at the sandbox and the test's schema."""
    info = sb.info
    # The CLI subprocess imports the same source as the tests (PYTHONPATH, when set).
    source = {"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}
    env = source | {
        "PATH": os.environ.get("PATH", ""),
        "QBO_CLIENT_ID": info.client_id,
        "QBO_CLIENT_SECRET": info.client_secret,
        "QBO_REALM_ID": info.realm_id,
        "QBO_REFRESH_TOKEN": info.refresh_token,
        "QBO_API_BASE_URL": info.base_url,
        "QBO_TOKEN_URL": info.token_url,
        "QBO_DATABASE_URL": database_url,
        "QBO_SCHEMA": schema,
        "QBO_HOME": str(home),
        "QBO_BACKOFF_SECONDS": "0.01",
        "QBO_THROTTLE_WAIT_SECONDS": "0.5",
        "QBO_REQUESTS_PER_MINUTE": "6000",
    }
    return env | extra


def settings_for(sb: Sandbox, database_url: str, schema: str, home: Path, **extra: Any) -> Settings:
    env = sandbox_env(sb, database_url, schema, home)
    env.pop("PATH")
    return Settings.load(extra, environ=env, dotenv_path=None)


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*QBO, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=240, check=False
    )


def table_rows(database_url: str, schema: str, table: str) -> dict[int, dict[str, Any]]:
    """id -> payload of every row in a raw table."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            sql.SQL("SELECT id, payload FROM {}").format(sql.Identifier(schema, table))
        ).fetchall()
    return {row[0]: row[1] for row in rows}


def sandbox_rows(sb: Sandbox, entity: str) -> dict[int, dict[str, Any]]:
    return {int(record["Id"]): record for record in sb.records(entity)}


def count(database_url: str, query: sql.Composable, params: tuple = ()) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(query, params).fetchone()
    return int(row[0]) if row else 0


def tables_in(database_url: str, schema: str) -> list[str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
        ).fetchall()
    return sorted(r[0] for r in rows)
