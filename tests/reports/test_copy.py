"""`reports` over the real sandbox and PostgreSQL: stored exactly as served, calls counted
by the sandbox, cut answers split and stored whole, replayed answers stored and flattened
exactly, every stored report adding up, resumed without a call."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.types.json import Jsonb
from tests.helpers import Cli, MakeSandbox, sandbox_env, settings_for
from tests.reports import samples
from tests.reports.conftest import report_calls, run_figures, served, stored

from qbo_backfill.load.reportflat import flatten_report
from qbo_backfill.load.reportstore import comparable
from qbo_backfill.load.reportview import (
    REPORT_ROW_COLUMNS,
    create_report_row_view,
    report_row_select,
    sections_not_adding_up,
)
from qbo_backfill.sandbox import Sandbox
from qbo_backfill.settings import Settings

pytestmark = [pytest.mark.db]


def _tiles(rows: list[dict[str, Any]], first: date, last: date) -> bool:
    """The stored periods cover [first, last] with no gap and no overlap."""
    cursor = first
    for row in sorted(rows, key=lambda r: r["period_start"]):
        if row["period_start"] != cursor:
            return False
        cursor = row["period_end"] + timedelta(days=1)
    return cursor == last + timedelta(days=1)


def test_replayed_answers_are_stored_and_flattened_exactly(
    cli: Cli, sandbox: Sandbox, database_url: str, schema: str
) -> None:
    """A month-summarized P&L replayed: one probe finds February alone holds amounts, so
    two calls copy the quarter; the ledger and aging answers are stored as served."""
    sandbox.replay_report("ProfitAndLoss", samples.monthly_profit_and_loss())
    sandbox.replay_report("GeneralLedger", samples.general_ledger())
    sandbox.replay_report("AgedReceivables", samples.aged_receivables())
    sandbox.replay_report("BalanceSheet", samples.balance_sheet())
    sandbox.reset_counters()
    args = ("--start", "2025-01-01", "--end", "2025-04-01")
    names = ("ProfitAndLoss", "GeneralLedger", "AgedReceivables", "BalanceSheet")
    result = cli.run("reports", *names, *args)
    assert result.returncode == 0, result.stderr
    # P&L: the probe and February; the ledger: the quarter in one request; aging: one;
    # the balance sheet: its month-summarized answer (the same replayed payload, with no
    # dated columns: no month can be ruled out), then each month.
    assert report_calls(sandbox) == 4 + 4
    rows = stored(database_url, schema)
    kept = {(r["report_name"], r["period_start"], r["period_end"]): r for r in rows}
    probe = kept[("ProfitAndLoss", date(2025, 1, 1), date(2025, 3, 31))]
    assert probe["params"]["summarize_column_by"] == "Month"
    assert probe["payload"] == samples.monthly_profit_and_loss()
    assert kept[("ProfitAndLoss", date(2025, 2, 1), date(2025, 2, 28))]["params"] == {
        "accounting_method": "Accrual",
        "start_date": "2025-02-01",
        "end_date": "2025-02-28",
    }
    assert (
        kept[("GeneralLedger", date(2025, 1, 1), date(2025, 3, 31))]["payload"]
        == samples.general_ledger()
    )
    aging = [r for r in rows if r["report_name"] == "AgedReceivables"]
    assert aging[0]["payload"] == samples.aged_receivables()
    assert aging[0]["params"]["report_date"] == str(aging[0]["period_start"])
    sheets = [r for r in rows if r["report_name"] == "BalanceSheet"]
    assert [r["payload"] for r in sheets] == [samples.balance_sheet()] * 4
    assert len(rows) == 4 + 4
    assert all(r["payload"]["Header"]["Time"] == "2026-11-02T09:14:07-08:00" for r in rows)
    assert {str(r["header_time_utc"].isoformat()) for r in rows} == {"2026-11-02T17:14:07+00:00"}
    assert all(r["request_payload"]["query"]["accounting_method"] == "Accrual" for r in rows)

    with psycopg.connect(database_url, autocommit=True) as conn:
        create_report_row_view(conn, f"{schema}_views", schema)
        for row in rows:
            view = conn.execute(
                sql.SQL(
                    "SELECT v.column_index, v.column_key, v.column_title, v.column_start_date,"
                    " v.column_end_date, v.section_id, v.row_path, v.row_kind, v.row_group,"
                    " v.account_id, v.account_name, v.txn_type, v.txn_id, v.value, v.amount"
                    " FROM {} v JOIN {} r ON r.id = v.report_id WHERE r.report_name = %s"
                    " AND r.period_start = %s AND r.period_end = %s AND r.params = %s"
                    " ORDER BY v.ordinal"
                ).format(
                    sql.Identifier(f"{schema}_views", "report_row"),
                    sql.Identifier(schema, "qb_report"),
                ),
                (row["report_name"], row["period_start"], row["period_end"], Jsonb(row["params"])),
            ).fetchall()
            expected = [
                (
                    c.column_index,
                    c.column_key,
                    c.column_title,
                    c.column_start_date,
                    c.column_end_date,
                    c.section_id,
                    list(c.row_path),
                    c.row_kind,
                    c.row_group,
                    c.account_id,
                    c.account_name,
                    c.txn_type,
                    c.txn_id,
                    c.value,
                    c.amount,
                )
                for c in flatten_report(row["payload"])
            ]
            assert view == expected
        assert sections_not_adding_up(conn, schema) == []
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(f"{schema}_views")))

    # Run again: every month is stored (or shown empty), aging is stored today: no call.
    sandbox.reset_counters()
    again = cli.run("reports", *names, *args)
    assert again.returncode == 0, again.stderr
    assert report_calls(sandbox) == 0
    assert stored(database_url, schema) == rows


def test_a_broken_sum_is_named_by_the_check(
    cli: Cli, sandbox: Sandbox, database_url: str, schema: str
) -> None:
    wrong = samples.profit_and_loss()
    wrong["Rows"]["Row"][0]["Rows"]["Row"][1]["Header"]["ColData"][1]["value"] = "151.00"
    sandbox.replay_report("ProfitAndLoss", wrong)
    result = cli.run(
        "reports",
        "ProfitAndLoss",
        "--param",
        "summarize_column_by=Total",
        "--start",
        "2025-03-01",
        "--end",
        "2025-04-01",
    )
    assert result.returncode == 0, result.stderr
    with psycopg.connect(database_url) as conn:
        wrong_sums = sections_not_adding_up(conn, schema)
    # Landscaping Services (0.1) and, through its summary, nothing else: Income's parts
    # are its rows and its sub-sections' summaries as served.
    assert [(w["section_id"], w["column_index"], w["summary"], w["parts"]) for w in wrong_sums] == [
        ("0.1", 1, 1968, 1969)
    ]


def test_a_report_cut_short_is_split_until_each_piece_is_whole(
    make_sandbox: MakeSandbox, database_url: str, schema: str, home: Path, tmp_path: Path
) -> None:
    """A P&L of one column per day, capped at 800 cells (a month of 10 lines is about 330):
    half a year is cut, so it is split, and every stored piece is whole and as served."""
    sb = make_sandbox(customers=30, items=10, invoices=240, other_records=0, report_cell_cap=800)
    cli = Cli(sandbox_env(sb, database_url, schema, home), tmp_path)
    sb.reset_counters()
    result = cli.run(
        "reports",
        "ProfitAndLoss",
        "--param",
        "summarize_column_by=Days",
        "--start",
        "2025-01-01",
        "--end",
        "2025-07-01",
        "--basis",
        "both",
    )
    assert result.returncode == 0, result.stderr
    rows = stored(database_url, schema)
    figures = run_figures(database_url, schema)
    for basis in ("Accrual", "Cash"):
        pieces = [r for r in rows if r["accounting_method"] == basis]
        assert _tiles(pieces, date(2025, 1, 1), date(2025, 6, 30))
        assert all("Unable to display" not in str(r["payload"]) for r in pieces)
    assert all(f["truncations_split"] > 0 for f in figures)
    assert report_calls(sb) == sum(f["calls"] for f in figures)
    assert sum(f["calls"] for f in figures) == len(rows) + sum(
        f["truncations_split"] for f in figures
    )
    settings = settings_for(sb, database_url, schema, home)
    now = served(settings, [(r["report_name"], r["params"]) for r in rows])
    assert [comparable(r["payload"]) for r in rows] == now


def test_both_bases_over_the_sandbox_company_stored_as_served(
    cli: Cli, sandbox: Sandbox, settings: Settings, database_url: str, schema: str
) -> None:
    sandbox.reset_counters()
    result = cli.run("reports", "ProfitAndLoss", "--basis", "both", "--end", "2026-01-01")
    assert result.returncode == 0, result.stderr
    rows = stored(database_url, schema)
    figures = run_figures(database_url, schema)
    assert {f["accounting_method"] for f in figures} == {"Accrual", "Cash"}
    assert report_calls(sandbox) == sum(f["calls"] for f in figures)
    assert {r["payload"]["Header"]["ReportBasis"] for r in rows} == {"Accrual", "Cash"}
    now = served(settings, [(r["report_name"], r["params"]) for r in rows])
    assert [comparable(r["payload"]) for r in rows] == now
    with psycopg.connect(database_url) as conn:
        assert sections_not_adding_up(conn, schema) == []


def test_bad_input_is_one_line_and_exit_2_before_any_call(cli: Cli, sandbox: Sandbox) -> None:
    sandbox.reset_counters()
    for args, says in (
        (("reports", "Profit And Loss"), "is not a report name"),
        (("reports", "--param", "start_date=2020-01-01"), "expected KEY=VALUE"),
        (("reports", "--param", "columns"), "expected KEY=VALUE"),
        (("reports", "--start", "2025-02-01", "--end", "2025-01-01"), "must be after --start"),
        (("reports", "--start", "20250101"), "--start"),
        (("reports", "--basis", "weekly"), "weekly"),
    ):
        result = cli.run(*args)
        assert result.returncode == 2, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, (args, lines)
        assert says in lines[0], (args, lines)
    assert report_calls(sandbox) == 0


def test_a_report_intuit_refuses_fails_alone_and_says_why(
    cli: Cli, database_url: str, schema: str
) -> None:
    result = cli.run("reports", "NoSuchReport", "AgedPayables")
    assert result.returncode == 1
    assert "NoSuchReport" in result.stderr.strip().splitlines()[-1]
    figures = sorted((f["report_name"], f["status"]) for f in run_figures(database_url, schema))
    assert figures == [("AgedPayables", "done"), ("NoSuchReport", "failed")]


def test_the_first_transaction_day_is_found_once(
    cli: Cli, sandbox: Sandbox, database_url: str, schema: str
) -> None:
    """With no transaction copied, one batch call finds the first day; a second run reuses
    it: a finished run repeated costs no call at all."""
    sandbox.reset_counters()
    first = cli.run("reports", "AgedPayables")
    assert first.returncode == 0, first.stderr
    requests = sandbox.counters()["realms"][sandbox.info.realm_id]["requests"]
    assert (requests["batch"], requests["reports"]) == (1, 1)
    sandbox.reset_counters()
    again = cli.run("reports", "AgedPayables")
    assert again.returncode == 0, again.stderr
    assert "API calls: 0" in again.stdout
    assert sum(sandbox.counters()["realms"][sandbox.info.realm_id]["requests"].values()) == 0


def test_the_view_before_any_report_has_the_same_typed_columns(
    database_url: str, schema: str
) -> None:
    """The typed-views installer can make `report_row` before any report is copied: its
    empty form has the real view's columns and types, and one company's form filters."""
    empty = report_row_select(None, None)
    with psycopg.connect(database_url, autocommit=True) as conn:
        create_report_row_view(conn, f"{schema}_views", schema)
        real = conn.execute(
            sql.SQL("SELECT * FROM {} LIMIT 0").format(
                sql.Identifier(f"{schema}_views", "report_row")
            )
        )
        shape = [(d.name, d.type_code) for d in real.description or []]
        made = conn.execute(empty)
        assert [(d.name, d.type_code) for d in made.description or []] == shape
        assert made.fetchall() == []
        assert [name for name, _ in REPORT_ROW_COLUMNS] == [name for name, _ in shape]
        one = report_row_select(
            sql.Identifier(schema, "qb_report"), sql.Identifier(schema, "qb_report_row"), "9"
        )
        assert conn.execute(one).fetchall() == []
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(f"{schema}_views")))
