"""What the report endpoints read from a company's books, typed.

Money is `Decimal` throughout (never float). A posting's amount is signed: a debit is
positive, a credit negative, so every entry's postings sum to zero. Dates are the
company-local `TxnDate` of the transaction (cash basis: the date the cash moved).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Protocol

__all__ = ["Account", "Basis", "Books", "Entry", "NameRef", "OpenItem", "Posting"]


class Basis(Enum):
    """QBO's `accounting_method`."""

    ACCRUAL = "Accrual"
    CASH = "Cash"


@dataclass(frozen=True)
class Account:
    """One account of the chart, as reports group and label it."""

    id: int
    name: str
    fully_qualified_name: str
    account_type: str  # QBO AccountType: "Bank", "Accounts Receivable", "Income", ...
    account_sub_type: str
    classification: str  # "Asset" | "Liability" | "Equity" | "Revenue" | "Expense"
    parent_id: int | None
    active: bool


@dataclass(frozen=True)
class NameRef:
    """The customer, vendor or employee a transaction or line names."""

    entity: str  # "Customer" | "Vendor" | "Employee"
    id: int
    name: str


@dataclass(frozen=True)
class Posting:
    """One side of an entry on one account."""

    account_id: int
    amount: Decimal  # debit > 0, credit < 0
    line_index: int | None  # position in the entity's `Line` array; None for a posting
    # no line carries (the AR/AP/bank side, sales tax, inventory cost)
    kind: str  # "line", "ar", "ap", "bank", "tax", "discount", "inventory_cost", ...
    # (also "unapplied": a payment's amount not applied to a document, on A/R or A/P, or on
    # the cash basis in Unapplied Cash Payment Income / Bill Payment Expense;
    # "inventory_start": an item's starting inventory; "unbalanced": what a record changed
    # through the admin API leaves when it does not add up, to an Uncategorized account)
    description: str = ""
    name: NameRef | None = None


@dataclass(frozen=True)
class Entry:
    """One transaction's postings, balanced (they sum to zero)."""

    txn_type: str  # QBO entity name: "Invoice", "Payment", "JournalEntry", ... ("Item":
    # an inventory item's starting value, Inventory Asset against Opening Balance Equity)
    txn_id: int
    doc_number: str
    txn_date: date
    name: NameRef | None
    memo: str
    total: Decimal  # the amount QBO shows for the transaction (TotalAmt, or Amount)
    postings: tuple[Posting, ...]


@dataclass(frozen=True)
class OpenItem:
    """An invoice or bill (or an unapplied credit or payment) still open at a date."""

    txn_type: str
    txn_id: int
    doc_number: str
    txn_date: date
    due_date: date | None
    name: NameRef
    amount: Decimal  # the transaction's total
    open_balance: Decimal  # what is still open at the date (credits negative)


class Books(Protocol):
    """A company's books; every answer reflects the records as they are now."""

    @property
    def version(self) -> int:
        """Changes whenever a record that posts changes (for caches)."""
        ...

    def default_basis(self) -> Basis:
        """The company's reporting basis (Preferences), used when a request names none."""
        ...

    def accounts(self) -> Sequence[Account]:
        """The chart of accounts, inactive ones included, by Id."""
        ...

    def entries(self, basis: Basis, start: date | None, end: date | None) -> Iterator[Entry]:
        """Entries dated in [start, end] (closed, either end open when None), ordered by
        (txn_date, txn_type, txn_id)."""
        ...

    def open_receivables(self, as_of: date) -> list[OpenItem]:
        """Invoices (and unapplied credits and payments) open at the end of `as_of`."""
        ...

    def open_payables(self, as_of: date) -> list[OpenItem]:
        """Bills (and unapplied vendor credits and bill payments) open at `as_of`."""
        ...

    def net_by_account(
        self, basis: Basis, start: date | None, end: date | None
    ) -> dict[int, Decimal]:
        """Net debit amount (debit > 0) per account over the entries dated in [start, end]:
        the sum of `entries(basis, start, end)` postings by account, without making them
        (fast: a balance sheet at a date is `net_by_account(basis, None, date)`).
        Accounts without postings are absent."""
        ...
