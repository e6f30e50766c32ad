"""Deterministic company data: compact columns at start, full payloads built on demand.

Each entity has its own random stream derived from (seed, realm, entity), so adding an
entity never changes the records of another. Customers, items and invoices come from
`sales`; the other lists from `lists`; the other transactions and attachments from
`transactions`; CompanyInfo and Preferences from `singletons`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from qbo_backfill.sandbox import clock
from qbo_backfill.sandbox.generate import sales
from qbo_backfill.sandbox.generate.base import DAY, BaseData, mix
from qbo_backfill.sandbox.generate.context import Context
from qbo_backfill.sandbox.generate.lists import generate_lists
from qbo_backfill.sandbox.generate.singletons import company_info, preferences
from qbo_backfill.sandbox.generate.transactions import generate_transactions

__all__ = ["BaseData", "CompanyData", "generate_company"]


@dataclass
class CompanyData:
    """One realm's generated data: base records per entity, and its one-record entities."""

    bases: dict[str, BaseData]
    company_info: dict[str, Any]
    singletons: dict[str, dict[str, Any]] = field(default_factory=dict)


def generate_company(
    seed: int,
    realm: str,
    index: int,
    counts: tuple[int, int, int],
    period: tuple[date, date],
    other: int = 0,
) -> CompanyData:
    """One realm's data, from (seed, realm) alone.

    `counts` are customers, items and invoices; `other` sizes every other entity (0: none).
    """
    n_customers, n_items, n_invoices = counts
    start_day, end_day = period[0].toordinal(), period[1].toordinal()
    start = clock.local_midnight_epoch(start_day)
    end_cap = clock.local_midnight_epoch(end_day) - 1
    customers, parties = sales.customers(mix(seed, realm, "Customer"), n_customers, start, end_cap)
    items, names, prices = sales.items(mix(seed, realm, "Item"), n_items, start, end_cap)
    bases = {"Customer": customers, "Item": items}
    if n_invoices:
        bases["Invoice"] = sales.invoices(
            mix(seed, realm, "Invoice"),
            n_invoices,
            (start_day, end_day),
            parties,
            names,
            prices,
        )
    created = start - 400 * DAY
    data = CompanyData(bases, company_info(realm, index, created))
    if other and parties and names:
        years = range(period[0].year, (period[1] - date.resolution).year + 1)
        lists = generate_lists(seed, realm, other, (start, end_cap), years)
        bases.update({entity: listed.base for entity, listed in lists.items()})
        linkable = {name: base for name, base in bases.items() if name == "Invoice"}
        ctx = Context(realm, parties, names, prices, lists, linkable, seed=seed)
        bases.update(generate_transactions(seed, realm, other, (start_day, end_day), ctx))
        data.singletons["Preferences"] = preferences(created)
    return data
