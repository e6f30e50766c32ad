"""Fields QBO computes from the books, written into records as they are served.

`Invoice.Balance`, `Bill.Balance`, `CreditMemo.RemainingCredit`/`Balance`,
`VendorCredit.Balance` and `Payment.UnappliedAmt` follow the payments' applications (cheap:
payments only). `Customer.Balance`/`BalanceWithJobs`, `Vendor.Balance`,
`Account.CurrentBalance`/`CurrentBalanceWithSubAccounts` and an inventory item's
`QtyOnHand` follow the accrual postings (they build the books).

A record built ahead (`--prerender`) holds the values of the moment it was built; `stale`
names the records whose values have changed since, so they are built again when served.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from qbo_backfill.sandbox.books.company_books import CompanyBooks
from qbo_backfill.sandbox.books.rules import cents

__all__ = ["DERIVED_ENTITIES", "DerivedFields"]

Record = dict[str, Any]
_DOCUMENTS = ("Invoice", "Bill", "CreditMemo", "VendorCredit")
DERIVED_ENTITIES = frozenset(
    {*_DOCUMENTS, "Payment", "BillPayment", "Customer", "Vendor", "Account", "Item"}
)


def json_amount(amount: int) -> Any:
    """Cents as QBO's JSON number (0 as the integer QBO sends for a settled balance)."""
    return amount / 100 if amount else 0


def _json_qty(qty: Decimal) -> Any:
    return int(qty) if qty == qty.to_integral_value() else float(qty)


class DerivedFields:
    """Writes the books' derived fields into records of one company."""

    def __init__(self, books: CompanyBooks) -> None:
        self.books = books
        self._snapshot: tuple[int, int, dict[Any, int], dict[Any, int]] | None = None
        self._appliers: dict[str, Callable[[Record, int], None]] = {
            **{name: self._document_of(name) for name in _DOCUMENTS},
            "Payment": self._payment,
            "BillPayment": lambda record, record_id: None,
            "Customer": self._customer,
            "Vendor": self._vendor,
            "Account": self._account,
            "Item": self._item,
        }

    def apply(self, entity: str, record: Record) -> Record:
        """Set the record's derived fields to what the books say now; returns it."""
        applier = self._appliers.get(entity)
        record_id = str(record.get("Id") or "")
        if applier is not None and record_id.isdigit():
            applier(record, int(record_id))
        return record

    def _document_of(self, entity: str) -> Callable[[Record, int], None]:
        return lambda record, record_id: self._document(entity, record, record_id)

    def _document(self, entity: str, record: Record, record_id: int) -> None:
        total = cents(record.get("TotalAmt"))
        still = json_amount(self.books.applications().open_cents(entity, record_id, total))
        if entity == "CreditMemo":
            record["RemainingCredit"] = still
        record["Balance"] = still

    def _payment(self, record: Record, record_id: int) -> None:
        unapplied = self.books.applications().unapplied_cents("Payment", record_id)
        record["UnappliedAmt"] = json_amount(unapplied)

    def _customer(self, record: Record, record_id: int) -> None:
        own = self.books.party_balance("Customer", record_id)
        jobs = own + sum(
            (self.books.party_balance("Customer", child) for child in self.books.jobs(record_id)),
            Decimal(0),
        )
        record["Balance"] = json_amount(int(own * 100))
        record["BalanceWithJobs"] = json_amount(int(jobs * 100))

    def _vendor(self, record: Record, record_id: int) -> None:
        record["Balance"] = json_amount(int(self.books.party_balance("Vendor", record_id) * 100))

    def _account(self, record: Record, record_id: int) -> None:
        own = self.books.account_balance(record_id)
        with_subs = self.books.account_balance(record_id, with_subaccounts=True)
        record["CurrentBalance"] = json_amount(int(own * 100))
        record["CurrentBalanceWithSubAccounts"] = json_amount(int(with_subs * 100))

    def _item(self, record: Record, record_id: int) -> None:
        if record.get("Type") == "Inventory" or "QtyOnHand" in record:
            record["QtyOnHand"] = _json_qty(self.books.quantity_on_hand(record_id))

    # ---- records built ahead -----------------------------------------------------------
    def snapshot(self) -> None:
        """Remember the values records were built ahead with."""
        apps = self.books.applications()
        everything = self.books.source.version()
        self._snapshot = (self.books.version, everything, dict(apps.applied), dict(apps.unapplied))

    def stale(self, entity: str) -> frozenset[int] | None:
        """Ids of `entity` whose derived fields changed since `snapshot` (None: maybe all)."""
        if entity not in DERIVED_ENTITIES or self._snapshot is None:
            return frozenset()
        version, everything, applied, unapplied = self._snapshot
        if entity in ("Customer", "Vendor", "Account", "Item"):
            # Small lists: after any change, build them all again.
            return frozenset() if everything == self.books.source.version() else None
        if version == self.books.version:
            return frozenset()
        apps = self.books.applications()
        before, now = (
            (unapplied, apps.unapplied) if entity == "Payment" else (applied, apps.applied)
        )
        keys = {key for key in (*before, *now) if key[0] == entity}
        return frozenset(key[1] for key in keys if before.get(key) != now.get(key))
