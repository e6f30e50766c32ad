"""The columns of the detail reports (GeneralLedger, ProfitAndLossDetail, TransactionList):
QBO's ColKeys, their titles and types, and what each cell of a line holds.

A line is one posting (ledger reports) or one transaction (TransactionList). The
transaction-type cell carries the transaction's Id, the account cells the Account's Id.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from qbo_backfill.sandbox.books.model import Account, Entry, NameRef
from qbo_backfill.sandbox.reports.params import ReportError
from qbo_backfill.sandbox.reports.shape import column, money, money_or_blank

__all__ = ["COLUMNS", "Line", "parse_columns", "sort_lines", "txn_label"]

Cell = dict[str, str]
# The label QBO prints for a transaction type where it is not the entity name spaced out.
_LABELS = {
    "Purchase": "Expense",
    "BillPayment": "Bill Payment (Check)",
    "Item": "Inventory Starting Value",  # the books' entry for an item's starting stock
}


# Paid from a credit card account, QBO names these differently.
_CARD_LABELS = {"Purchase": "Credit Card Expense", "BillPayment": "Bill Payment (Credit Card)"}


def txn_label(txn_type: str, paid_by_card: bool = False) -> str:
    """`JournalEntry` -> `Journal Entry`; QBO's own words for a few (a Purchase or a
    BillPayment paid from a credit card account reads as such)."""
    if paid_by_card and txn_type in _CARD_LABELS:
        return _CARD_LABELS[txn_type]
    return _LABELS.get(txn_type) or re.sub(r"(?<=[a-z])(?=[A-Z])", " ", txn_type)


@dataclass(frozen=True)
class Line:
    """One line of a detail report, before it is printed."""

    entry: Entry
    account: Account | None  # the posting's account (TransactionList: the main account)
    split: str  # the other side's account name, or "-Split-"
    split_id: int | None
    amount: Decimal  # shown sign
    debit: Decimal
    credit: Decimal
    memo: str
    name: NameRef | None
    balance: Decimal = Decimal(0)
    label: str = ""  # the transaction type as QBO prints it


def _ref(value: str, ref: int | None) -> Cell:
    return {"value": value} if ref is None else {"value": value, "id": str(ref)}


def _split_cell(line: Line) -> Cell:
    """The other side's account; `-Split-` carries an empty id, as in Intuit's sample."""
    if line.split == "-Split-":
        return {"id": "", "value": line.split}
    return _ref(line.split, line.split_id)


def _name(line: Line) -> Cell:
    return _ref(line.name.name, line.name.id) if line.name else {"value": ""}


def _account(line: Line) -> Cell:
    if line.account is None:
        return {"value": ""}
    return _ref(line.account.fully_qualified_name, line.account.id)


@dataclass(frozen=True)
class ColumnSpec:
    """One ColKey: its title, ColType, cell and sort key."""

    title: str
    kind: str
    cell: Callable[[Line], Cell]
    key: Callable[[Line], Any]


COLUMNS: dict[str, ColumnSpec] = {
    "tx_date": ColumnSpec(
        "Date",
        "Date",
        lambda x: {"value": x.entry.txn_date.isoformat()},
        lambda x: x.entry.txn_date,
    ),
    "txn_type": ColumnSpec(
        "Transaction Type",
        "String",
        lambda x: _ref(x.label, x.entry.txn_id),
        lambda x: x.label,
    ),
    "doc_num": ColumnSpec(
        "Num", "String", lambda x: {"value": x.entry.doc_number}, lambda x: x.entry.doc_number
    ),
    "is_no_post": ColumnSpec("Posting", "Boolean", lambda _x: {"value": "Yes"}, lambda _x: 0),
    "name": ColumnSpec("Name", "String", _name, lambda x: x.name.name if x.name else ""),
    "memo": ColumnSpec("Memo/Description", "String", lambda x: {"value": x.memo}, lambda x: x.memo),
    "account_name": ColumnSpec(
        "Account",
        "String",
        _account,
        lambda x: x.account.fully_qualified_name if x.account else "",
    ),
    "split_acc": ColumnSpec("Split", "String", _split_cell, lambda x: x.split),
    "subt_nat_amount": ColumnSpec(
        "Amount", "Money", lambda x: {"value": money(x.amount)}, lambda x: x.amount
    ),
    "debt_amt": ColumnSpec(
        "Debit", "Money", lambda x: {"value": money_or_blank(x.debit)}, lambda x: x.debit
    ),
    "credit_amt": ColumnSpec(
        "Credit", "Money", lambda x: {"value": money_or_blank(x.credit)}, lambda x: x.credit
    ),
    "rbal_nat_amount": ColumnSpec(
        "Balance", "Money", lambda x: {"value": money(x.balance)}, lambda x: x.balance
    ),
}
COLUMNS["subt_nat_home_amount"] = COLUMNS["subt_nat_amount"]  # the home-currency amount
COLUMNS["other_account"] = ColumnSpec(
    "Split", "String", COLUMNS["split_acc"].cell, COLUMNS["split_acc"].key
)


def parse_columns(value: str | None, default: Sequence[str]) -> list[str]:
    """`columns=` as ColKeys (comma-separated); the report's defaults when absent."""
    if not value:
        return list(default)
    keys = [k.strip() for k in value.split(",") if k.strip()]
    unknown = [k for k in keys if k not in COLUMNS]
    if unknown or not keys:
        known = ", ".join(sorted(COLUMNS))
        raise ReportError(
            f"columns: unknown ColKey {', '.join(unknown) or '(none)'}; known: {known}"
        )
    return keys


def column_json(keys: Sequence[str]) -> list[dict[str, Any]]:
    """The Columns of a detail report."""
    return [column(COLUMNS[k].title, COLUMNS[k].kind, k) for k in keys]


def sort_lines(lines: list[Line], params: dict[str, str]) -> list[Line]:
    """`sort_by` (a ColKey) and `sort_order` (ascend/descend); the books' order otherwise
    (date, type, Id), which also breaks ties."""
    by = params.get("sort_by")
    order = params.get("sort_order", "ascend")
    if order not in ("ascend", "descend"):
        raise ReportError(f"sort_order must be ascend or descend, got {order!r}")
    if not by:
        return lines[::-1] if order == "descend" else lines
    spec = COLUMNS.get(by)
    if spec is None:
        raise ReportError(f"sort_by: unknown ColKey {by!r}")
    return sorted(lines, key=spec.key, reverse=order == "descend")


def line_cells(line: Line, keys: Sequence[str]) -> list[Cell]:
    """A line's ColData."""
    return [COLUMNS[k].cell(line) for k in keys]
