"""What the sandbox knows about QBO entities: kinds and the fields a query may filter on.

Kept apart from the client's own catalog on purpose: the sandbox stands for Intuit's
server, so a wrong assumption in the client must not be mirrored here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = ["CATALOG", "CDC_EXCLUDED", "EntityInfo", "FieldSpec", "FieldType"]


class FieldType(Enum):
    ID = "id"
    DATE = "date"
    DATETIME = "datetime"
    STRING = "string"
    NUMBER = "number"
    BOOL = "bool"
    REF = "ref"


@dataclass(frozen=True)
class FieldSpec:
    """A filterable, sortable field: its canonical name, type and path in the payload."""

    name: str
    type: FieldType
    path: tuple[str, ...]


@dataclass(frozen=True)
class EntityInfo:
    """One entity: exact name, kind, and its filterable fields by lower-case name."""

    name: str
    kind: str  # "transaction" | "list" | "other"
    fields: dict[str, FieldSpec]
    has_active: bool

    def field(self, name: str) -> FieldSpec | None:
        """Resolve a field name in any case (`Metadata.createtime` too)."""
        return self.fields.get(name.lower())


def _spec(name: str, ftype: FieldType) -> FieldSpec:
    path = (*name.split("."), "value") if ftype is FieldType.REF else tuple(name.split("."))
    return FieldSpec(name, ftype, path)


_COMMON = {
    "Id": FieldType.ID,
    "MetaData.CreateTime": FieldType.DATETIME,
    "MetaData.LastUpdatedTime": FieldType.DATETIME,
}
_TRANSACTION = {
    "TxnDate": FieldType.DATE,
    "DocNumber": FieldType.STRING,
    "TotalAmt": FieldType.NUMBER,
}
_SALES = {"CustomerRef": FieldType.REF}
_PERSON = {
    "DisplayName": FieldType.STRING,
    "GivenName": FieldType.STRING,
    "FamilyName": FieldType.STRING,
    "CompanyName": FieldType.STRING,
}
_NAMED = {"Name": FieldType.STRING}

TRANSACTIONS = [
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
LISTS = [
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
OTHERS = [
    "Attachable",
    "CompanyInfo",
    "CompanyCurrency",
    "ExchangeRate",
    "Preferences",
    "RecurringTransaction",
    "TaxClassification",
]
_WITH_ACTIVE = frozenset(
    {
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
    }
)
_SALES_TXNS = {"Invoice", "SalesReceipt", "Estimate", "CreditMemo", "RefundReceipt", "Payment"}
_EXTRA: dict[str, dict[str, FieldType]] = {
    "Invoice": {"DueDate": FieldType.DATE, "Balance": FieldType.NUMBER},
    "Customer": {**_PERSON, "Balance": FieldType.NUMBER},
    "Vendor": _PERSON,
    "Employee": _PERSON,
    "Item": {
        "Name": FieldType.STRING,
        "Type": FieldType.STRING,
        "Sku": FieldType.STRING,
        "FullyQualifiedName": FieldType.STRING,
    },
    "TaxAgency": {"DisplayName": FieldType.STRING},
    "Account": {
        "Name": FieldType.STRING,
        "AccountType": FieldType.STRING,
        "Classification": FieldType.STRING,
        "FullyQualifiedName": FieldType.STRING,
    },
}

# CDC does not serve these (QBO_API.md, "Other endpoints").
CDC_EXCLUDED = frozenset({"JournalCode", "TaxAgency", "TimeActivity", "TaxCode", "TaxRate"})


def _build() -> dict[str, EntityInfo]:
    catalog: dict[str, EntityInfo] = {}
    for kind, names in (("transaction", TRANSACTIONS), ("list", LISTS), ("other", OTHERS)):
        for name in names:
            types = dict(_COMMON)
            if kind == "transaction":
                types.update(_TRANSACTION)
            if name in _SALES_TXNS:
                types.update(_SALES)
            if name in _WITH_ACTIVE:
                types["Active"] = FieldType.BOOL
            if kind == "list" and name not in _EXTRA:
                types.update(_NAMED)
            types.update(_EXTRA.get(name, {}))
            fields = {key.lower(): _spec(key, ftype) for key, ftype in types.items()}
            catalog[name] = EntityInfo(name, kind, fields, name in _WITH_ACTIVE)
    return catalog


CATALOG: dict[str, EntityInfo] = _build()
