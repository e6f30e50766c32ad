"""The catalog of queryable QBO entities: kind, and the field a window filters on."""

from __future__ import annotations

from collections.abc import Iterable
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


_T, _L, _O = EntityKind.TRANSACTION, EntityKind.LIST, EntityKind.OTHER
# Every queryable entity and its kind (QBO_API.md, "Entities"): transactions carry TxnDate.
_KINDS: dict[str, EntityKind] = {
    "Account": _L,
    "Attachable": _O,
    "Bill": _T,
    "BillPayment": _T,
    "Budget": _L,
    "Class": _L,
    "CompanyCurrency": _O,
    "CompanyInfo": _O,
    "CreditCardPayment": _T,
    "CreditMemo": _T,
    "Customer": _L,
    "CustomerType": _L,
    "Department": _L,
    "Deposit": _T,
    "Employee": _L,
    "Estimate": _T,
    "ExchangeRate": _O,
    "Invoice": _T,
    "Item": _L,
    "JournalEntry": _T,
    "Payment": _T,
    "PaymentMethod": _L,
    "Preferences": _O,
    "Purchase": _T,
    "PurchaseOrder": _T,
    "RecurringTransaction": _O,
    "RefundReceipt": _T,
    "SalesReceipt": _T,
    "TaxAgency": _L,
    "TaxClassification": _O,
    "TaxCode": _L,
    "TaxRate": _L,
    "Term": _L,
    "TimeActivity": _T,
    "Transfer": _T,
    "Vendor": _L,
    "VendorCredit": _T,
}
# Every list entity but these two hides inactive records unless the query names `Active`.
_LISTS_WITH_ACTIVE = frozenset(n for n, k in _KINDS.items() if k is _L) - {
    "CustomerType",
    "TaxAgency",
}
# CDC refuses these; a sync reads their changes by MetaData.LastUpdatedTime instead.
_NOT_IN_CDC = frozenset(["JournalCode", "TaxAgency", "TimeActivity", "TaxCode", "TaxRate"])

CATALOG: dict[str, Entity] = {name: Entity(name, kind) for name, kind in _KINDS.items()}
_BY_LOWER = {name.lower(): entity for name, entity in CATALOG.items()}
ALL = "all"
EVERY_ENTITY: tuple[Entity, ...] = tuple(
    sorted(CATALOG.values(), key=lambda e: (e.kind is EntityKind.TRANSACTION, e.name))
)


def resolve_entity(name: str) -> Entity:
    """Find an entity by name in any case (`invoice`, `Invoice`, `INVOICE`)."""
    entity = _BY_LOWER.get(name.strip().lower())
    if entity is None:
        raise ConfigError(
            f"unknown entity {name!r}; known entities: {', '.join(sorted(CATALOG))}, or {ALL!r}"
        )
    return entity


def resolve_entities(names: Iterable[str]) -> tuple[Entity, ...]:
    """Entities by name in any case, each once, in the order given; `all` stands for every
    queryable entity (lists first: the transactions that name them come after)."""
    found: dict[str, Entity] = {}
    for name in names:
        if name.strip().lower() == ALL:
            found.update((entity.name, entity) for entity in EVERY_ENTITY)
        else:
            entity = resolve_entity(name)
            found[entity.name] = entity
    return tuple(found.values())
