"""Fixtures of the money tests: a company with every entity copied once per module, the
CLI pointed at it, and the raw tables tampered with inside one test (and put back)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from tests.helpers import NO_LIMITS, Cli, sandbox_env, views_schema_of

from qbo_backfill.run.reportplan import month_of
from qbo_backfill.sandbox import Sandbox, SandboxConfig

TODAY = datetime.now(UTC).date()
NEXT_MONTH = month_of(TODAY)[1] + timedelta(days=1)


@dataclass
class Company:
    """A sandbox company copied whole into `schema`, and the CLI over both."""

    sandbox: Sandbox
    cli: Cli
    url: str
    schema: str

    def verify(self, *args: str) -> Any:
        return self.cli.run("verify", "--money", *args)

    def report_calls(self) -> int:
        counters = self.sandbox.counters()["realms"]
        return sum(int(c["requests"].get("reports", 0)) for c in counters.values())

    def calls(self) -> int:
        counters = self.sandbox.counters()["realms"]
        return sum(int(v) for c in counters.values() for v in c["requests"].values())

    def execute(self, text: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """A statement over the raw schema (`{schema}` in the text is its quoted name)."""
        query = sql.SQL(text).format(schema=sql.Identifier(self.schema))
        with psycopg.connect(self.url, autocommit=True) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []


@contextmanager
def copied_company(url: str, home: Path, cwd: Path, years: int, **fields: Any) -> Iterator[Company]:
    """Every entity of a company active from `years` Januaries ago to this month, copied."""
    start = date(TODAY.year - years + 1, 1, 1)
    config = {
        "customers": 20,
        "items": 8,
        "invoices": 40 * years,
        "invoice_start": start,
        "invoice_end": NEXT_MONTH,
        **NO_LIMITS,
        **fields,
    }
    sb = Sandbox(SandboxConfig(**config)).start()
    schema = f"t_{uuid.uuid4().hex[:10]}"
    cli = Cli(sandbox_env(sb, url, schema, home), cwd)
    try:
        done = cli.run("backfill", "all")
        assert done.returncode == 0, done.stdout + done.stderr
        yield Company(sb, cli, url, schema)
    finally:
        sb.stop()
        with psycopg.connect(url, autocommit=True) as conn:
            for name in (schema, views_schema_of(schema)):
                conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name))
                )


@pytest.fixture(scope="module")
def company(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Company]:
    """Five years of a company with every entity, copied once for the module."""
    home = tmp_path_factory.mktemp("money-home")
    cwd = tmp_path_factory.mktemp("money-cwd")
    with copied_company(database_url, home, cwd, 5, other_records=40) as copied:
        yield copied
