"""`reports` SIGKILLed midway, at a few points of its progress (after some periods are
stored, in both bases), resumes to a copy with nothing lost or doubled: the periods tile
the range once, each stored whole and as the sandbox serves it, its cells once."""

from __future__ import annotations

import signal
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from tests.helpers import MakeSandbox, sandbox_env, settings_for
from tests.reliability.harness import start_cli
from tests.reports.conftest import served, stored

from qbo_backfill.load.reportflat import flatten_report
from qbo_backfill.load.reportstore import comparable
from qbo_backfill.run.reportplan import months_between, months_with_data

pytestmark = [pytest.mark.db, pytest.mark.repeats_at_scale]

RANGE = ["--start", "2024-01-01", "--end", "2026-01-01", "--basis", "both"]
# A P&L of one column a day, capped at 800 cells: two years in about 30 pieces per basis.
DAYS = ["reports", "ProfitAndLoss", "--param", "summarize_column_by=Days", *RANGE]
# The default path: a month-summarized answer then each month; a ledger split where cut.
DEFAULT = ["reports", "ProfitAndLoss", "GeneralLedger", *RANGE]
MONTHS = months_between(date(2024, 1, 1), date(2025, 12, 31))


def _tiles(rows: list[dict[str, Any]], first: date, last: date) -> None:
    """The periods cover [first, last] once: no gap, no overlap."""
    cursor = first
    for row in sorted(rows, key=lambda r: r["period_start"]):
        assert row["period_start"] == cursor, (row["report_name"], row["period_start"], cursor)
        cursor = row["period_end"] + timedelta(days=1)
    assert cursor == last + timedelta(days=1)


def _stored_count(database_url: str, schema: str) -> int:
    with psycopg.connect(database_url) as conn:
        found = conn.execute("SELECT to_regclass(%s)", (f'"{schema}"."qb_report"',)).fetchone()
        if not found or found[0] is None:
            return 0
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, "qb_report"))
        ).fetchone()
        return int(row[0]) if row else 0


@pytest.mark.parametrize(("args", "cap"), [(DAYS, 800), (DEFAULT, 1500)], ids=["days", "default"])
def test_killed_reports_resume_with_nothing_lost_or_doubled(
    make_sandbox: MakeSandbox,
    database_url: str,
    schema: str,
    home: Path,
    tmp_path: Path,
    args: list[str],
    cap: int,
) -> None:
    # Each answer takes 20 ms, so a kill lands between, or in the middle of, requests.
    sb = make_sandbox(customers=30, items=10, invoices=240, report_cell_cap=cap, latency_ms=20)
    env = sandbox_env(sb, database_url, schema, home)
    kills = 0
    for stored_before_kill in (1, 8, 20, 35):
        process = start_cli(args, env, tmp_path)
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            if _stored_count(database_url, schema) >= stored_before_kill:
                process.send_signal(signal.SIGKILL)
                kills += 1
                break
            time.sleep(0.01)
        process.communicate(timeout=30)
    assert kills >= 3
    final = start_cli(args, env, tmp_path)
    _out, err = final.communicate(timeout=120)
    assert final.returncode == 0, err

    rows = stored(database_url, schema)
    for basis in ("Accrual", "Cash"):
        series = [r for r in rows if r["accounting_method"] == basis]
        if args is DAYS:
            _tiles(series, date(2024, 1, 1), date(2025, 12, 31))
            continue
        _tiles(
            [r for r in series if r["report_name"] == "GeneralLedger"],
            date(2024, 1, 1),
            date(2025, 12, 31),
        )
        pnl = [r for r in series if r["report_name"] == "ProfitAndLoss"]
        probes = [r for r in pnl if "summarize_column_by" in r["params"]]
        monthly = [(r["period_start"], r["period_end"]) for r in pnl if r not in probes]
        assert len(monthly) == len(set(monthly))
        busy: set[tuple[date, date]] = set()
        for probe in probes:
            busy |= months_with_data(probe["payload"], MONTHS)
        assert set(monthly) == busy
    assert all("Unable to display" not in str(r["payload"]) for r in rows)
    settings = settings_for(sb, database_url, schema, home)
    assert [comparable(r["payload"]) for r in rows] == served(
        settings, [(r["report_name"], r["params"]) for r in rows]
    )
    with psycopg.connect(database_url) as conn:
        cells = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, "qb_report_row"))
        ).fetchone()
    assert cells is not None
    assert cells[0] == sum(len(flatten_report(r["payload"])) for r in rows)
