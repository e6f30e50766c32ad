"""ProfitAndLoss, BalanceSheet and TrialBalance, summed from the books' postings.

Amounts are shown as QBO shows them: income, liabilities and equity with credits positive;
expenses and assets with debits positive. Income and expense accounts close into retained
earnings at the start of each fiscal (calendar) year: the balance sheet's Retained Earnings
holds the years before, its Net Income line the year to the column's date.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from qbo_backfill.sandbox.books.model import Books
from qbo_backfill.sandbox.reports.balances import Sums, Totals, account_sums
from qbo_backfill.sandbox.reports.chart import (
    ACCOUNT_TYPE_ORDER,
    Chart,
    Group,
    Vectors,
    group_section,
    is_profit_and_loss,
)
from qbo_backfill.sandbox.reports.params import (
    column_periods,
    parse_basis,
    parse_period,
)
from qbo_backfill.sandbox.reports.shape import (
    ZERO,
    ReportFrame,
    Row,
    cells,
    column,
    data_row,
    money,
    period_columns,
    report,
    section,
)

__all__ = ["PNL_GROUPS", "balance_sheet", "profit_and_loss", "trial_balance"]

_GAAP = (("AccountingStandard", "GAAP"),)
_INCOME = Group("Income", "Income", "Total Income", ("Income",))
_COGS = Group("COGS", "Cost of Goods Sold", "Total Cost of Goods Sold", ("Cost of Goods Sold",))
_EXPENSES = Group("Expenses", "Expenses", "Total Expenses", ("Expense",))
_OTHER_INCOME = Group("OtherIncome", "Other Income", "Total Other Income", ("Other Income",))
_OTHER_EXPENSES = Group(
    "OtherExpenses", "Other Expenses", "Total Other Expenses", ("Other Expense",)
)
PNL_GROUPS = (_INCOME, _COGS, _EXPENSES, _OTHER_INCOME, _OTHER_EXPENSES)
_CREDIT_GROUPS = frozenset({"Income", "OtherIncome"})

_ASSETS = Group(
    "TotalAssets",
    "ASSETS",
    "TOTAL ASSETS",
    parts=(
        Group(
            "CurrentAssets",
            "Current Assets",
            "Total Current Assets",
            parts=(
                Group("BankAccounts", "Bank Accounts", "Total Bank Accounts", ("Bank",)),
                Group(
                    "AR",
                    "Accounts Receivable",
                    "Total Accounts Receivable",
                    ("Accounts Receivable",),
                ),
                Group(
                    "OtherCurrentAssets",
                    "Other current assets",
                    "Total Other current assets",
                    ("Other Current Asset",),
                ),
            ),
        ),
        Group("FixedAssets", "Fixed Assets", "Total Fixed Assets", ("Fixed Asset",)),
        Group("OtherAssets", "Other Assets", "Total Other Assets", ("Other Asset",)),
    ),
)
_LIABILITIES_AND_EQUITY = Group(
    "TotalLiabilitiesAndEquity",
    "LIABILITIES AND EQUITY",
    "TOTAL LIABILITIES AND EQUITY",
    parts=(
        Group(
            "Liabilities",
            "Liabilities",
            "Total Liabilities",
            parts=(
                Group(
                    "CurrentLiabilities",
                    "Current Liabilities",
                    "Total Current Liabilities",
                    parts=(
                        Group(
                            "AP",
                            "Accounts Payable",
                            "Total Accounts Payable",
                            ("Accounts Payable",),
                        ),
                        Group(
                            "CreditCards", "Credit Cards", "Total Credit Cards", ("Credit Card",)
                        ),
                        Group(
                            "OtherCurrentLiabilities",
                            "Other Current Liabilities",
                            "Total Other Current Liabilities",
                            ("Other Current Liability",),
                        ),
                    ),
                ),
                Group(
                    "LongTermLiabilities",
                    "Long-Term Liabilities",
                    "Total Long-Term Liabilities",
                    ("Long Term Liability",),
                ),
            ),
        ),
        Group("Equity", "Equity", "Total Equity", ("Equity",)),
    ),
)


def _vectors(columns: list[Totals], keep: Any, *, zeros: bool = False) -> Vectors:
    """Per-account amounts of each column, for the accounts `keep` accepts; with `zeros`,
    an account whose postings net to zero too (a balance sheet lists it at 0.00)."""
    out: Vectors = {}
    for n, totals in enumerate(columns):
        for account_id, amount in totals.items():
            if (amount == 0 and not zeros) or not keep(account_id):
                continue
            out.setdefault(account_id, [ZERO] * len(columns))[n] = amount
    return out


def _computed(group: str, title: str, values: list[Decimal]) -> Row:
    return section(group=group, summary=cells(title, [money(v) for v in values]))


def profit_and_loss(books: Books, params: dict[str, str], today: date) -> dict[str, Any]:
    """Income, COGS, Gross Profit, Expenses, Net Operating Income, Other Income/Expenses,
    Net Other Income, Net Income; one column per period and a Total."""
    start, end, macro = parse_period(params, today)
    basis = parse_basis(params.get("accounting_method"), books.default_basis())
    by = params.get("summarize_column_by", "Total")
    periods = column_periods(by, start, end)
    sums = account_sums(books, basis)
    columns = [sums.between(p.start, p.end) for p in periods] + [sums.between(start, end)]
    chart = Chart(books.accounts())
    vectors = _vectors(columns, lambda a: a in chart.by_id and is_profit_and_loss(chart.by_id[a]))
    width = len(columns)

    def sign(group: Group) -> int:
        return -1 if group.group in _CREDIT_GROUPS else 1

    parts = {}
    for group in PNL_GROUPS:
        parts[group.group] = group_section(chart, group, vectors, width, sign)
    gross = [a - b for a, b in zip(parts["Income"][1], parts["COGS"][1], strict=True)]
    operating = [a - b for a, b in zip(gross, parts["Expenses"][1], strict=True)]
    other = [a - b for a, b in zip(parts["OtherIncome"][1], parts["OtherExpenses"][1], strict=True)]
    net = [a + b for a, b in zip(operating, other, strict=True)]
    rows = [parts["Income"][0]]
    if "Rows" in parts["COGS"][0]:  # Intuit's sample leaves out an empty COGS, not Expenses
        rows.append(parts["COGS"][0])
    rows += [
        _computed("GrossProfit", "Gross Profit", gross),
        parts["Expenses"][0],
        _computed("NetOperatingIncome", "Net Operating Income", operating),
    ]
    if "Rows" in parts["OtherIncome"][0] or "Rows" in parts["OtherExpenses"][0]:
        rows += [
            parts["OtherIncome"][0],
            parts["OtherExpenses"][0],
            _computed("NetOtherIncome", "Net Other Income", other),
        ]
    rows.append(_computed("NetIncome", "Net Income", net))
    frame = ReportFrame("ProfitAndLoss", basis, start, end, by, macro, _GAAP)
    return report(frame, period_columns(periods), rows, bool(vectors))


def _closing(chart: Chart, sums: Sums, day: date) -> tuple[Totals, Decimal, Decimal]:
    """Balances at the end of `day` with income and expense closed: the balance-sheet
    accounts' balances, earlier years' net income (credit positive) and this year's."""
    balances = sums.through(day)
    year_start = date(day.year, 1, 1)
    this_year = sums.between(year_start, day)
    pnl_through = Decimal(0)
    pnl_year = Decimal(0)
    kept: Totals = {}
    for account_id, amount in balances.items():
        account = chart.by_id.get(account_id)
        if account is None:
            continue
        if is_profit_and_loss(account):
            pnl_through += amount
            pnl_year += this_year.get(account_id, ZERO)
        else:
            kept[account_id] = amount
    return kept, -(pnl_through - pnl_year), -pnl_year


def _retained_earnings(chart: Chart) -> int | None:
    for account in chart.by_id.values():
        if account.account_sub_type == "RetainedEarnings":
            return account.id
    return None


def balance_sheet(books: Books, params: dict[str, str], today: date) -> dict[str, Any]:
    """Assets, then liabilities and equity, at the end of each column's period (no Total
    column when summarized by period: balances do not add across dates)."""
    start, end, macro = parse_period(params, today)
    basis = parse_basis(params.get("accounting_method"), books.default_basis())
    by = params.get("summarize_column_by", "Total")
    periods = column_periods(by, start, end)
    ends = [p.end for p in periods] or [end]
    sums = account_sums(books, basis)
    chart = Chart(books.accounts())
    retained = _retained_earnings(chart)
    columns: list[Totals] = []
    net_income: list[Decimal] = []
    for day in ends:
        balances, earlier, this_year = _closing(chart, sums, day)
        if retained is not None and (earlier or retained in balances):
            balances[retained] = balances.get(retained, ZERO) - earlier
        columns.append(balances)
        net_income.append(this_year if retained is not None else this_year + earlier)
    vectors = _vectors(columns, lambda a: a in chart.by_id, zeros=True)
    width = len(columns)

    def sign(group: Group) -> int:
        return 1 if group is _ASSETS or _within(_ASSETS, group) else -1

    def extra(group: Group) -> list[tuple[Row, list[Decimal]]]:
        if group.group != "Equity":
            return []
        row = {**data_row("Net Income", [money(v) for v in net_income]), "group": "NetIncome"}
        return [(row, net_income)]

    assets, _ = group_section(chart, _ASSETS, vectors, width, sign, prune=True)
    others, _ = group_section(
        chart, _LIABILITIES_AND_EQUITY, vectors, width, sign, extra, prune=True
    )
    frame = ReportFrame("BalanceSheet", basis, start, end, by, macro, _GAAP)
    has_data = bool(vectors) or any(net_income)
    return report(frame, period_columns(periods, total=False), [assets, others], has_data)


def _within(outer: Group, group: Group) -> bool:
    return any(part is group or _within(part, group) for part in outer.parts)


def trial_balance(books: Books, params: dict[str, str], today: date) -> dict[str, Any]:
    """Each account's balance at `end_date` in a Debit or a Credit column, income and
    expense accounts for the fiscal year to date (earlier years in Retained Earnings)."""
    start, end, macro = parse_period(params, today)
    basis = parse_basis(params.get("accounting_method"), books.default_basis())
    chart = Chart(books.accounts())
    sums = account_sums(books, basis)
    balances, earlier, _ = _closing(chart, sums, end)
    year = sums.between(date(end.year, 1, 1), end)
    balances.update(
        {a: v for a, v in year.items() if a in chart.by_id and is_profit_and_loss(chart.by_id[a])}
    )
    retained = _retained_earnings(chart)
    if retained is not None:
        balances[retained] = balances.get(retained, ZERO) - earlier
    order = {kind: n for n, kind in enumerate(ACCOUNT_TYPE_ORDER)}
    shown = sorted(
        (chart.by_id[a] for a, v in balances.items() if v != 0 and a in chart.by_id),
        key=lambda a: (order.get(a.account_type, len(order)), a.fully_qualified_name.lower()),
    )
    rows: list[Row] = []
    debits = credits = ZERO
    for account in shown:
        amount = balances[account.id]
        debit, credit = (money(amount), "") if amount > 0 else ("", money(-amount))
        debits += max(amount, ZERO)
        credits += max(-amount, ZERO)
        label = chart.label(account, full=True)
        rows.append(data_row(label, [debit, credit], account.id, typed=False))
    rows.append(
        section(group="GrandTotal", summary=cells("TOTAL", [money(debits), money(credits)]))
    )
    columns = [
        column("", "Account", "account"),
        column("Debit", "Money", "debt_amt"),
        column("Credit", "Money", "credit_amt"),
    ]
    frame = ReportFrame("TrialBalance", basis, start, end, None, macro)  # as Intuit's sample
    return report(frame, columns, rows, bool(shown))
