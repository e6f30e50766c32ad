"""Injection: hostile schema names are literal identifiers; query values stay in their quotes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg import sql
from tests.helpers import run_cli, views_schema_of
from tests.reliability.harness import cli_env, compare, record_figures, sandbox_process

from qbo_backfill.qbo.query import quote
from qbo_backfill.sandbox.querylang import parse_query

pytestmark = pytest.mark.db

HOSTILE = [
    'x"; DROP TABLE canary.victim; --',
    "Robert'); DROP SCHEMA canary CASCADE; --",
    "with space; and semicolon",
    "ünïcødé 😀 schema",
    'quote"in"middle',
]


@pytest.fixture
def canary(database_url: str) -> Iterator[None]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS canary")
        conn.execute("CREATE TABLE IF NOT EXISTS canary.victim (x int)")
    yield
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS canary CASCADE")
        for name in HOSTILE:
            for dropped in (name, views_schema_of(name)):
                conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(dropped))
                )


def test_hostile_schema_names_are_literal_identifiers(
    canary: None, database_url: str, home: Path, tmp_path: Path
) -> None:
    with sandbox_process(invoices=120, customers=10, items=5) as sandbox:
        for name in HOSTILE:
            env = cli_env(sandbox.info, database_url, name, home)
            result = run_cli(
                [
                    "backfill",
                    "Customer",
                    "Invoice",
                    "--start=2024-01-01",
                    "--end=2026-01-01",
                    "--chunk-days=120",
                ],
                env,
                tmp_path,
            )
            assert result.returncode == 0, (name, result.stderr[-800:])
            for entity in ("Customer", "Invoice"):
                assert compare(sandbox, database_url, name, entity).exact, name
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT to_regclass('canary.victim')").fetchone() != (None,)
        schemas = {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace").fetchall()}
    assert set(HOSTILE) <= schemas
    record_figures("injection-schemas", {"hostile_schema_names": len(HOSTILE)})


@settings(max_examples=300, deadline=None)
@given(value=st.text(max_size=40))
def test_a_quoted_value_stays_one_literal(value: str) -> None:
    # The sandbox's parser reads QBO's grammar: the quoted value must come back whole, as one
    # condition, whatever quotes, backslashes or keywords it holds.
    parsed = parse_query(f"SELECT * FROM Customer WHERE DisplayName = {quote(value)}")
    assert len(parsed.conditions) == 1
    assert parsed.conditions[0].values == (value,)
