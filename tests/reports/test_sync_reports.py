"""Reports kept up to date: `sync` asks again for the open months; a closed month whose
report changed at the source is recorded (when, and the difference in totals) and shown
by `report`."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import psycopg
import pytest
from psycopg import sql
from tests.helpers import Cli
from tests.reports.conftest import report_calls, run_figures, stored

from qbo_backfill.load.reportstore import report_totals
from qbo_backfill.run.reportplan import months_between
from qbo_backfill.run.reports import ReportsOptions, copy_reports
from qbo_backfill.sandbox import Sandbox
from qbo_backfill.settings import Settings

pytestmark = [pytest.mark.db]


def test_a_changed_closed_month_is_recorded_and_shown(
    cli: Cli, sandbox: Sandbox, settings: Settings, database_url: str, schema: str
) -> None:
    first = cli.run("reports", "ProfitAndLoss", "--start", "2025-06-01")
    assert first.returncode == 0, first.stderr
    before = stored(database_url, schema, "ProfitAndLoss")
    invoice = next(i for i in sandbox.records("Invoice") if i["TxnDate"].startswith("2025-10"))
    sandbox.void("Invoice", invoice["Id"])
    today = datetime.now(UTC).date()
    back = len(months_between(date(2025, 10, 1), today))
    sandbox.reset_counters()
    result = asyncio.run(copy_reports(settings, ReportsOptions((), refresh=True, open_months=back)))
    assert [(f.report, f.status, f.changes_found) for f in result.figures] == [
        ("ProfitAndLoss", "done", 1)
    ]
    assert report_calls(sandbox) == result.calls == back
    with psycopg.connect(database_url) as conn:
        changes = conn.execute(
            sql.SQL("SELECT period_start, period_end, difference, totals_before FROM {}").format(
                sql.Identifier(schema, "qbo_backfill_report_changes")
            )
        ).fetchall()
    assert [(c[0], c[1]) for c in changes] == [(date(2025, 10, 1), date(2025, 10, 31))]
    october = next(r for r in before if r["period_start"] == date(2025, 10, 1))
    old = report_totals(october["payload"])
    new_row = stored(database_url, schema, "ProfitAndLoss")
    new = report_totals(
        next(r for r in new_row if r["period_start"] == date(2025, 10, 1))["payload"]
    )
    assert {k: Decimal(v) for k, v in changes[0][2].items()} == {
        k: new.get(k, Decimal(0)) - old.get(k, Decimal(0))
        for k in {*old, *new}
        if new.get(k) != old.get(k)
    }
    assert Decimal(changes[0][2]["Net Income"]) < 0  # a voided invoice takes its income away
    assert {k: Decimal(v) for k, v in changes[0][3].items()} == old
    # The stored report is the newest as served; the other months did not move.
    after = {
        (r["period_start"], r["period_end"]): r
        for r in stored(database_url, schema, "ProfitAndLoss")
    }
    # Every month of the window is asked for and stored, the empty ones included.
    assert {(r["period_start"], r["period_end"]) for r in before} <= set(after)
    unchanged = [r for r in before if r["period_start"] != date(2025, 10, 1)]
    assert all(
        after[(r["period_start"], r["period_end"])]["payload"]["Rows"] == r["payload"]["Rows"]
        for r in unchanged
    )

    shown = cli.run("report", "--format", "json")
    evidence = json.loads(shown.stdout)
    assert [(r["report_name"], r["changes"]) for r in evidence["reports"]] == [("ProfitAndLoss", 1)]
    assert evidence["report_changes"][0]["period_start"] == "2025-10-01"
    page = cli.run("report", "--format", "html")
    assert "Copied reports" in page.stdout
    assert "Closed periods that changed" in page.stdout
    table = cli.run("report")
    assert "copied reports" in table.stdout
    assert "ProfitAndLoss Accrual 2025-10-01..2025-10-31 changed after it closed" in table.stdout


def test_sync_asks_again_for_the_open_months_only(
    cli: Cli, sandbox: Sandbox, database_url: str, schema: str
) -> None:
    """Two open months by default: two calls per copied report and basis, nothing else;
    a company whose reports alone were copied syncs them."""
    copied = cli.run("reports", "ProfitAndLoss", "--basis", "both", "--start", "2025-11-01")
    assert copied.returncode == 0, copied.stderr
    sandbox.reset_counters()
    synced = cli.run("sync")
    assert synced.returncode == 0, synced.stderr
    assert "API calls this sync: 4" in synced.stdout
    assert report_calls(sandbox) == 4
    figures = [f for f in run_figures(database_url, schema) if f["command"] == "sync"]
    assert sorted((f["accounting_method"], f["calls"], f["changes_found"]) for f in figures) == [
        ("Accrual", 2, 0),
        ("Cash", 2, 0),
    ]
    never = cli.run("sync", "Invoice")
    assert never.returncode == 2
    assert "never copied" in never.stderr
