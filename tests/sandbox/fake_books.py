"""A small hand-written `Books` for the report builders' pure unit tests: a chart with a
parent account that posts on its own, entries over two years, and a cash basis that
differs from accrual (an unpaid invoice is income on accrual only)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from decimal import Decimal

from qbo_backfill.sandbox.books.model import Account, Basis, Entry, NameRef, OpenItem, Posting

D = Decimal
ACME = NameRef("Customer", 1, "Acme")
BOLT = NameRef("Customer", 2, "Bolt Co")
PAPER = NameRef("Vendor", 7, "Paper Ltd")


def _account(
    id_: int, name: str, kind: str, sub: str, cls: str, parent: int | None = None
) -> Account:
    full = name if parent is None else f"{_NAMES[parent]}:{name}"
    return Account(id_, name, full, kind, sub, cls, parent, True)


_NAMES = {40: "Services"}
ACCOUNTS = [
    _account(1, "Checking", "Bank", "Checking", "Asset"),
    _account(2, "Accounts Receivable (A/R)", "Accounts Receivable", "AccountsReceivable", "Asset"),
    _account(3, "Truck", "Fixed Asset", "Vehicles", "Asset"),
    _account(10, "Accounts Payable (A/P)", "Accounts Payable", "AccountsPayable", "Liability"),
    _account(11, "Loan", "Long Term Liability", "NotesPayable", "Liability"),
    _account(20, "Opening Balance Equity", "Equity", "OpeningBalanceEquity", "Equity"),
    _account(21, "Retained Earnings", "Equity", "RetainedEarnings", "Equity"),
    _account(40, "Services", "Income", "ServiceFeeIncome", "Revenue"),
    _account(41, "Design", "Income", "ServiceFeeIncome", "Revenue", parent=40),
    _account(42, "Lawn", "Income", "ServiceFeeIncome", "Revenue", parent=40),
    _account(50, "Cost of Goods Sold", "Cost of Goods Sold", "SuppliesMaterialsCogs", "Expense"),
    _account(60, "Rent", "Expense", "RentOrLeaseOfBuildings", "Expense"),
    _account(70, "Interest Earned", "Other Income", "InterestEarned", "Revenue"),
]


def _entry(kind: str, id_: int, day: date, name: NameRef | None, *sides: tuple[int, str]) -> Entry:
    postings = tuple(
        Posting(account, D(amount), None if n == 0 else n - 1, "line", f"line {n}")
        for n, (account, amount) in enumerate(sides)
    )
    assert sum(p.amount for p in postings) == 0
    total = abs(postings[0].amount)
    return Entry(kind, id_, f"D{id_}", day, name, f"memo {id_}", total, postings)


COMMON = [
    _entry("JournalEntry", 1, date(2024, 1, 2), None, (1, "10000"), (20, "-10000")),
    _entry("Purchase", 2, date(2024, 2, 10), PAPER, (3, "4000"), (1, "-4000")),
    _entry("Deposit", 3, date(2024, 3, 1), None, (1, "5000"), (11, "-5000")),
    _entry("Purchase", 4, date(2024, 4, 30), PAPER, (60, "1000"), (1, "-1000")),
    _entry("Bill", 5, date(2024, 6, 15), PAPER, (10, "-300"), (50, "300")),
    _entry("Deposit", 6, date(2025, 2, 1), None, (1, "12.5"), (70, "-12.5")),
]
INVOICES = [  # accrual: income when invoiced
    _entry(
        "Invoice", 10, date(2024, 5, 5), ACME, (2, "1500"), (40, "-500"), (41, "-700"), (42, "-300")
    ),
    _entry("Invoice", 11, date(2025, 3, 9), BOLT, (2, "800"), (42, "-800")),
]
PAYMENTS_ACCRUAL = [
    _entry("Payment", 12, date(2024, 7, 1), ACME, (1, "1500"), (2, "-1500")),
]
PAYMENTS_CASH = [  # cash: income when paid (invoice 11 is never paid)
    _entry(
        "Payment", 12, date(2024, 7, 1), ACME, (1, "1500"), (40, "-500"), (41, "-700"), (42, "-300")
    ),
]
BILL_OPEN = OpenItem("Bill", 5, "D5", date(2024, 6, 15), date(2024, 7, 15), PAPER, D(300), D(300))
INVOICE_OPEN = OpenItem(
    "Invoice", 11, "D11", date(2025, 3, 9), date(2025, 4, 8), BOLT, D(800), D(800)
)


class FakeBooks:
    """A fixed company; `version` moves when a test calls `change()`."""

    def __init__(self) -> None:
        self.version = 1
        self.extra: list[Entry] = []

    def change(self, entry: Entry) -> None:
        self.extra.append(entry)
        self.version += 1

    def default_basis(self) -> Basis:
        return Basis.ACCRUAL

    def accounts(self) -> Sequence[Account]:
        return ACCOUNTS

    def entries(self, basis: Basis, start: date | None, end: date | None) -> Iterator[Entry]:
        own = [e for e in COMMON if not (basis is Basis.CASH and e.txn_type == "Bill")]
        own += INVOICES + PAYMENTS_ACCRUAL if basis is Basis.ACCRUAL else PAYMENTS_CASH
        own += self.extra
        chosen = [
            e
            for e in own
            if (start is None or e.txn_date >= start) and (end is None or e.txn_date <= end)
        ]
        return iter(sorted(chosen, key=lambda e: (e.txn_date, e.txn_type, e.txn_id)))

    def net_by_account(
        self, basis: Basis, start: date | None, end: date | None
    ) -> dict[int, Decimal]:
        sums: dict[int, Decimal] = {}
        for entry in self.entries(basis, start, end):
            for posting in entry.postings:
                sums[posting.account_id] = sums.get(posting.account_id, D(0)) + posting.amount
        return sums

    def open_receivables(self, as_of: date) -> list[OpenItem]:
        return [INVOICE_OPEN] if as_of >= INVOICE_OPEN.txn_date else []

    def open_payables(self, as_of: date) -> list[OpenItem]:
        return [BILL_OPEN] if as_of >= BILL_OPEN.txn_date else []
