"""The flattener (pure), the truncation test and period planning, on documented and odd
shapes; a property test that every generated report's sections add up once flattened."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from tests.reports import samples

from qbo_backfill.load.reportflat import flatten_report, parse_amount
from qbo_backfill.load.reportstore import comparable, report_totals
from qbo_backfill.qbo.reports import ReportRequest, is_truncated
from qbo_backfill.run.reportplan import (
    halves,
    month_of,
    months_between,
    months_with_data,
    open_from,
    runs_of,
)


def test_profit_and_loss_rows_paths_and_the_parent_accounts_own_amount() -> None:
    cells = flatten_report(samples.profit_and_loss())
    # Income: 12 lines (3 headers, 6 data rows, 3 summaries); Gross Profit 1; Expenses 4;
    # Net Income 1: 18 lines of 2 cells.
    assert len(cells) == 2 * 18
    parent = [c for c in cells if c.row_kind == "section_header" and c.account_id == "45"]
    assert [(c.column_index, c.value, c.amount) for c in parent] == [
        (0, "Landscaping Services", None),
        (1, "150.00", Decimal("150.00")),
    ]
    assert parent[1].section_id == "0.1"
    assert parent[1].row_path == ("Income", "Landscaping Services")
    assert parent[1].row_group is None
    plants = next(c for c in cells if c.account_name == "Plants and Soil" and c.column_index == 1)
    assert (plants.section_id, plants.row_kind, plants.amount) == (
        "0.1.0",
        "data",
        Decimal("337.5"),
    )
    assert plants.row_path == ("Income", "Landscaping Services", "Job Materials")
    assert (plants.column_key, plants.column_title) == ("total", "Total")
    net = [c for c in cells if c.row_group == "NetIncome"]
    assert [(c.row_kind, c.section_id, c.row_path, c.value) for c in net] == [
        ("summary", "3", (), "Net Income"),
        ("summary", "3", (), "3203.14"),
    ]
    assert all(c.account_id is None for c in cells if c.row_kind == "summary")


def test_general_ledger_transactions_accounts_and_text_that_is_not_money() -> None:
    cells = flatten_report(samples.general_ledger())
    expense = [c for c in cells if c.txn_id == "131"]
    assert {(c.txn_type, c.account_id, c.account_name) for c in expense} == {
        ("Expense", "35", "Checking")
    }
    by_key = {c.column_key: c for c in expense}
    assert by_key["doc_num"].value == "76"
    assert by_key["doc_num"].amount is None  # a number, but not money
    assert by_key["subt_nat_amount"].amount == Decimal("-228.75")
    assert by_key["tx_date"].amount is None
    assert {c.account_id for c in cells if c.section_id == "1"} == {"84", None}


def test_aging_rows_outside_sections_and_a_grand_total() -> None:
    cells = flatten_report(samples.aged_receivables())
    freeman = [c for c in cells if c.row_kind == "data" and c.row_path == () and c.value == "4.5"]
    assert len(freeman) == 1
    assert freeman[0].section_id is None
    assert freeman[0].amount == Decimal("4.5")
    assert freeman[0].column_title == "91 and over"
    total = [c.amount for c in cells if c.row_group == "GrandTotal" and c.column_key == "total"]
    assert total == [Decimal("324.50")]


def test_odd_shapes_flatten_without_failing() -> None:
    assert flatten_report({}) == []
    assert flatten_report({"Rows": {"Row": None}}) == []
    odd: dict[str, Any] = {
        "Columns": {"Column": [{"ColType": "Money"}]},  # no title, no key
        "Rows": {"Row": ["text", {"ColData": [{"value": "1,234.50"}, {"value": "x"}, "bad"]}]},
    }
    cells = flatten_report(odd)
    assert [(c.column_index, c.value, c.amount) for c in cells] == [
        (0, "1,234.50", Decimal("1234.50")),
        (1, "x", None),  # a cell beyond the columns: no type, never money
        (2, "", None),
    ]
    assert [parse_amount(t) for t in ("", "-", "12", "-0.5", ".5", "1e3", "N/A")] == [
        None,
        None,
        Decimal(12),
        Decimal("-0.5"),
        Decimal(".5"),
        None,
        None,
    ]


def test_an_empty_report_keeps_its_skeleton_and_no_amounts() -> None:
    cells = flatten_report(samples.empty_profit_and_loss())
    assert [c.row_kind for c in cells] == ["summary"] * 4
    assert all(c.amount is None for c in cells)


def test_truncation_is_found_as_the_last_row_at_any_depth() -> None:
    assert is_truncated(samples.general_ledger(cut=True))
    assert not is_truncated(samples.general_ledger())
    assert not is_truncated(samples.profit_and_loss())
    top = samples.profit_and_loss()
    top["Rows"]["Row"].append(
        {
            "ColData": [{"value": "Unable to display more data. Please reduce the date range."}],
            "type": "Data",
        }
    )
    assert is_truncated(top)
    # The notice anywhere but last is a row like any other.
    inner = samples.general_ledger(cut=True)
    inner["Rows"]["Row"].append(samples.general_ledger()["Rows"]["Row"][0])
    assert not is_truncated(inner)


def test_totals_and_comparison_ignore_when_the_report_was_computed() -> None:
    totals = report_totals(samples.profit_and_loss())
    assert totals == {
        "Total Income": Decimal("4178.00"),
        "Gross Profit": Decimal("4178.00"),
        "Total Expenses": Decimal("974.86"),
        "Net Income": Decimal("3203.14"),
    }
    later = samples.profit_and_loss()
    later["Header"]["Time"] = "2026-11-03T00:00:00-08:00"
    assert comparable(later) == comparable(samples.profit_and_loss())


def test_requests_always_send_the_basis_and_aging_asks_as_of_a_day() -> None:
    pnl = ReportRequest("ProfitAndLoss", "Cash", date(2025, 1, 1), date(2025, 1, 31))
    assert pnl.params == {
        "accounting_method": "Cash",
        "start_date": "2025-01-01",
        "end_date": "2025-01-31",
    }
    aging = ReportRequest("AgedPayables", "Accrual", date(2026, 12, 6), date(2026, 12, 6))
    assert aging.params == {"accounting_method": "Accrual", "report_date": "2026-12-06"}
    assert pnl.exact("9130")["query"]["minorversion"] == "75"


def test_months_halves_and_runs() -> None:
    assert month_of(date(2024, 2, 10)) == (date(2024, 2, 1), date(2024, 2, 29))
    months = months_between(date(2024, 11, 15), date(2025, 2, 1))
    assert [m[0].month for m in months] == [11, 12, 1, 2]
    assert open_from(date(2026, 1, 20), 2) == date(2025, 12, 1)
    assert open_from(date(2026, 1, 20), 1) == date(2026, 1, 1)
    assert halves((date(2024, 1, 1), date(2024, 12, 31))) == [
        (date(2024, 1, 1), date(2024, 6, 30)),
        (date(2024, 7, 1), date(2024, 12, 31)),
    ]
    assert halves((date(2024, 2, 1), date(2024, 2, 29))) == [
        (date(2024, 2, 1), date(2024, 2, 14)),
        (date(2024, 2, 15), date(2024, 2, 29)),
    ]
    assert halves((date(2024, 2, 3), date(2024, 2, 3))) == []
    # Closed months join; the open ones (from December) stay alone.
    spans = runs_of(months_between(date(2025, 9, 1), date(2026, 1, 1)), date(2025, 12, 1))
    assert spans == [
        (date(2025, 9, 1), date(2025, 11, 30)),
        (date(2025, 12, 1), date(2025, 12, 31)),
        (date(2026, 1, 1), date(2026, 1, 31)),
    ]


def test_a_month_summarized_answer_says_which_months_hold_amounts() -> None:
    months = months_between(date(2025, 1, 1), date(2025, 3, 31))
    assert months_with_data(samples.monthly_profit_and_loss(), months) == {months[1]}
    # No dated columns: nothing can be ruled out.
    assert months_with_data(samples.profit_and_loss(), months) == set(months)


# ---- property: generated reports whose summaries are their parts' sums -------------------

_AMOUNTS = st.decimals(min_value=-10_000, max_value=10_000, places=2, allow_nan=False)


@st.composite
def _section(draw: st.DrawFn, depth: int = 0) -> tuple[dict[str, Any], list[Decimal]]:
    """A section and its summary per column (2 money columns)."""
    own = [draw(_AMOUNTS) if draw(st.booleans()) else None for _ in range(2)]
    rows: list[dict[str, Any]] = []
    total = [a or Decimal(0) for a in own]
    for _ in range(draw(st.integers(0, 3))):
        if depth < 2 and draw(st.booleans()):
            child, child_total = draw(_section(depth + 1))
            rows.append(child)
        else:
            child_total = [draw(_AMOUNTS) for _ in range(2)]
            rows.append(
                {
                    "ColData": [{"value": "line"}, *({"value": str(a)} for a in child_total)],
                    "type": "Data",
                }
            )
        total = [t + c for t, c in zip(total, child_total, strict=True)]
    header = [{"value": f"S{depth}"}, *({"value": "" if a is None else str(a)} for a in own)]
    section = {
        "Header": {"ColData": header},
        "Rows": {"Row": rows},
        "Summary": {"ColData": [{"value": "Total"}, *({"value": str(t)} for t in total)]},
        "type": "Section",
    }
    return section, total


@given(st.lists(_section(), min_size=1, max_size=3))
def test_generated_sections_add_up_once_flattened(
    sections: list[tuple[dict[str, Any], list[Decimal]]],
) -> None:
    columns = [{"ColType": "Account"}, {"ColType": "Money"}, {"ColType": "Money"}]
    payload = {"Columns": {"Column": columns}, "Rows": {"Row": [s for s, _ in sections]}}
    cells = flatten_report(payload)
    summaries = {
        (c.section_id, c.column_index): c.amount
        for c in cells
        if c.row_kind == "summary" and c.amount is not None
    }
    parts: dict[tuple[str | None, int], Decimal] = {}
    for c in cells:
        if c.amount is None:
            continue
        owner = (
            c.section_id
            if c.row_kind != "summary"
            else (c.section_id or "").rpartition(".")[0] or None
        )
        if c.row_kind == "summary" and owner is None:
            continue
        parts[(owner, c.column_index)] = parts.get((owner, c.column_index), Decimal(0)) + c.amount
    assert summaries
    for key, amount in summaries.items():
        assert parts.get(key, Decimal(0)) == amount
    tops = [(str(n), total) for n, (_, total) in enumerate(sections)]
    for section_id, total in tops:
        assert [summaries[(section_id, i)] for i in (1, 2)] == total


def test_balance_sheet_three_levels_deep() -> None:
    cells = flatten_report(samples.balance_sheet())
    savings = next(c for c in cells if c.account_id == "36" and c.column_index == 1)
    assert savings.section_id == "0.0.0"
    assert savings.row_path == ("ASSETS", "Current Assets", "Bank Accounts")
    assert savings.row_group == "BankAccounts"
    assert savings.amount == Decimal("800.00")
    retained = next(c for c in cells if c.account_id == "2" and c.column_index == 1)
    assert (retained.value, retained.amount) == ("", None)
    totals = report_totals(samples.balance_sheet())
    assert totals["Total ASSETS"] == totals["Total LIABILITIES AND EQUITY"] == Decimal("7282.52")
