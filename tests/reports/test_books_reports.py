"""The default reports over the sandbox's real books (both bases), as served, their calls
counted by the sandbox; ledgers cut short or answered 504 split until whole; an empty
decade for a handful of calls; every stored report adding up."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from tests.helpers import Cli, MakeSandbox, sandbox_env, settings_for
from tests.reports.conftest import report_calls, run_figures, served, stored

from qbo_backfill.load.reportflat import flatten_report
from qbo_backfill.load.reportstore import comparable
from qbo_backfill.load.reportview import sections_not_adding_up
from qbo_backfill.qbo.reports import DEFAULT_REPORTS
from qbo_backfill.run.reportplan import month_of, months_between
from qbo_backfill.sandbox import Sandbox

pytestmark = [pytest.mark.db]

TODAY = datetime.now(UTC).date()
NEXT_MONTH = month_of(TODAY)[1] + timedelta(days=1)


def _company(make_sandbox: MakeSandbox, years: int, **fields: Any) -> Sandbox:
    """Activity in every month from `years` Januaries ago to the current month."""
    start = date(TODAY.year - years + 1, 1, 1)
    return make_sandbox(
        customers=20,
        items=8,
        invoices=40 * years,
        invoice_start=start,
        invoice_end=NEXT_MONTH,
        **fields,
    )


def _cli(sb: Sandbox, database_url: str, schema: str, home: Path, tmp_path: Path) -> Cli:
    return Cli(sandbox_env(sb, database_url, schema, home), tmp_path)


def _as_served(sb: Sandbox, database_url: str, schema: str, home: Path) -> list[dict[str, Any]]:
    rows = stored(database_url, schema)
    settings = settings_for(sb, database_url, schema, home)
    now = served(settings, [(r["report_name"], r["params"]) for r in rows])
    assert [comparable(r["payload"]) for r in rows] == now
    return rows


def _skipped_months_are_empty(
    sb: Sandbox, database_url: str, schema: str, home: Path, rows: list[dict[str, Any]], basis: str
) -> None:
    """Every month the copy skipped shows no amount when asked for on its own."""
    for name in ("ProfitAndLoss", "CashFlow"):
        monthly = [
            r
            for r in rows
            if (r["report_name"], r["accounting_method"]) == (name, basis)
            and "summarize_column_by" not in r["params"]
        ]
        kept = {r["period_start"] for r in monthly}
        first = min(kept)
        skipped = [m for m in months_between(first, TODAY) if m[0] not in kept]
        params = [
            (name, {"accounting_method": basis, "start_date": str(m[0]), "end_date": str(m[1])})
            for m in skipped
        ]
        settings = settings_for(sb, database_url, schema, home)
        for answer in served(settings, params):
            assert {c.amount for c in flatten_report(answer) if c.amount} == set()


def _tiles(rows: list[dict[str, Any]], first: date, last: date) -> None:
    cursor = first
    for row in sorted(rows, key=lambda r: r["period_start"]):
        assert row["period_start"] == cursor
        cursor = row["period_end"] + timedelta(days=1)
    assert cursor == last + timedelta(days=1)


@pytest.mark.repeats_at_scale
def test_default_reports_both_bases_as_served_with_calls_counted(
    make_sandbox: MakeSandbox, database_url: str, schema: str, home: Path, tmp_path: Path
) -> None:
    sb = _company(make_sandbox, 10)
    cli = _cli(sb, database_url, schema, home, tmp_path)
    result = cli.run("reports", "--basis", "both")
    assert result.returncode == 0, result.stderr
    counters = sb.counters()["realms"][sb.info.realm_ids[0]]["requests"]
    rows = _as_served(sb, database_url, schema, home)
    first = min(r["period_start"] for r in rows if r["report_name"] == "ProfitAndLoss")
    months = len(months_between(first, TODAY))
    figures = {
        (f["report_name"], f["accounting_method"]): f for f in run_figures(database_url, schema)
    }
    assert set(figures) == {(n, b) for n in DEFAULT_REPORTS for b in ("Accrual", "Cash")}
    for basis in ("Accrual", "Cash"):
        calls = {name: figures[(name, basis)]["calls"] for name in DEFAULT_REPORTS}
        empty = {name: figures[(name, basis)]["months_empty"] for name in DEFAULT_REPORTS}
        # Every month holds activity: the month-summarized answer, then each month showing
        # an amount (on a cash basis, a first month may show none), the trial balance
        # reusing the balance sheet's; a ledger in one closed span and the two open
        # months; aging once.
        assert calls == {
            "ProfitAndLoss": 1 + months - empty["ProfitAndLoss"],
            "BalanceSheet": 1 + months,
            "TrialBalance": months,
            "CashFlow": 1 + months - empty["CashFlow"],
            "GeneralLedger": 3,
            "TransactionList": 3,
            "AgedReceivables": 1,
            "AgedPayables": 1,
        }
        assert empty["BalanceSheet"] == 0
        if basis == "Accrual":
            assert empty["ProfitAndLoss"] == 0
        _skipped_months_are_empty(sb, database_url, schema, home, rows, basis)
    assert counters["reports"] == sum(f["calls"] for f in figures.values())
    assert counters["batch"] == 1  # the first transaction's day, asked once
    for name in ("GeneralLedger", "TransactionList"):
        for basis in ("Accrual", "Cash"):
            pieces = [
                r for r in rows if (r["report_name"], r["accounting_method"]) == (name, basis)
            ]
            _tiles(pieces, month_of(first)[0], month_of(TODAY)[1])
    with psycopg.connect(database_url) as conn:
        assert sections_not_adding_up(conn, schema) == []


@pytest.mark.parametrize(
    ("limit", "figure"),
    [({"report_cell_cap": 800}, "truncations_split"), ({"report_dense_rows": 60}, "dense_split")],
)
def test_a_ledger_cut_short_or_too_dense_is_split_until_whole(
    make_sandbox: MakeSandbox,
    database_url: str,
    schema: str,
    home: Path,
    tmp_path: Path,
    limit: dict[str, int],
    figure: str,
) -> None:
    sb = _company(make_sandbox, 2, **limit)
    cli = _cli(sb, database_url, schema, home, tmp_path)
    start = date(TODAY.year - 1, 1, 1)
    sb.reset_counters()
    result = cli.run(
        "reports", "GeneralLedger", "--start", str(start), "--end", str(date(TODAY.year, 1, 1))
    )
    assert result.returncode == 0, result.stderr
    calls = report_calls(sb)
    rows = _as_served(sb, database_url, schema, home)
    _tiles(rows, start, date(TODAY.year - 1, 12, 31))
    assert len(rows) > 1
    assert all("Unable to display" not in str(r["payload"]) for r in rows)
    (f,) = run_figures(database_url, schema)
    assert f[figure] > 0
    # Each failed answer was asked once (a 504 is not retried), each stored one once.
    assert calls == f["calls"] == len(rows) + f["truncations_split"] + f["dense_split"]
    with psycopg.connect(database_url) as conn:
        assert sections_not_adding_up(conn, schema) == []


def test_an_empty_decade_costs_a_handful_of_calls(
    make_sandbox: MakeSandbox, database_url: str, schema: str, home: Path, tmp_path: Path
) -> None:
    sb = _company(make_sandbox, 2)
    cli = _cli(sb, database_url, schema, home, tmp_path)
    sb.reset_counters()
    result = cli.run("reports", "--start", "2000-01-01", "--end", "2010-01-01", "--basis", "both")
    assert result.returncode == 0, result.stderr
    # Per basis: one month-summarized answer for P&L, balance sheet (the trial balance
    # reads it) and cash flow; one request per ledger; the two aging reports as of today.
    assert report_calls(sb) == 2 * 7
    figures = run_figures(database_url, schema)
    assert {
        f["months_empty"]
        for f in figures
        if f["report_name"] in ("ProfitAndLoss", "BalanceSheet", "TrialBalance", "CashFlow")
    } == {120}
    _as_served(sb, database_url, schema, home)
