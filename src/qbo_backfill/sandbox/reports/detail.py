"""GeneralLedger, ProfitAndLossDetail and TransactionList: one line per posting (or per
transaction), read from the entries in the range only; the ledgers' opening balances come
from the cached sums.

GeneralLedger: a section per account with postings in the range or an opening balance
(accounts in the balance sheet's then the P&L's type order, a sub-account's section inside
its parent's after the parent's own lines): a "Beginning Balance" line, the postings with
their running balance, a "Total for <account>" Summary of the account and its
sub-accounts. ProfitAndLossDetail: the P&L's groups inside "Ordinary Income/Expenses" and
"Other Income/Expenses" sections, as in Intuit's sample. TransactionList: one Data row per
transaction, no sections.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from qbo_backfill.sandbox.books.model import Account, Books, Entry, Posting
from qbo_backfill.sandbox.reports.balances import account_sums
from qbo_backfill.sandbox.reports.chart import (
    ACCOUNT_TYPE_ORDER,
    CREDIT_NORMAL,
    Chart,
    Group,
    is_profit_and_loss,
)
from qbo_backfill.sandbox.reports.detail_columns import (
    Line,
    column_json,
    line_cells,
    parse_columns,
    sort_lines,
    txn_label,
)
from qbo_backfill.sandbox.reports.params import parse_basis, parse_period
from qbo_backfill.sandbox.reports.shape import ZERO, ReportFrame, Row, cells, money, report, section
from qbo_backfill.sandbox.reports.summary import PNL_GROUPS

__all__ = ["general_ledger", "profit_and_loss_detail", "transaction_list"]

LEDGER_COLUMNS = (
    "tx_date",
    "txn_type",
    "doc_num",
    "name",
    "memo",
    "split_acc",
    "subt_nat_amount",
    "rbal_nat_amount",
)
LIST_COLUMNS = (
    "tx_date",
    "txn_type",
    "doc_num",
    "is_no_post",
    "name",
    "memo",
    "account_name",
    "other_account",
    "subt_nat_amount",
)
_SPLIT = "-Split-"


def _shown(account: Account | None, amount: Decimal) -> Decimal:
    """Debit positive, or credit positive on a credit-normal account (as QBO prints)."""
    return -amount if account is not None and account.classification in CREDIT_NORMAL else amount


def _split(chart: Chart, entry: Entry, own: int) -> tuple[str, int | None]:
    others = {p.account_id for p in entry.postings if p.account_id != own}
    if len(others) != 1:
        return (_SPLIT, None) if others else ("", None)
    other = next(iter(others))
    account = chart.by_id.get(other)
    return (account.fully_qualified_name if account else "", other)


def _paid_by_card(chart: Chart, entry: Entry) -> bool:
    """Whether the entry's money side (a posting no line carries) is a credit card."""
    for posting in entry.postings:
        account = chart.by_id.get(posting.account_id)
        if posting.line_index is None and account and account.account_type == "Credit Card":
            return True
    return False


def _line(chart: Chart, entry: Entry, posting: Posting) -> Line:
    account = chart.by_id.get(posting.account_id)
    split, split_id = _split(chart, entry, posting.account_id)
    card = entry.txn_type in ("Purchase", "BillPayment") and _paid_by_card(chart, entry)
    return Line(
        entry=entry,
        account=account,
        split=split,
        split_id=split_id,
        amount=_shown(account, posting.amount),
        debit=max(posting.amount, ZERO),
        credit=max(-posting.amount, ZERO),
        memo=posting.description or entry.memo,
        name=posting.name or entry.name,
        label=txn_label(entry.txn_type, card),
    )


def _request(books: Books, params: dict[str, str], today: date, default: Sequence[str]) -> Any:
    start, end, macro = parse_period(params, today)
    basis = parse_basis(params.get("accounting_method"), books.default_basis())
    keys = parse_columns(params.get("columns"), default)
    return start, end, macro, basis, keys


def _lines_by_account(chart: Chart, entries: Iterator[Entry]) -> dict[int, list[Line]]:
    by_account: dict[int, list[Line]] = {}
    for entry in entries:
        for posting in entry.postings:
            by_account.setdefault(posting.account_id, []).append(_line(chart, entry, posting))
    return by_account


def _with_balances(lines: list[Line], opening: Decimal) -> list[Line]:
    out: list[Line] = []
    balance = opening
    for line in lines:
        balance += line.amount
        out.append(replace(line, balance=balance))
    return out


def _totals(label: str, lines: Sequence[Line], keys: Sequence[str]) -> list[dict[str, str]]:
    """A Summary's ColData: the label, then the sums of the amount columns."""
    sums = {
        "subt_nat_amount": sum((x.amount for x in lines), ZERO),
        "debt_amt": sum((x.debit for x in lines), ZERO),
        "credit_amt": sum((x.credit for x in lines), ZERO),
    }
    return cells(label, [money(sums[k]) if k in sums else "" for k in keys[1:]])


def _account_section(
    chart: Chart,
    account: Account,
    by_account: dict[int, list[Line]],
    keys: Sequence[str],
    openings: dict[int, Decimal],
    params: dict[str, str],
) -> tuple[Row | None, list[Line]]:
    """An account's section (None when it and its sub-accounts have nothing to show): its
    opening balance, its own postings, its sub-accounts' sections; the Summary totals
    them all. Also every line of the subtree, for the enclosing totals."""
    nested: list[Row] = []
    subtree: list[Line] = []
    for child in chart.children.get(account.id, []):
        row, lines = _account_section(chart, child, by_account, keys, openings, params)
        if row is not None:
            nested.append(row)
            subtree += lines
    own = by_account.get(account.id, [])
    opening = openings.get(account.id, ZERO)
    if not (own or opening or nested):
        return None, []
    rows: list[Row] = []
    if opening and "rbal_nat_amount" in keys:
        values = [money(opening) if k == "rbal_nat_amount" else "" for k in keys[1:]]
        rows.append({"ColData": cells("Beginning Balance", values), "type": "Data"})
    ordered = sort_lines(_with_balances(own, opening), params)
    rows += [{"ColData": line_cells(x, keys), "type": "Data"} for x in ordered]
    rows += nested
    subtree = own + subtree
    blank = [""] * (len(keys) - 1)
    built = section(
        header=cells(chart.label(account), blank, account.id),
        rows=rows,
        summary=_totals(f"Total for {chart.label(account)}", subtree, keys),
    )
    return built, subtree


def _tops(chart: Chart, types: Sequence[str] | None = None) -> list[Account]:
    """Accounts without a parent in the chart (of `types`), in type order then by name."""
    order = {kind: n for n, kind in enumerate(ACCOUNT_TYPE_ORDER)}
    return sorted(
        (
            a
            for a in chart.by_id.values()
            if (a.parent_id is None or a.parent_id not in chart.by_id)
            and (types is None or a.account_type in types)
        ),
        key=lambda a: (order.get(a.account_type, len(order)), a.name.lower()),
    )


def general_ledger(books: Books, params: dict[str, str], today: date) -> dict[str, Any]:
    """Every account's postings in the range, with opening and running balances."""
    start, end, macro, basis, keys = _request(books, params, today, LEDGER_COLUMNS)
    chart = Chart(books.accounts())
    sums = account_sums(books, basis)
    before = start - timedelta(days=1)
    opening_bs = sums.through(before)
    opening_pnl = sums.between(date(start.year, 1, 1), before)
    openings = {
        a.id: _shown(a, (opening_pnl if is_profit_and_loss(a) else opening_bs).get(a.id, ZERO))
        for a in chart.by_id.values()
    }
    by_account = _lines_by_account(chart, books.entries(basis, start, end))
    rows: list[Row] = []
    for account in _tops(chart):
        row, _ = _account_section(chart, account, by_account, keys, openings, params)
        if row is not None:
            rows.append(row)
    frame = ReportFrame("GeneralLedger", basis, start, end, None, macro)
    return report(frame, column_json(keys), rows, bool(by_account))


def _group_section(
    chart: Chart,
    group: Group,
    by_account: dict[int, list[Line]],
    keys: Sequence[str],
    params: dict[str, str],
) -> tuple[Row | None, Decimal]:
    rows: list[Row] = []
    lines: list[Line] = []
    for account in _tops(chart, group.types):
        row, subtree = _account_section(chart, account, by_account, keys, {}, params)
        if row is not None:
            rows.append(row)
            lines += subtree
    if not rows:
        return None, ZERO
    blank = [""] * (len(keys) - 1)
    built = section(
        group=group.group,
        header=cells(group.title, blank),
        rows=rows,
        summary=_totals(f"Total for {group.title}", lines, keys),
    )
    return built, sum((x.amount for x in lines), ZERO)


def profit_and_loss_detail(books: Books, params: dict[str, str], today: date) -> dict[str, Any]:
    """The P&L's postings, by account inside the P&L's groups, as Intuit's sample nests
    them: an "Ordinary Income/Expenses" section (Income, COGS, Gross Profit, Expenses;
    Summary: Net Operating Income), an "Other Income/Expenses" one when there are such
    postings (Summary: Net Other Income), and a Summary-only Net Income."""
    start, end, macro, basis, keys = _request(books, params, today, LEDGER_COLUMNS)
    chart = Chart(books.accounts())
    by_account = _lines_by_account(chart, books.entries(basis, start, end))
    pnl = {
        a: x
        for a, x in by_account.items()
        if a in chart.by_id and is_profit_and_loss(chart.by_id[a])
    }
    built = {g.group: _group_section(chart, g, pnl, keys, params) for g in PNL_GROUPS}
    total = {name: amount for name, (_, amount) in built.items()}
    gross = total["Income"] - total["COGS"]
    operating = gross - total["Expenses"]
    other = total["OtherIncome"] - total["OtherExpenses"]
    blank = [""] * (len(keys) - 1)

    def amount_cells(title: str, value: Decimal) -> list[dict[str, str]]:
        return cells(title, [money(value) if k == "subt_nat_amount" else "" for k in keys[1:]])

    def present(*names: str) -> list[Row]:
        return [row for row, _ in (built[name] for name in names) if row is not None]

    ordinary = present("Income", "COGS")
    ordinary.append(section(group="GrossProfit", summary=amount_cells("Gross Profit", gross)))
    ordinary += present("Expenses")
    rows: list[Row] = [
        section(
            header=cells("Ordinary Income/Expenses", blank),
            rows=ordinary,
            summary=amount_cells("Net Operating Income", operating),
        )
    ]
    if present("OtherIncome", "OtherExpenses"):
        rows.append(
            section(
                header=cells("Other Income/Expenses", blank),
                rows=present("OtherIncome", "OtherExpenses"),
                summary=amount_cells("Net Other Income", other),
            )
        )
    rows.append(section(group="NetIncome", summary=amount_cells("Net Income", operating + other)))
    frame = ReportFrame("ProfitAndLossDetail", basis, start, end, None, macro)
    return report(frame, column_json(keys), rows, bool(pnl))


def _main_posting(entry: Entry) -> Posting:
    for kinds in (("ar", "ap", "bank"), None):
        for posting in entry.postings:
            if posting.line_index is None and (kinds is None or posting.kind in kinds):
                return posting
    return entry.postings[0]


def transaction_list(books: Books, params: dict[str, str], today: date) -> dict[str, Any]:
    """One row per transaction in the range: its main account, the other side, its total."""
    start, end, macro, basis, keys = _request(books, params, today, LIST_COLUMNS)
    chart = Chart(books.accounts())
    lines: list[Line] = []
    for entry in books.entries(basis, start, end):
        if not entry.postings:
            continue
        main = _line(chart, entry, _main_posting(entry))
        lines.append(replace(main, amount=entry.total))
    rows: list[Row] = [
        {"ColData": line_cells(x, keys), "type": "Data"} for x in sort_lines(lines, params)
    ]
    frame = ReportFrame("TransactionList", basis, start, end, None, macro)
    return report(frame, column_json(keys), rows, bool(rows))
