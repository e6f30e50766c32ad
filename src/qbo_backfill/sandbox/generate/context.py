"""What generated transactions refer to (customers, vendors, items, accounts, earlier
transactions), and the line shapes several of them share."""

from __future__ import annotations

import bisect
import random
from array import array
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from qbo_backfill.sandbox.generate.base import BaseData
from qbo_backfill.sandbox.generate.lists import ListData
from qbo_backfill.sandbox.generate.sales import INCOME_ACCOUNT, Party

__all__ = ["Context", "Row", "expense_lines", "money", "sales_lines"]

# Accounts only the books' rules post to (unapplied cash, uncategorized): never picked.
RULE_ONLY_ACCOUNTS = frozenset({66, 88, 89, 90})

Ref = dict[str, str]
_NON_TAXABLE = {"value": "NON"}


class Row(NamedTuple):
    """The record being built: its position, creation time and TxnDate (ordinal or None)."""

    pos: int
    create: int
    txn_day: int | None


def money(cents: int) -> float:
    """Cents as QBO's decimal amount."""
    return cents / 100


@dataclass
class Context:
    """The generated records a transaction may name, looked up without building them."""

    realm: str
    parties: list[Party]
    item_names: list[str]
    prices: array[int]
    lists: dict[str, ListData]
    bases: dict[str, BaseData] = field(default_factory=dict)
    seed: int = 0
    plans: dict[str, Any] = field(default_factory=dict)  # see plans.py
    _accounts: dict[str, list[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        rows = self.lists["Account"].rows
        for pos, row in enumerate(rows):
            if pos + 1 not in RULE_ONLY_ACCOUNTS:
                self._accounts.setdefault(row["AccountType"], []).append(pos)
        for kind, positions in self._accounts.items():
            # Prefer active top-level accounts, as a bookkeeper would; keep all if none is.
            usable = [p for p in positions if rows[p]["Active"] and not rows[p]["SubAccount"]]
            self._accounts[kind] = usable or positions

    def customer(self, rng: random.Random) -> tuple[Ref, Party]:
        """A random customer: its reference and its contact details."""
        pos = rng.randrange(len(self.parties))
        party = self.parties[pos]
        return {"value": str(pos + 1), "name": party.display}, party

    def item(self, rng: random.Random) -> tuple[Ref, int]:
        """A random item: its reference and its price in cents."""
        pos = rng.randrange(len(self.item_names))
        return {"value": str(pos + 1), "name": self.item_names[pos]}, self.prices[pos]

    def pick(self, rng: random.Random, entity: str, first: int | None = None) -> Ref:
        """A reference to a random record of a generated list (of its `first` records)."""
        refs = self.lists[entity].refs
        return dict(refs[rng.randrange(min(first or len(refs), len(refs)))])

    def ref(self, entity: str, record_id: int) -> Ref:
        """The reference to one list record by Id."""
        return dict(self.lists[entity].refs[record_id - 1])

    def account(self, rng: random.Random, kind: str) -> Ref:
        """A random active account of an AccountType (e.g. "Expense", "Bank")."""
        return dict(self.lists["Account"].refs[rng.choice(self._accounts[kind])])

    def earlier(self, entity: str, rng: random.Random, when: int) -> dict[str, Any] | None:
        """A random generated record of `entity` created by `when` (the first if none was)."""
        base = self.bases.get(entity)
        if base is None or not base.count:
            return None
        made = bisect.bisect_right(base.create, when)
        return base.build(rng.randrange(max(made, 1)))


def sales_lines(ctx: Context, rng: random.Random) -> tuple[list[dict[str, Any]], int]:
    """Item lines and their SubTotal line, as on an invoice; and the total in cents."""
    lines: list[dict[str, Any]] = []
    total = 0
    for n in range(1, rng.randint(1, 4) + 1):
        item, price = ctx.item(rng)
        qty = rng.randint(1, 10)
        total += price * qty
        detail = {
            "ItemRef": item,
            "UnitPrice": money(price),
            "Qty": qty,
            "ItemAccountRef": dict(INCOME_ACCOUNT),
            "TaxCodeRef": dict(_NON_TAXABLE),
        }
        lines.append(
            {
                "Id": str(n),
                "LineNum": n,
                "Description": item["name"],
                "Amount": money(price * qty),
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": detail,
            }
        )
    lines.append(
        {"Amount": money(total), "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}
    )
    return lines, total


def expense_lines(ctx: Context, rng: random.Random) -> tuple[list[dict[str, Any]], int]:
    """Expense lines (by account, some by item at its purchase cost); the total in cents."""
    lines: list[dict[str, Any]] = []
    total = 0
    for n in range(1, rng.randint(1, 3) + 1):
        line: dict[str, Any] = {"Id": str(n), "LineNum": n}
        if rng.random() < 0.3:
            item, price = ctx.item(rng)
            cost, qty = round(price * 0.45), rng.randint(1, 20)
            amount = cost * qty
            kind = "ItemBasedExpenseLineDetail"
            detail: dict[str, Any] = {"ItemRef": item, "UnitPrice": money(cost), "Qty": qty}
            line["Description"] = item["name"]
        else:
            amount = rng.randint(10, 2500) * 100 + rng.choice((0, 0, 25, 50, 99))
            kind = "AccountBasedExpenseLineDetail"
            detail = {"AccountRef": ctx.account(rng, "Expense")}
            if rng.random() < 0.4:
                detail["ClassRef"] = ctx.pick(rng, "Class")
        detail["BillableStatus"] = "NotBillable"
        detail["TaxCodeRef"] = dict(_NON_TAXABLE)
        line.update({"Amount": money(amount), "DetailType": kind, kind: detail})
        total += amount
        lines.append(line)
    return lines, total
