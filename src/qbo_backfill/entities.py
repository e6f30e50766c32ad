"""The catalog of queryable QBO entities: kind, and the field a window filters on."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from qbo_backfill.errors import ConfigError


class EntityKind(Enum):
    TRANSACTION = "transaction"
    LIST = "list"
    OTHER = "other"


@dataclass(frozen=True)
class Entity:
    """One QBO entity: its exact (case-sensitive) API name and how it is windowed."""

    name: str
    kind: EntityKind

    @property
    def table_name(self) -> str:
        """Raw table name, as the seed named them: qb_invoice, qb_customer, ..."""
        return "qb_" + self.name.lower()

    @property
    def date_field(self) -> str | None:
        """The company-local date a transaction window filters on; None for others."""
        return "TxnDate" if self.kind is EntityKind.TRANSACTION else None

    @property
    def has_active_flag(self) -> bool:
        """List entities hide inactive rows unless the query names `Active`."""
        return self.name in _LISTS_WITH_ACTIVE

    @property
    def in_cdc(self) -> bool:
        """Whether change data capture (`/cdc`) serves this entity (QBO_API.md)."""
        return self.name not in _NOT_IN_CDC


_TRANSACTIONS = [
    "Bill",
    "BillPayment",
    "CreditCardPayment",
    "CreditMemo",
    "Deposit",
    "Estimate",
    "Invoice",
    "JournalEntry",
    "Payment",
    "Purchase",
    "PurchaseOrder",
    "RefundReceipt",
    "SalesReceipt",
    "TimeActivity",
    "Transfer",
    "VendorCredit",
]
_LISTS = [
    "Account",
    "Budget",
    "Class",
    "Customer",
    "CustomerType",
    "Department",
    "Employee",
    "Item",
    "PaymentMethod",
    "TaxAgency",
    "TaxCode",
    "TaxRate",
    "Term",
    "Vendor",
]
_OTHERS = [
    "Attachable",
    "CompanyInfo",
    "CompanyCurrency",
    "ExchangeRate",
    "Preferences",
    "RecurringTransaction",
    "TaxClassification",
]
_LISTS_WITH_ACTIVE = frozenset(
    [
        "Account",
        "Class",
        "Customer",
        "Department",
        "Employee",
        "Item",
        "PaymentMethod",
        "TaxCode",
        "TaxRate",
        "Term",
        "Vendor",
        "Budget",
    ]
)
# CDC refuses these; a sync reads their changes by MetaData.LastUpdatedTime instead.
_NOT_IN_CDC = frozenset(["JournalCode", "TaxAgency", "TimeActivity", "TaxCode", "TaxRate"])

CATALOG: dict[str, Entity] = {
    name: Entity(name, kind)
    for names, kind in (
        (_TRANSACTIONS, EntityKind.TRANSACTION),
        (_LISTS, EntityKind.LIST),
        (_OTHERS, EntityKind.OTHER),
    )
    for name in names
}
_BY_LOWER = {name.lower(): entity for name, entity in CATALOG.items()}


def resolve_entity(name: str) -> Entity:
    """Find an entity by name in any case (`invoice`, `Invoice`, `INVOICE`)."""
    entity = _BY_LOWER.get(name.strip().lower())
    if entity is None:
        raise ConfigError(f"unknown entity {name!r}; known entities: {', '.join(sorted(CATALOG))}")
    return entity
