"""Fixtures of the report tests: a small sandbox over real HTTP, the CLI pointed at it, and
readers of what was stored and of what the sandbox serves for the same request."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from tests.helpers import Cli, MakeSandbox, sandbox_env, settings_for

from qbo_backfill.load.reportstore import comparable
from qbo_backfill.run.session import open_session
from qbo_backfill.sandbox import Sandbox
from qbo_backfill.settings import Settings


@pytest.fixture
def sandbox(make_sandbox: MakeSandbox) -> Sandbox:
    return make_sandbox(customers=30, items=10, invoices=240, other_records=0)


@pytest.fixture
def cli(sandbox: Sandbox, database_url: str, schema: str, home: Path, tmp_path: Path) -> Cli:
    return Cli(sandbox_env(sandbox, database_url, schema, home), tmp_path)


@pytest.fixture
def settings(sandbox: Sandbox, database_url: str, schema: str, home: Path) -> Settings:
    return settings_for(sandbox, database_url, schema, home)


def stored(database_url: str, schema: str, report: str | None = None) -> list[dict[str, Any]]:
    """Every stored report row, in period order."""
    query = sql.SQL(
        "SELECT report_name, accounting_method, period_start, period_end, params, payload,"
        " request_payload, header_time_utc, run_id FROM {} {} ORDER BY 1, 2, 3, 4"
    ).format(
        sql.Identifier(schema, "qb_report"),
        sql.SQL("WHERE report_name = %s" if report else ""),
    )
    with psycopg.connect(database_url) as conn:
        cursor = conn.execute(query, (report,) if report else ())
        names = [d.name for d in cursor.description or []]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def served(settings: Settings, requests: list[tuple[str, dict[str, str]]]) -> list[dict[str, Any]]:
    """What the sandbox serves now for each (report, params), `Header.Time` left out."""

    async def ask() -> list[dict[str, Any]]:
        async with open_session(settings) as session:
            return [comparable(await session.client.get_report(n, p)) for n, p in requests]

    return asyncio.run(ask())


def report_calls(sb: Sandbox) -> int:
    """Report requests the sandbox answered for its one company since the last reset."""
    counters = sb.counters()["realms"]
    return sum(int(c["requests"].get("reports", 0)) for c in counters.values())


def run_figures(database_url: str, schema: str) -> list[dict[str, Any]]:
    with psycopg.connect(database_url) as conn:
        cursor = conn.execute(
            sql.SQL(
                "SELECT command, report_name, accounting_method, status, calls, periods_stored,"
                " months_empty, truncations_split, dense_split, changes_found FROM {}"
                " ORDER BY started_at_utc, report_name, accounting_method"
            ).format(sql.Identifier(schema, "qbo_backfill_report_runs"))
        )
        names = [d.name for d in cursor.description or []]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
