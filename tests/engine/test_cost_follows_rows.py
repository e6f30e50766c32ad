"""Calls follow the rows, not the range: the plainest commands over wide ranges, counted at
the sandbox (real HTTP, real PostgreSQL), with the copy exact and the ledger's windows
tiling the range asked for."""

from __future__ import annotations

import itertools
import json
import subprocess
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from tests.helpers import (
    QBO_MODULE,
    MakeSandbox,
    run_cli,
    sandbox_env,
    sandbox_rows,
    table_rows,
)

from qbo_backfill.sandbox import Sandbox, SandboxConfig

pytestmark = [pytest.mark.db, pytest.mark.repeats_at_scale]

INVOICES = 3000  # spread over 2024 and 2025 (the sandbox's default years)


@pytest.fixture
def sandbox_config() -> dict[str, Any]:
    return {"customers": 20, "items": 10, "invoices": INVOICES}


@pytest.fixture
def env(sandbox: Sandbox, database_url: str, schema: str, home: Path) -> dict[str, str]:
    sandbox.reset_counters()
    return sandbox_env(sandbox, database_url, schema, home)


def calls(sb: Sandbox) -> dict[str, int]:
    """The sandbox's data requests by endpoint since the last reset, and their total."""
    requests: dict[str, int] = sb.counters()["realms"][sb.info.realm_id]["requests"]
    return requests | {"total": sum(requests.values())}


def chunks(database_url: str, schema: str) -> list[dict[str, Any]]:
    with psycopg.connect(database_url) as conn:
        cursor = conn.cursor(row_factory=psycopg.rows.dict_row)
        return cursor.execute(
            sql.SQL(
                "SELECT chunk_id, window_start, window_end, status, planned_count, pages, "
                "api_calls, attempts, finished_at FROM {} ORDER BY window_start"
            ).format(sql.Identifier(schema, "qbo_backfill_chunks"))
        ).fetchall()


def assert_tiles(rows: list[dict[str, Any]], start: date, end: date) -> None:
    assert rows[0]["window_start"] == start
    assert rows[-1]["window_end"] == end
    assert all(a["window_end"] == b["window_start"] for a, b in itertools.pairwise(rows))


def report_ok(env: dict[str, str], cwd: Path) -> None:
    """The run's report: every check passes, 'windows cover the range' among them."""
    shown = run_cli(["report", "--last", "--format", "json"], env, cwd)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    body = json.loads(shown.stdout)
    failed = [c for run in body["runs"] for c in run["checks"] if c["status"] == "fail"]
    assert failed == []
    names = {c["check"] for run in body["runs"] for c in run["checks"]}
    assert "windows cover the range" in names


def plain_backfill(
    sb: Sandbox, env: dict[str, str], database_url: str, schema: str, cwd: Path
) -> dict[str, int]:
    """`backfill Invoice` with no window options (from 2000-01-01 to tomorrow, in the
    default sized windows): the copy must be exact; the calls it cost."""
    done = run_cli(["backfill", "Invoice"], env, cwd)
    assert done.returncode == 0, done.stdout + done.stderr
    assert table_rows(database_url, schema, "qb_invoice") == sandbox_rows(sb, "Invoice")
    return calls(sb)


def test_the_plainest_backfill_costs_calls_by_rows_and_copies_exactly(
    sandbox: Sandbox, env: dict[str, str], database_url: str, schema: str, tmp_path: Path
) -> None:
    spent = plain_backfill(sandbox, env, database_url, schema, tmp_path)
    assert spent["total"] <= 1.5 * INVOICES / 1000 + 10, spent
    assert spent["batch"] <= 2
    tomorrow = date.today() + timedelta(days=1)
    assert_tiles(chunks(database_url, schema), date(2000, 1, 1), tomorrow)
    report_ok(env, tmp_path)


@pytest.mark.parametrize("chunk_days", ["auto", "7"])
def test_an_empty_decade_costs_a_call(
    chunk_days: str,
    sandbox: Sandbox,
    env: dict[str, str],
    database_url: str,
    schema: str,
    tmp_path: Path,
) -> None:
    window = ["--start", "1990-01-01", "--end", "2000-01-01", "--chunk-days", chunk_days]
    done = run_cli(["backfill", "Invoice", *window], env, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    spent = calls(sandbox)
    assert (spent["batch"], spent["total"]) == (1, 1)
    [chunk] = chunks(database_url, schema)
    assert (chunk["status"], chunk["planned_count"], chunk["pages"]) == ("done", 0, 0)
    assert_tiles([chunk], date(1990, 1, 1), date(2000, 1, 1))
    report_ok(env, tmp_path)


@pytest.mark.parametrize("invoices", [40, 1000])  # 1000: a full page, the default size
def test_a_range_that_fits_one_page_costs_one_call(
    invoices: int,
    make_sandbox: MakeSandbox,
    database_url: str,
    schema: str,
    home: Path,
    tmp_path: Path,
) -> None:
    # The planning batch call carries the range's first page next to its counts: when the
    # counts say the range fits that page, the page is the copy, and nothing else is asked.
    sandbox = make_sandbox(customers=5, items=3, invoices=invoices)
    env = sandbox_env(sandbox, database_url, schema, home)
    spent = plain_backfill(sandbox, env, database_url, schema, tmp_path)
    assert (spent["batch"], spent["total"]) == (1, 1), spent
    [chunk] = chunks(database_url, schema)
    assert (chunk["status"], chunk["planned_count"], chunk["pages"]) == ("done", invoices, 1)
    assert chunk["api_calls"] == 0  # the call is planning's
    report_ok(env, tmp_path)


def test_a_window_of_a_few_pages_reuses_the_first_page_planning_read(
    make_sandbox: MakeSandbox, database_url: str, schema: str, home: Path, tmp_path: Path
) -> None:
    # 120 invoices in pages of 50: planning's batch call reads page 1 next to its counts
    # and plans one window; the chunk asks only for pages 2 and 3, then counts once.
    sandbox = make_sandbox(customers=5, items=3, invoices=120)
    env = sandbox_env(sandbox, database_url, schema, home)
    done = run_cli(["backfill", "Invoice", "--page-size", "50"], env, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert table_rows(database_url, schema, "qb_invoice") == sandbox_rows(sandbox, "Invoice")
    spent = calls(sandbox)
    assert (spent["batch"], spent["total"]) == (1, 4), spent
    [chunk] = chunks(database_url, schema)
    assert (chunk["status"], chunk["planned_count"], chunk["pages"]) == ("done", 120, 3)
    assert chunk["api_calls"] == 3
    report_ok(env, tmp_path)


def test_fixed_weeks_over_25_years_cost_what_the_2_years_of_rows_cost(
    sandbox: Sandbox, env: dict[str, str], database_url: str, schema: str, tmp_path: Path
) -> None:
    # 2023-12-28 is a whole number of weeks after 2001-01-04: the same weekly grid.
    narrow = ["--start", "2023-12-28", "--end", "2026-01-08", "--chunk-days", "7"]
    done = run_cli(["backfill", "Invoice", *narrow, "--page-size", "100"], env, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    two_years = calls(sandbox)
    first_run = chunks(database_url, schema)
    weeks = [c for c in first_run if c["planned_count"]]

    sandbox.reset_counters()
    wide = ["--start", "2001-01-04", "--end", "2026-01-08", "--chunk-days", "7", "--force"]
    done = run_cli(["backfill", "Invoice", *wide, "--page-size", "100"], env, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    spent = calls(sandbox)
    # The 23 empty years add a few batch calls; pages and counts are those of the rows.
    assert spent["query"] + spent["count"] == two_years["query"] + two_years["count"]
    assert spent["batch"] <= two_years["batch"] + 3, (spent, two_years)
    assert spent["query"] <= sum(-(-c["planned_count"] // 100) for c in weeks) + 5
    first_ids = {c["chunk_id"] for c in first_run}
    wide_run = [c for c in chunks(database_url, schema) if c["chunk_id"] not in first_ids]
    assert_tiles(wide_run, date(2001, 1, 4), date(2026, 1, 8))
    with_rows = [c for c in wide_run if c["planned_count"]]
    assert all((c["window_end"] - c["window_start"]).days == 7 for c in with_rows)
    assert [c["window_start"] for c in with_rows] == [c["window_start"] for c in weeks]
    empty = [c for c in wide_run if not c["planned_count"]]
    assert all(c["pages"] == 0 and c["api_calls"] == 0 for c in empty)
    assert table_rows(database_url, schema, "qb_invoice") == sandbox_rows(sandbox, "Invoice")
    report_ok(env, tmp_path)


def test_verify_is_cheap_when_clean_and_names_the_windows_that_differ(
    sandbox: Sandbox, env: dict[str, str], database_url: str, schema: str, tmp_path: Path
) -> None:
    done = run_cli(["backfill", "Invoice"], env, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    sandbox.reset_counters()
    clean = run_cli(["verify", "Invoice"], env, tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "0 mismatched" in clean.stdout
    assert calls(sandbox)["total"] <= 2

    invoices = sandbox.records("Invoice")
    moved, deleted = invoices[10], invoices[500]
    sandbox.update("Invoice", moved["Id"], {"TxnDate": "2025-12-30"})
    sandbox.delete("Invoice", deleted["Id"])
    sandbox.create("Invoice", {"TxnDate": "2003-06-15", "TotalAmt": 1.0})
    sandbox.reset_counters()
    bad = run_cli(["verify", "Invoice"], env, tmp_path)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert calls(sandbox)["total"] <= 12
    named = mismatched(database_url, schema)
    days = {moved["TxnDate"], deleted["TxnDate"], "2025-12-30", "2003-06-15"}
    # Each mismatch narrowed to its day (with `auto`); the moved record differs at both ends.
    expected = {(date.fromisoformat(d), date.fromisoformat(d) + timedelta(days=1)) for d in days}
    assert named == expected

    weekly = run_cli(["verify", "Invoice", "--chunk-days", "7"], env, tmp_path)
    assert weekly.returncode == 1
    assert all((end - start).days <= 7 for start, end in mismatched(database_url, schema))


def mismatched(database_url: str, schema: str) -> set[tuple[date, date]]:
    """Windows of the newest verify that did not match."""
    table = sql.Identifier(schema, "qbo_backfill_verifications")
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            sql.SQL(
                "SELECT window_start, window_end FROM {} WHERE NOT matched AND verified_at = "
                "(SELECT max(verified_at) FROM {})"
            ).format(table, table)
        ).fetchall()
    return {(r[0], r[1]) for r in rows}


def test_a_resume_after_a_crash_skips_the_chunks_already_done(
    database_url: str, schema: str, home: Path, tmp_path: Path
) -> None:
    # Latency keeps the run going long enough to be killed after its first chunks.
    config = SandboxConfig(
        customers=5,
        items=5,
        invoices=INVOICES,
        latency_ms=150,
        rate_limit_per_min=0,
        rate_limit_per_sec=0,
        batch_limit_per_min=0,
    )
    with Sandbox(config) as sb:
        env = sandbox_env(sb, database_url, schema, home)
        args = ["backfill", "Invoice", "--start", "2020-01-01", "--chunk-days", "30"]
        args += ["--page-size", "20"]
        proc = subprocess.Popen([*QBO_MODULE, *args], env=env, cwd=tmp_path)
        try:
            done_before = wait_for_done_chunks(database_url, schema, proc)
        finally:
            proc.kill()
            proc.wait()
        assert done_before, "the run ended before any chunk was done"
        # Chunks may finish between that poll and the kill: the resume starts from these.
        done_at_kill = {
            c["chunk_id"]: c for c in chunks(database_url, schema) if c["status"] == "done"
        }
        sb.reset_counters()
        resumed = run_cli(args, env, tmp_path)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        resume_calls = calls(sb)["total"]
        after = {c["chunk_id"]: c for c in chunks(database_url, schema)}
        assert table_rows(database_url, schema, "qb_invoice") == sandbox_rows(sb, "Invoice")
    assert len(done_at_kill) < len(after), "the kill came after the last chunk"
    assert done_before.keys() <= done_at_kill.keys()
    for chunk_id, before in done_at_kill.items():
        assert after[chunk_id] == before  # not claimed, not paged, not touched
    # The resumed run plans nothing and pages only the chunks that were not done.
    assert resume_calls == sum(c["api_calls"] for i, c in after.items() if i not in done_at_kill)


def wait_for_done_chunks(
    database_url: str, schema: str, proc: subprocess.Popen[bytes]
) -> dict[int, dict[str, Any]]:
    """Chunks done (with rows) once the first ones are, polled while the run goes on."""
    while proc.poll() is None:
        try:
            done = {
                c["chunk_id"]: c
                for c in chunks(database_url, schema)
                if c["status"] == "done" and c["pages"]
            }
        except psycopg.errors.UndefinedTable:
            done = {}
        if len(done) >= 2:
            return done
        time.sleep(0.02)
    return {}
