"""`verify` reconciles against the source and exits 1 on a mismatch; `demo` is idempotent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from psycopg import sql
from tests.helpers import INTUIT_LIMITS, count, run_cli, sandbox_env, table_rows, views_schema_of

from qbo_backfill.sandbox import Sandbox

pytestmark = pytest.mark.db


@pytest.fixture
def sandbox_config() -> dict[str, Any]:
    """Intuit's limits but the per-minute one."""
    return {"customers": 20, "items": 10, "invoices": 200, **INTUIT_LIMITS, "rate_limit_per_min": 0}


def test_verify_passes_after_a_backfill_and_fails_after_a_source_change(
    sandbox: Sandbox, database_url: str, schema: str, home: Path, tmp_path: Path
) -> None:
    env = sandbox_env(sandbox, database_url, schema, home)
    window = ["--start", "2024-01-01", "--end", "2026-01-01"]
    loaded = run_cli(
        ["backfill", "Invoice", "Customer", *window, "--chunk-days", "60"], env, tmp_path
    )
    assert loaded.returncode == 0, loaded.stderr
    ok = run_cli(["verify", "Invoice", "Customer", *window, "--chunk-days", "90"], env, tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "0 mismatched" in ok.stdout
    victim = sandbox.records("Invoice")[0]["Id"]
    sandbox.delete("Invoice", victim)
    bad = run_cli(["verify", "Invoice", *window, "--chunk-days", "90"], env, tmp_path)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "1 mismatched" in bad.stdout
    recorded = count(
        database_url,
        sql.SQL("SELECT count(*) FROM {} WHERE NOT matched").format(
            sql.Identifier(schema, "qbo_backfill_verifications")
        ),
    )
    assert recorded == 1


@pytest.mark.repeats_at_scale
def test_demo_twice_leaves_exactly_the_same_rows(
    database_url: str, schema: str, home: Path, tmp_path: Path
) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "QBO_DATABASE_URL": database_url,
        "QBO_SCHEMA": schema,
        "QBO_VIEWS_SCHEMA": views_schema_of(schema),
        "QBO_HOME": str(home),
    }
    first = run_cli(["demo", "--invoices", "300", "--rate-limit-per-min", "6000"], env, tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    tables = {
        t: table_rows(database_url, schema, t) for t in ("qb_customer", "qb_item", "qb_invoice")
    }
    assert all(tables.values())
    second = run_cli(["demo", "--invoices", "300", "--rate-limit-per-min", "6000"], env, tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    for table, rows in tables.items():
        assert table_rows(database_url, schema, table) == rows
    written = count(
        database_url,
        sql.SQL(
            "SELECT coalesce(sum(rows_inserted + rows_updated), 0) FROM {} c "
            "JOIN {} r USING (run_id) WHERE r.run_id = (SELECT max(run_id) FROM {})"
        ).format(
            *(
                sql.Identifier(schema, t)
                for t in ("qbo_backfill_chunks", "qbo_backfill_runs", "qbo_backfill_runs")
            )
        ),
    )
    assert written == 0
    assert "Invoice: done" in second.stdout
