"""CashFlow (the statement of cash flows, indirect method), from the books' postings.

Cash is the Bank accounts. Every other account's postings in a period move cash by their
negation: net income (income and expense accounts), then the operating adjustments
(receivables, other current assets, payables, credit cards, other current liabilities),
investing (fixed and other assets) and financing (long-term liabilities, equity). So the
net cash increase equals the change of the bank balances, by construction of balanced
entries. A section without accounts is left out, as on the balance sheet.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from qbo_backfill.sandbox.books.model import Books
from qbo_backfill.sandbox.reports.balances import Totals, account_sums
from qbo_backfill.sandbox.reports.chart import Chart, Group, Vectors, group_section
from qbo_backfill.sandbox.reports.params import column_periods, parse_basis, parse_period
from qbo_backfill.sandbox.reports.shape import (
    ZERO,
    ReportFrame,
    Row,
    cells,
    data_row,
    money,
    period_columns,
    report,
    section,
)

__all__ = ["cash_flow"]

_ADJUSTMENTS = Group(
    "OperatingAdjustments",
    "Adjustments to reconcile Net Income to Net Cash provided by operations:",
    "Total Adjustments to reconcile Net Income to Net Cash provided by operations:",
    (
        "Accounts Receivable",
        "Other Current Asset",
        "Accounts Payable",
        "Credit Card",
        "Other Current Liability",
    ),
)
_INVESTING = Group(
    "InvestingActivities",
    "INVESTING ACTIVITIES",
    "Net cash provided by investing activities",
    ("Fixed Asset", "Other Asset"),
)
_FINANCING = Group(
    "FinancingActivities",
    "FINANCING ACTIVITIES",
    "Net cash provided by financing activities",
    ("Long Term Liability", "Equity"),
)


def _amounts(values: list[Decimal]) -> list[str]:
    return [money(v) for v in values]


def cash_flow(books: Books, params: dict[str, str], today: date) -> dict[str, Any]:
    """Operating, investing and financing activities, and the cash at both ends."""
    start, end, macro = parse_period(params, today)
    basis = parse_basis(params.get("accounting_method"), books.default_basis())
    by = params.get("summarize_column_by", "Total")
    periods = column_periods(by, start, end)
    spans = [(p.start, p.end) for p in periods] + [(start, end)]
    sums = account_sums(books, basis)
    chart = Chart(books.accounts())
    columns: list[Totals] = [sums.between(a, b) for a, b in spans]
    width = len(columns)
    vectors: Vectors = {}
    net_income = [ZERO] * width
    beginning = [ZERO] * width
    for n, totals in enumerate(columns):
        for account_id, amount in totals.items():
            account = chart.by_id.get(account_id)
            if account is None or amount == 0:
                continue
            if account.classification in ("Revenue", "Expense"):
                net_income[n] -= amount
            elif account.account_type != "Bank":
                vectors.setdefault(account_id, [ZERO] * width)[n] = amount
        opening = sums.through(spans[n][0] - timedelta(days=1))
        beginning[n] = sum(
            (
                v
                for a, v in opening.items()
                if a in chart.by_id and chart.by_id[a].account_type == "Bank"
            ),
            ZERO,
        )

    def sign(_group: Group) -> int:
        return -1

    adjustments, adjusted = group_section(chart, _ADJUSTMENTS, vectors, width, sign)
    investing, invested = group_section(chart, _INVESTING, vectors, width, sign)
    financing, financed = group_section(chart, _FINANCING, vectors, width, sign)
    operating = [a + b for a, b in zip(net_income, adjusted, strict=True)]
    increase = [a + b + c for a, b, c in zip(operating, invested, financed, strict=True)]
    ending = [a + b for a, b in zip(beginning, increase, strict=True)]
    blank = [""] * width
    rows: list[Row] = [
        section(
            group="OperatingActivities",
            header=cells("OPERATING ACTIVITIES", blank),
            rows=[{**data_row("Net Income", _amounts(net_income)), "group": "NetIncome"}]
            + ([adjustments] if "Rows" in adjustments else []),
            summary=cells("Net cash provided by operating activities", _amounts(operating)),
        ),
        *(part for part in (investing, financing) if "Rows" in part),
        section(
            group="CashIncrease", summary=cells("Net cash increase for period", _amounts(increase))
        ),
        section(
            group="BeginningCash", summary=cells("Cash at beginning of period", _amounts(beginning))
        ),
        section(group="EndingCash", summary=cells("Cash at end of period", _amounts(ending))),
    ]
    frame = ReportFrame("CashFlow", basis, start, end, by, macro)
    has_data = bool(vectors) or any(net_income)
    return report(frame, period_columns(periods), rows, has_data)
