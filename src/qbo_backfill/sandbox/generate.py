"""Deterministic company data: compact columns at start, full payloads built on demand.

A million invoices must fit in little memory, so a realm keeps only sorted arrays
(create time, last update, TxnDate, active flag) and builds each record's JSON from
(seed, realm, entity, position) when it is served. The same inputs always give the
same records.
"""

from __future__ import annotations

import random
import zlib
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from qbo_backfill.sandbox import clock

__all__ = ["BaseData", "CompanyData", "generate_company"]

_DAY = 86400
_USD = {"value": "USD", "name": "United States Dollar"}
_GIVEN = [
    "Amy",
    "Bill",
    "Cathy",
    "Diego",
    "Emma",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jamal",
    "Kira",
    "Liam",
    "Mona",
    "Nils",
    "Olga",
    "Pablo",
    "Quinn",
    "Rosa",
    "Sven",
    "Tara",
    "Umar",
    "Vera",
    "Wes",
    "Xena",
    "Yusuf",
    "Zoe",
]
_FAMILY = [
    "Lauterbach",
    "Sonnenschein",
    "Cool",
    "Dukes",
    "Freeman",
    "Gevelber",
    "Jeffers",
    "Kookies",
    "Lee",
    "Mason",
    "Newman",
    "Okafor",
    "Pham",
    "Reyes",
    "Shara",
    "Tanaka",
    "Usman",
    "Vasquez",
    "Weiskopf",
    "Young",
    "Zhou",
]
_TRADE = [
    "Bird Sanctuary",
    "Bakery",
    "Landscaping",
    "Pool Supply",
    "Garden Center",
    "Hardware",
    "Bike Shop",
    "Plumbing",
    "Cafe",
    "Books",
    "Fountains",
    "Roofing",
]
_STREETS = ("Main St", "Oak Ave", "Pine Rd", "Maple Dr", "Cedar Ln", "Elm St", "Bay Blvd")
_CITIES = (
    ("Bayshore", "CA", "94326"),
    ("Palo Alto", "CA", "94303"),
    ("Sunnyvale", "CA", "94086"),
    ("Middlefield", "CA", "94482"),
    ("Tucson", "AZ", "85719"),
)
_PRODUCTS = [
    "Rock Fountain",
    "Garden Hose",
    "Sprinkler Head",
    "Pump",
    "Concrete",
    "Design",
    "Gardening",
    "Hours",
    "Installation",
    "Lighting",
    "Maintenance & Repair",
    "Pest Control",
    "Refunds & Allowances",
    "Rocks",
    "Sod",
    "Soil",
    "Sprinkler Pipes",
    "Trimming",
    "Window Cleaning",
    "Tree Removal",
]
_ITEM_TYPES = ("Service", "NonInventory", "Inventory")
_TERMS = (("1", "Due on receipt", 0), ("2", "Net 15", 15), ("3", "Net 30", 30))
_INCOME = {"value": "79", "name": "Sales of Product Income"}
_EXPENSE = {"value": "80", "name": "Cost of Goods Sold"}


def _mix(*parts: object) -> int:
    """A stable integer from the parts (Python's hash() is salted per process)."""
    return zlib.crc32(":".join(map(str, parts)).encode()) * 1_000_003


@dataclass
class BaseData:
    """Generated records of one entity, by position; record Id = position + 1."""

    count: int
    create: array[int]
    lut: array[int]
    build: Callable[[int], dict[str, Any]]
    txn: array[int] | None = None
    active: bytearray | None = None
    fast_fields: dict[str, Callable[[int], Any]] = field(default_factory=dict)
    totals: Callable[[int], int] | None = None  # TotalAmt in cents, for reports
    _lut_perm: array[int] | None = None
    _txn_perm: array[int] | None = None

    def build_indexes(self) -> None:
        """Sort the permutation indexes (they are otherwise built on first use)."""
        _ = self.lut_perm
        if self.txn is not None:
            _ = self.txn_perm

    @property
    def lut_perm(self) -> array[int]:
        """Positions ordered by (LastUpdatedTime, Id)."""
        if self._lut_perm is None:
            lut = self.lut
            self._lut_perm = array("i", sorted(range(self.count), key=lut.__getitem__))
        return self._lut_perm

    @property
    def txn_perm(self) -> array[int]:
        """Positions ordered by (TxnDate, Id)."""
        if self._txn_perm is None:
            assert self.txn is not None  # noqa: S101 - only asked of transactions
            txn = self.txn
            self._txn_perm = array("i", sorted(range(self.count), key=txn.__getitem__))
        return self._txn_perm


def _meta(create: int, lut: int) -> dict[str, str]:
    return {"CreateTime": clock.format_local(create), "LastUpdatedTime": clock.format_local(lut)}


def _envelope(rng: random.Random, pos: int, create: array[int], lut: array[int]) -> dict[str, Any]:
    """The fields every QBO record carries: domain, sparse, Id, SyncToken, MetaData."""
    return {
        "domain": "QBO",
        "sparse": False,
        "Id": str(pos + 1),
        "SyncToken": _sync_token(rng, create[pos], lut[pos]),
        "MetaData": _meta(create[pos], lut[pos]),
    }


def _sync_token(rng: random.Random, create: int, lut: int) -> str:
    return "0" if lut == create else str(rng.randint(1, 3))


def _spread_list_times(
    rng: random.Random, count: int, start: int, span: int, end_cap: int
) -> tuple[array[int], array[int]]:
    """Create times nondecreasing by position; about a fifth were edited later."""
    create, lut = array("q"), array("q")
    step = span / max(count, 1)
    for pos in range(count):
        made = start + int((pos + rng.random()) * step)
        create.append(made)
        edited = rng.random() < 0.2
        lut.append(min(made + rng.randint(3600, 200 * _DAY), end_cap) if edited else made)
    return create, lut


def _address(rng: random.Random, addr_id: int) -> dict[str, str]:
    city, state, postal = rng.choice(_CITIES)
    return {
        "Id": str(addr_id),
        "Line1": f"{rng.randint(10, 9999)} {rng.choice(_STREETS)}",
        "City": city,
        "CountrySubDivisionCode": state,
        "PostalCode": postal,
    }


@dataclass
class _Party:
    display: str
    given: str
    family: str
    company: str
    email: str
    address: dict[str, str]


def _customers(key: int, count: int, start: int, end_cap: int) -> tuple[BaseData, list[_Party]]:
    rng = random.Random(key)
    create, lut = _spread_list_times(rng, count, start - 365 * _DAY, 365 * _DAY, end_cap)
    active = bytearray(0 if rng.random() < 0.1 else 1 for _ in range(count))
    parties: list[_Party] = []
    seen: set[str] = set()
    for pos in range(count):
        given, family = rng.choice(_GIVEN), rng.choice(_FAMILY)
        company = f"{family} {rng.choice(_TRADE)}"
        display = company if company not in seen else f"{company} {pos + 1}"
        seen.add(display)
        email = f"{given.lower()}@{family.lower()}.example.com"
        parties.append(_Party(display, given, family, company, email, _address(rng, pos + 1)))

    def build(pos: int) -> dict[str, Any]:
        party = parties[pos]
        rec_rng = random.Random(key + pos)
        return {
            "Taxable": False,
            "BillAddr": dict(party.address),
            "Job": False,
            "BillWithParent": False,
            "Balance": 0,
            "BalanceWithJobs": 0,
            "CurrencyRef": dict(_USD),
            "PreferredDeliveryMethod": "Print",
            "IsProject": False,
            **_envelope(rec_rng, pos, create, lut),
            "GivenName": party.given,
            "FamilyName": party.family,
            "FullyQualifiedName": party.display,
            "CompanyName": party.company,
            "DisplayName": party.display,
            "PrintOnCheckName": party.company,
            "Active": bool(active[pos]),
            "PrimaryPhone": {"FreeFormNumber": f"(650) 555-{1000 + pos % 9000:04d}"},
            "PrimaryEmailAddr": {"Address": party.email},
        }

    return BaseData(count, create, lut, build, active=active), parties


def _items(
    key: int, count: int, start: int, end_cap: int
) -> tuple[BaseData, list[str], array[int]]:
    rng = random.Random(key)
    create, lut = _spread_list_times(rng, count, start - 365 * _DAY, 365 * _DAY, end_cap)
    active = bytearray(0 if rng.random() < 0.1 else 1 for _ in range(count))
    names: list[str] = []
    prices = array("q")
    for pos in range(count):
        base = _PRODUCTS[pos % len(_PRODUCTS)]
        names.append(base if pos < len(_PRODUCTS) else f"{base} {pos // len(_PRODUCTS) + 1}")
        prices.append(rng.randint(5, 500) * 100 + rng.choice((0, 0, 50, 99)))

    def build(pos: int) -> dict[str, Any]:
        rec_rng = random.Random(key + pos)
        kind = _ITEM_TYPES[pos % 3]
        record: dict[str, Any] = {
            "Name": names[pos],
            "Description": f"{names[pos]} ({kind.lower()})",
            "Active": bool(active[pos]),
            "FullyQualifiedName": names[pos],
            "Taxable": kind != "Service",
            "UnitPrice": prices[pos] / 100,
            "Type": kind,
            "IncomeAccountRef": dict(_INCOME),
            "PurchaseCost": round(prices[pos] * 0.45) / 100,
            "ExpenseAccountRef": dict(_EXPENSE),
            "TrackQtyOnHand": kind == "Inventory",
            "Sku": f"SKU-{pos + 1:05d}",
            **_envelope(rec_rng, pos, create, lut),
        }
        if kind == "Inventory":
            record["QtyOnHand"] = rec_rng.randint(0, 500)
            record["InvStartDate"] = clock.ordinal_to_iso(clock.local_date_ordinal(create[pos]))
        return record

    return BaseData(count, create, lut, build, active=active), names, prices


def _invoice_times(
    key: int, count: int, start_day: int, end_day: int
) -> tuple[array[int], array[int], array[int]]:
    """Create times spread evenly over the period; TxnDate the same day or a little earlier."""
    rng = random.Random(key)
    start = clock.local_midnight_epoch(start_day)
    end = clock.local_midnight_epoch(end_day)
    step = (end - start) / max(count, 1)
    create, lut, txn = array("q"), array("q"), array("i")
    for pos in range(count):
        made = start + int((pos + rng.random()) * step)
        create.append(made)
        made_day = clock.local_date_ordinal(made)
        lag = 0 if rng.random() < 0.75 else rng.randint(1, 10)
        txn.append(max(made_day - lag, start_day))
        edited = rng.random() < 0.2
        lut.append(min(made + rng.randint(600, 45 * _DAY), end - 1) if edited else made)
    return create, lut, txn


def _invoices(
    key: int,
    count: int,
    period: tuple[int, int],
    parties: list[_Party],
    item_names: list[str],
    prices: array[int],
) -> BaseData:
    create, lut, txn = _invoice_times(key, count, *period)

    def lines(rec_rng: random.Random) -> tuple[list[tuple[int, int]], int]:
        picks = [
            (rec_rng.randrange(len(item_names)), rec_rng.randint(1, 10))
            for _ in range(rec_rng.randint(1, 4))
        ]
        return picks, sum(prices[item] * qty for item, qty in picks)

    def build(pos: int) -> dict[str, Any]:
        rec_rng = random.Random(key + pos)
        picks, total = lines(rec_rng)
        customer = rec_rng.randrange(len(parties))
        term_id, term_name, term_days = _TERMS[rec_rng.randrange(3)]
        paid = rec_rng.random() < 0.7
        party = parties[customer]
        line_json: list[dict[str, Any]] = [
            {
                "Id": str(n),
                "LineNum": n,
                "Description": item_names[item],
                "Amount": prices[item] * qty / 100,
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {
                    "ItemRef": {"value": str(item + 1), "name": item_names[item]},
                    "UnitPrice": prices[item] / 100,
                    "Qty": qty,
                    "ItemAccountRef": dict(_INCOME),
                    "TaxCodeRef": {"value": "NON"},
                },
            }
            for n, (item, qty) in enumerate(picks, start=1)
        ]
        line_json.append(
            {"Amount": total / 100, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}
        )
        txn_day = date.fromordinal(txn[pos])
        return {
            "AllowIPNPayment": False,
            "AllowOnlinePayment": False,
            "AllowOnlineCreditCardPayment": False,
            "AllowOnlineACHPayment": False,
            **_envelope(rec_rng, pos, create, lut),
            "CustomField": [
                {
                    "DefinitionId": "1",
                    "Name": "Crew #",
                    "Type": "StringType",
                    "StringValue": str(rec_rng.randint(1, 120)),
                }
            ],
            "DocNumber": str(1000 + pos + 1),
            "TxnDate": txn_day.isoformat(),
            "CurrencyRef": dict(_USD),
            "LinkedTxn": [],
            "Line": line_json,
            "TxnTaxDetail": {"TotalTax": 0},
            "CustomerRef": {"value": str(customer + 1), "name": party.display},
            "CustomerMemo": {"value": "Thank you for your business and have a great day!"},
            "BillAddr": dict(party.address),
            "ShipAddr": dict(party.address),
            "FreeFormAddress": True,
            "SalesTermRef": {"value": term_id, "name": term_name},
            "DueDate": (txn_day + timedelta(days=term_days)).isoformat(),
            "TotalAmt": total / 100,
            "ApplyTaxAfterDiscount": False,
            "PrintStatus": "NotSet",
            "EmailStatus": "NotSet",
            "BillEmail": {"Address": party.email},
            "Balance": 0 if paid else total / 100,
        }

    def total_cents(pos: int) -> int:
        return lines(random.Random(key + pos))[1]

    return BaseData(
        count,
        create,
        lut,
        build,
        txn=txn,
        fast_fields={"DocNumber": lambda pos: str(1000 + pos + 1)},
        totals=total_cents,
    )


def _company_info(realm: str, index: int, created: int) -> dict[str, Any]:
    address = {
        "Id": "1",
        "Line1": "2600 Marine Way",
        "City": "Mountain View",
        "CountrySubDivisionCode": "CA",
        "PostalCode": "94043",
    }
    name = f"Sandbox Company US {index + 1}"
    return {
        "CompanyName": name,
        "LegalName": name,
        "CompanyAddr": address,
        "CustomerCommunicationAddr": dict(address),
        "LegalAddr": dict(address),
        "PrimaryPhone": {},
        "CompanyStartDate": clock.ordinal_to_iso(clock.local_date_ordinal(created)),
        "FiscalYearStartMonth": "January",
        "Country": "US",
        "Email": {"Address": "noreply@quickbooks.example.com"},
        "WebAddr": {},
        "SupportedLanguages": "en",
        "NameValue": [
            {"Name": "NeoEnabled", "Value": "true"},
            {"Name": "IndustryType", "Value": "Landscaping Services"},
            {"Name": "SubscriptionStatus", "Value": "SUBSCRIBED"},
            {"Name": "OfferingSku", "Value": "QuickBooks Online Plus"},
        ],
        "domain": "QBO",
        "sparse": False,
        "Id": "1",
        "SyncToken": "0",
        "MetaData": _meta(created, created),
        "realmId": realm,
    }


@dataclass
class CompanyData:
    """One realm's generated data: base records per entity, and its CompanyInfo."""

    bases: dict[str, BaseData]
    company_info: dict[str, Any]


def generate_company(
    seed: int,
    realm: str,
    index: int,
    counts: tuple[int, int, int],
    period: tuple[date, date],
) -> CompanyData:
    """Customers, items and invoices of one realm, from (seed, realm) alone."""
    n_customers, n_items, n_invoices = counts
    start_day, end_day = period[0].toordinal(), period[1].toordinal()
    start = clock.local_midnight_epoch(start_day)
    end_cap = clock.local_midnight_epoch(end_day) - 1
    customers, parties = _customers(_mix(seed, realm, "Customer"), n_customers, start, end_cap)
    items, names, prices = _items(_mix(seed, realm, "Item"), n_items, start, end_cap)
    bases = {"Customer": customers, "Item": items}
    if n_invoices:
        bases["Invoice"] = _invoices(
            _mix(seed, realm, "Invoice"),
            n_invoices,
            (start_day, end_day),
            parties,
            names,
            prices,
        )
    return CompanyData(bases, _company_info(realm, index, start - 400 * _DAY))
