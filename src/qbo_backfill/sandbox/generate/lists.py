"""List entities other than Customer and Item: accounts, vendors, employees, terms, tax...

Lists are small, so their bodies are built once at start as plain rows; each record adds
its envelope (Id, SyncToken, MetaData) when served, like every generated record. Every
list has its own random stream, derived from (seed, realm, entity).
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from qbo_backfill.sandbox import clock
from qbo_backfill.sandbox.generate.base import (
    USD,
    BaseData,
    UniqueNames,
    address,
    envelope,
    mix,
)
from qbo_backfill.sandbox.generate.base import spread_list_times as _list_times
from qbo_backfill.sandbox.generate.words import (
    ACCOUNT_CHART,
    CLASSES,
    CUSTOMER_TYPES,
    DEPARTMENTS,
    FAMILY,
    GIVEN,
    PAYMENT_METHODS,
    PINNED_ACCOUNTS,
    TERMS,
    VENDORS,
)

__all__ = ["POSTED", "ListData", "default_chart", "generate_lists"]

Row = dict[str, Any]
_YEAR = 365 * 86400
_CLASSIFICATION = {
    "Bank": "Asset",
    "Other Current Asset": "Asset",
    "Fixed Asset": "Asset",
    "Accounts Receivable": "Asset",
    "Accounts Payable": "Liability",
    "Credit Card": "Liability",
    "Other Current Liability": "Liability",
    "Long Term Liability": "Liability",
    "Equity": "Equity",
    "Income": "Revenue",
    "Other Income": "Revenue",
    "Expense": "Expense",
    "Other Expense": "Expense",
    "Cost of Goods Sold": "Expense",
}
_BALANCE_SHEET = ("Bank", "Credit Card", "Accounts Receivable", "Accounts Payable")
# Accounts the books post to by rule (besides the pinned ones): always active.
POSTED = frozenset({46, 52, 66, 82, 83, 88, 89, 90})


@dataclass
class ListData:
    """A list entity's records, and a `{"value", "name"}` reference to each, by position."""

    base: BaseData
    refs: list[dict[str, str]]
    rows: list[Row]


def _list_data(key: int, rows: list[Row], period: tuple[int, int]) -> ListData:
    """Records from rows: created over the year before the data starts, some edited since."""
    start, end_cap = period
    create, lut = _list_times(random.Random(key), len(rows), start - _YEAR, _YEAR, end_cap)
    with_active = any("Active" in row for row in rows)
    active = bytearray(1 if row.get("Active", True) else 0 for row in rows)

    def build(pos: int) -> dict[str, Any]:
        return {**copy.deepcopy(rows[pos]), **envelope(random.Random(key + pos), pos, create, lut)}

    refs = [{"value": str(pos + 1), "name": _label(row)} for pos, row in enumerate(rows)]
    base = BaseData(len(rows), create, lut, build, active=active if with_active else None)
    return ListData(base, refs, rows)


def _label(row: Row) -> str:
    for key in ("FullyQualifiedName", "DisplayName", "Name", "Code"):
        if key in row:
            return str(row[key])
    return ""


def _tree(names: list[str], sub_flag: str) -> list[Row]:
    """Rows of a list whose names may be `Parent:Child`: Name, FullyQualifiedName, ParentRef."""
    ids = {name: str(pos + 1) for pos, name in enumerate(names)}
    rows: list[Row] = []
    for name in names:
        parent, _, leaf = name.rpartition(":")
        row: Row = {"Name": leaf, sub_flag: bool(parent)}
        if parent:
            row["ParentRef"] = {"value": ids[parent]}
        row["FullyQualifiedName"] = name
        rows.append(row)
    return rows


def _accounts(rng: random.Random, _count: int) -> list[Row]:
    free = iter(ACCOUNT_CHART)
    size = len(ACCOUNT_CHART) + len(PINNED_ACCOUNTS)
    chart = [PINNED_ACCOUNTS.get(n) or next(free) for n in range(1, size + 1)]
    rows = _tree([name for name, _, _ in chart], "SubAccount")
    parents = {row["ParentRef"]["value"] for row in rows if "ParentRef" in row}
    for pos, (row, (_, kind, subtype)) in enumerate(zip(rows, chart, strict=True)):
        keep = pos + 1 in PINNED_ACCOUNTS or str(pos + 1) in parents
        balance = rng.randint(-5000, 250_000) / 100 if kind in _BALANCE_SHEET else 0
        active = keep or rng.random() >= 0.06  # (drawn as before the books existed)
        row.update(
            {
                "Active": active or pos + 1 in POSTED,
                "Classification": _CLASSIFICATION[kind],
                "AccountType": kind,
                "AccountSubType": subtype,
                "CurrentBalance": balance,
                "CurrentBalanceWithSubAccounts": balance,
                "CurrencyRef": dict(USD),
            }
        )
    return rows


def default_chart() -> list[Row]:
    """The chart's rows for a company generated without the other lists (`other_records`
    0): the same accounts, so the books of its invoices name real accounts."""
    return _accounts(random.Random(0), 0)


def _flagged_tree(table: tuple[tuple[str, bool], ...], sub_flag: str) -> list[Row]:
    rows = _tree([name for name, _ in table], sub_flag)
    for row, (_, active) in zip(rows, table, strict=True):
        row["Active"] = active
    return rows


def _terms(_rng: random.Random, _count: int) -> list[Row]:
    return [
        {"Name": name, "Active": True, "Type": "STANDARD", "DueDays": days, "DiscountDays": 0}
        for name, days in TERMS
    ]


def _payment_methods(_rng: random.Random, _count: int) -> list[Row]:
    return [
        {"Name": name, "Active": active, "Type": kind} for name, kind, active in PAYMENT_METHODS
    ]


def _tax_agencies(_rng: random.Random, _count: int) -> list[Row]:
    names = ("California Department of Tax and Fee Administration", "Arizona Dept. of Revenue")
    return [
        {"DisplayName": name, "TaxTrackedOnSales": True, "TaxTrackedOnPurchases": False}
        for name in names
    ]


_RATES = (("California", 7.25, "1"), ("Santa Clara County", 1.25, "1"), ("Arizona", 5.6, "2"))


def _tax_rates(_rng: random.Random, _count: int) -> list[Row]:
    return [
        {
            "Name": name,
            "Description": f"{name} sales tax",
            "Active": True,
            "RateValue": rate,
            "AgencyRef": {"value": agency},
            "SpecialTaxType": "NONE",
            "DisplayType": "ReadOnly",
            "EffectiveTaxRate": [{"RateValue": rate, "EffectiveDate": "2017-01-01T00:00:00-08:00"}],
        }
        for name, rate, agency in _RATES
    ]


def _tax_codes(_rng: random.Random, _count: int) -> list[Row]:
    def code(name: str, rates: tuple[int, ...], active: bool) -> Row:
        details = [
            {
                "TaxRateRef": {"value": str(r), "name": _RATES[r - 1][0]},
                "TaxTypeApplicable": "TaxOnAmount",
                "TaxOrder": 0,
            }
            for r in rates
        ]
        return {
            "Name": name,
            "Description": name,
            "Active": active,
            "Hidden": False,
            "Taxable": True,
            "TaxGroup": len(rates) > 1,
            "SalesTaxRateList": {"TaxRateDetail": details},
            "PurchaseTaxRateList": {"TaxRateDetail": []},
        }

    return [
        code("Santa Clara", (1, 2), True),
        code("Arizona", (3,), True),
        code("California (old)", (1,), False),
    ]


def _currencies(_rng: random.Random, _count: int) -> list[Row]:
    table = (
        ("CAD", "Canadian Dollar", True),
        ("EUR", "Euro", True),
        ("GBP", "British Pound", False),
    )
    return [{"Code": code, "Name": name, "Active": active} for code, name, active in table]


def _contact(rng: random.Random, display: str, area_code: int, email: str) -> Row:
    """The name, status, phone and e-mail fields that vendors and employees share."""
    return {
        "DisplayName": display,
        "PrintOnCheckName": display,
        "Active": rng.random() >= 0.1,
        "PrimaryPhone": {"FreeFormNumber": f"({area_code}) 555-{rng.randint(1000, 9999)}"},
        "PrimaryEmailAddr": {"Address": email},
    }


def _vendors(rng: random.Random, count: int) -> list[Row]:
    rows: list[Row] = []
    for pos in range(count):
        base = VENDORS[pos % len(VENDORS)]
        name = base if pos < len(VENDORS) else f"{base} {pos // len(VENDORS) + 1}"
        domain = "".join(c for c in base.lower() if c.isalnum())[:20]
        rows.append(
            {
                "BillAddr": address(rng, 1000 + pos + 1),
                "Balance": 0,
                "AcctNum": str(rng.randint(1000, 99999)),
                "Vendor1099": rng.random() < 0.2,
                "CurrencyRef": dict(USD),
                "CompanyName": name,
                **_contact(rng, name, 650, f"billing@{domain}.example.com"),
                "TermRef": {"value": str(rng.randint(1, 3))},
            }
        )
    return rows


def _employees(rng: random.Random, count: int) -> list[Row]:
    rows: list[Row] = []
    names = UniqueNames()
    for pos in range(count):
        given, family = rng.choice(GIVEN), rng.choice(FAMILY)
        display = names.claim(f"{given} {family}", pos)
        hired = date(2015, 1, 1).toordinal() + rng.randrange(3000)
        rows.append(
            {
                "PrimaryAddr": address(rng, 2000 + pos + 1),
                "BillableTime": rng.random() < 0.6,
                "HourlyRate": rng.choice((25, 30, 35, 45, 60)),
                "EmployeeNumber": f"E{pos + 1:03d}",
                "SSN": f"XXX-XX-{rng.randint(1000, 9999)}",
                "HiredDate": clock.ordinal_to_iso(hired),
                "GivenName": given,
                "FamilyName": family,
                **_contact(rng, display, 408, f"{given.lower()}.{family.lower()}@example.com"),
            }
        )
    return rows


def _budgets(rng: random.Random, years: range, accounts: list[Row]) -> list[Row]:
    """One monthly profit-and-loss budget per year of the data, over a few accounts."""

    def of_type(kind: str) -> list[tuple[int, Row]]:
        return [(pos + 1, row) for pos, row in enumerate(accounts) if row["AccountType"] == kind]

    targets = [*of_type("Income")[:2], *of_type("Expense")[:3]]
    rows: list[Row] = []
    for year in years:
        detail = [
            {
                "BudgetDate": f"{year}-{month:02d}-01",
                "Amount": rng.randint(5, 400) * 100.0,
                "AccountRef": {"value": str(acct_id), "name": acct["FullyQualifiedName"]},
            }
            for month in range(1, 13)
            for acct_id, acct in targets
        ]
        rows.append(
            {
                "Name": f"FY{year} Profit and Loss",
                "StartDate": f"{year}-01-01",
                "EndDate": f"{year}-12-31",
                "BudgetType": "ProfitAndLoss",
                "BudgetEntryType": "Monthly",
                "Active": True,
                "BudgetDetail": detail,
            }
        )
    return rows


RowFactory = Callable[[random.Random, int], list[Row]]
_FACTORIES: dict[str, RowFactory] = {
    "Account": _accounts,
    "Term": _terms,
    "PaymentMethod": _payment_methods,
    "Class": lambda _rng, _n: _flagged_tree(CLASSES, "SubClass"),
    "Department": lambda _rng, _n: _flagged_tree(DEPARTMENTS, "SubDepartment"),
    "CustomerType": lambda _rng, _n: [{"Name": name, "Active": True} for name in CUSTOMER_TYPES],
    "TaxAgency": _tax_agencies,
    "TaxRate": _tax_rates,
    "TaxCode": _tax_codes,
    "CompanyCurrency": _currencies,
    "Vendor": _vendors,
    "Employee": _employees,
}


def generate_lists(
    seed: int, realm: str, other: int, times: tuple[int, int], years: range
) -> dict[str, ListData]:
    """Every list entity but Customer and Item; `other` sets how many vendors and employees."""
    sizes = {"Vendor": min(max(3, other // 4), 1000), "Employee": min(max(2, other // 20), 200)}
    out: dict[str, ListData] = {}
    for entity, factory in _FACTORIES.items():
        key = mix(seed, realm, entity)
        rows = factory(random.Random(mix(key, "rows")), sizes.get(entity, 0))
        out[entity] = _list_data(key, rows, times)
    key = mix(seed, realm, "Budget")
    budgets = _budgets(random.Random(mix(key, "rows")), years, out["Account"].rows)
    out["Budget"] = _list_data(key, budgets, times)
    return out
