"""Customers, items and invoices: the sandbox's first entities, whose payloads other code's
tests pin down (do not change what these functions produce for a given seed)."""

from __future__ import annotations

import random
from array import array
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, NamedTuple

from qbo_backfill.sandbox import clock
from qbo_backfill.sandbox.generate.base import (
    DAY,
    USD,
    BaseData,
    UniqueNames,
    address,
    envelope,
    spread_list_times,
    spread_txn_times,
)
from qbo_backfill.sandbox.generate.words import FAMILY, GIVEN, PRODUCTS, TRADE

__all__ = [
    "COGS_ACCOUNT",
    "INCOME_ACCOUNT",
    "SALES_TERMS",
    "Party",
    "SaleFacts",
    "customers",
    "invoices",
    "items",
]

ITEM_TYPES = ("Service", "NonInventory", "Inventory")
SALES_TERMS = (("1", "Due on receipt", 0), ("2", "Net 15", 15), ("3", "Net 30", 30))
INCOME_ACCOUNT = {"value": "79", "name": "Sales of Product Income"}
COGS_ACCOUNT = {"value": "80", "name": "Cost of Goods Sold"}


class SaleFacts(NamedTuple):
    """What the books post for a generated invoice, read without building its JSON: the
    customer, each line (item Id, name, quantity, amount in cents), total and dates."""

    doc: str
    day: date
    customer_id: int
    customer_name: str
    lines: list[tuple[int, str, int, int]]
    total: int
    due: date


@dataclass
class Party:
    display: str
    given: str
    family: str
    company: str
    email: str
    address: dict[str, str]


def customers(key: int, count: int, start: int, end_cap: int) -> tuple[BaseData, list[Party]]:
    rng = random.Random(key)
    create, lut = spread_list_times(rng, count, start - 365 * DAY, 365 * DAY, end_cap)
    active = bytearray(0 if rng.random() < 0.1 else 1 for _ in range(count))
    parties: list[Party] = []
    names = UniqueNames()
    for pos in range(count):
        given, family = rng.choice(GIVEN), rng.choice(FAMILY)
        company = f"{family} {rng.choice(TRADE)}"
        display = names.claim(company, pos)
        email = f"{given.lower()}@{family.lower()}.example.com"
        parties.append(Party(display, given, family, company, email, address(rng, pos + 1)))

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
            "CurrencyRef": dict(USD),
            "PreferredDeliveryMethod": "Print",
            "IsProject": False,
            **envelope(rec_rng, pos, create, lut),
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


def items(key: int, count: int, start: int, end_cap: int) -> tuple[BaseData, list[str], array[int]]:
    rng = random.Random(key)
    create, lut = spread_list_times(rng, count, start - 365 * DAY, 365 * DAY, end_cap)
    active = bytearray(0 if rng.random() < 0.1 else 1 for _ in range(count))
    names: list[str] = []
    prices = array("q")
    for pos in range(count):
        base = PRODUCTS[pos % len(PRODUCTS)]
        names.append(base if pos < len(PRODUCTS) else f"{base} {pos // len(PRODUCTS) + 1}")
        prices.append(rng.randint(5, 500) * 100 + rng.choice((0, 0, 50, 99)))

    def build(pos: int) -> dict[str, Any]:
        rec_rng = random.Random(key + pos)
        kind = ITEM_TYPES[pos % 3]
        record: dict[str, Any] = {
            "Name": names[pos],
            "Description": f"{names[pos]} ({kind.lower()})",
            "Active": bool(active[pos]),
            "FullyQualifiedName": names[pos],
            "Taxable": kind != "Service",
            "UnitPrice": prices[pos] / 100,
            "Type": kind,
            "IncomeAccountRef": dict(INCOME_ACCOUNT),
            "PurchaseCost": round(prices[pos] * 0.45) / 100,
            "ExpenseAccountRef": dict(COGS_ACCOUNT),
            "TrackQtyOnHand": kind == "Inventory",
            "Sku": f"SKU-{pos + 1:05d}",
            **envelope(rec_rng, pos, create, lut),
        }
        if kind == "Inventory":
            record["QtyOnHand"] = rec_rng.randint(0, 500)
            record["InvStartDate"] = clock.ordinal_to_iso(clock.local_date_ordinal(create[pos]))
        return record

    return BaseData(count, create, lut, build, active=active), names, prices


def invoices(
    key: int,
    count: int,
    period: tuple[int, int],
    parties: list[Party],
    item_names: list[str],
    prices: array[int],
) -> BaseData:
    create, lut, txn = spread_txn_times(key, count, *period)

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
        term_id, term_name, term_days = SALES_TERMS[rec_rng.randrange(3)]
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
                    "ItemAccountRef": dict(INCOME_ACCOUNT),
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
            **envelope(rec_rng, pos, create, lut),
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
            "CurrencyRef": dict(USD),
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

    def facts(pos: int) -> SaleFacts:
        """The same draws as `build`, in the same order, up to the terms."""
        rec_rng = random.Random(key + pos)
        picks, total = lines(rec_rng)
        customer = rec_rng.randrange(len(parties))
        term_days = SALES_TERMS[rec_rng.randrange(3)][2]
        sold = [(item + 1, item_names[item], qty, prices[item] * qty) for item, qty in picks]
        day = date.fromordinal(txn[pos])
        due = day + timedelta(days=term_days)
        doc = str(1000 + pos + 1)
        return SaleFacts(doc, day, customer + 1, parties[customer].display, sold, total, due)

    return BaseData(
        count,
        create,
        lut,
        build,
        txn=txn,
        fast_fields={"DocNumber": lambda pos: str(1000 + pos + 1)},
        totals=total_cents,
        money=facts,
    )
