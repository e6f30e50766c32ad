"""Which other records a change moves: QBO updates them, so change data capture sees them.

When a payment is applied, QBO updates the invoice (its `Balance`, `SyncToken` and
`LastUpdatedTime`), and the customer's balance with it. A client that copies by
`LastUpdatedTime` or CDC relies on that: a balance that changed without its record being
updated would never reach the copy. So after each admin change the sandbox works out whose
derived fields moved and updates those records too (`Company` bumps them):
- documents and payments whose applied or unapplied amounts changed;
- accounts whose postings changed (and the parents above them);
- customers and vendors whose A/R or A/P changed (and the customers above a job);
- inventory items whose quantity changed.
A change that moves no money (a memo, a name) moves nothing else. Computing it needs only
the changed record's postings before and after and the payments' applications, never the
whole books.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from qbo_backfill.sandbox.books.chart import ref_id
from qbo_backfill.sandbox.books.company_books import CompanyBooks
from qbo_backfill.sandbox.books.rules import POSTING_ENTITIES, RuleContext, post

__all__ = ["Before", "Ripple"]

Record = dict[str, Any]
_PARTY_TYPES = {"Accounts Receivable": "Customer", "Accounts Payable": "Vendor"}


@dataclass(frozen=True)
class Before:
    """What a record meant to the books before it changed."""

    entity: str
    record_id: int
    money: Any
    new_money: Any
    applied: dict[tuple[str, int], int]
    unapplied: dict[tuple[str, int], int]


class Ripple:
    """Finds the records a change of one transaction moves."""

    def __init__(self, books: CompanyBooks) -> None:
        self.books = books

    def before(
        self, entity: str, record_id: int, old: Record | None, new: Record | None
    ) -> Before | None:
        """Before a record changes from `old` to `new` (None: absent): what the books need
        to tell afterwards what moved; None when the change moves no money."""
        if entity not in POSTING_ENTITIES:
            return None
        ctx = self.books.rule_context()
        money, new_money = _money(entity, old, ctx), _money(entity, new, ctx)
        if money == new_money:
            return None
        apps = self.books.applications()
        return Before(entity, record_id, money, new_money, dict(apps.applied), dict(apps.unapplied))

    def after(self, before: Before | None) -> dict[str, set[int]]:
        """Entity -> Ids of the other records whose derived fields the change moved."""
        if before is None:
            return {}
        ctx = self.books.rule_context()
        money = before.new_money
        moved: dict[str, set[int]] = defaultdict(set)
        apps = self.books.applications()
        for then, now in ((before.applied, apps.applied), (before.unapplied, apps.unapplied)):
            for key in then.keys() | now.keys():
                if then.get(key, 0) != now.get(key, 0):
                    moved[key[0]].add(key[1])
        self._postings(moved, ctx, before.money, money)
        moved[before.entity].discard(before.record_id)
        return {entity: ids for entity, ids in moved.items() if ids}

    def _postings(self, moved: dict[str, set[int]], ctx: RuleContext, old: Any, new: Any) -> None:
        """Accounts, parties and items whose totals differ between two postings."""
        accounts: dict[int, int] = defaultdict(int)
        parties: dict[tuple[str, int], int] = defaultdict(int)
        items: dict[int, Decimal] = defaultdict(Decimal)
        for sign, money in ((-1, old), (1, new)):
            if money is None:
                continue
            postings, qty, _, _ = money
            for posting in postings:
                accounts[posting.account] += sign * posting.cents
                kind = _account_type(ctx, posting.account)
                if posting.name is not None and kind in _PARTY_TYPES:
                    parties[(_PARTY_TYPES[kind], posting.name.id)] += sign * posting.cents
            for item_id, change in qty:
                items[item_id] += sign * change
        for account, amount in accounts.items():
            if amount:
                moved["Account"].update(_with_parents(ctx, account))
        for (entity, party_id), amount in parties.items():
            if amount:
                moved[entity].update(self._with_parent_customers(entity, party_id))
        moved["Item"].update(item_id for item_id, change in items.items() if change)

    def _with_parent_customers(self, entity: str, party_id: int) -> list[int]:
        out, current, seen = [party_id], party_id, {party_id}
        while entity == "Customer":
            record = self.books.source.raw("Customer", current) or {}
            parent = ref_id(record.get("ParentRef"))
            if parent is None or parent in seen:
                break
            out.append(parent)
            seen.add(parent)
            current = parent
        return out


def _money(entity: str, record: Record | None, ctx: RuleContext) -> Any:
    """What of a record the books read: postings, quantities, total and payment links."""
    if record is None:
        return None
    posted = post(entity, record, ctx)
    if posted is None:
        return None
    lines = record.get("Line")
    links = tuple(
        (str(link.get("TxnType")), str(link.get("TxnId")), str(line.get("Amount")))
        for line in (lines if isinstance(lines, list) else [])
        if isinstance(line, dict) and isinstance(line.get("LinkedTxn"), list)
        for link in line["LinkedTxn"]
        if isinstance(link, dict)
    )
    return (tuple(posted.postings), tuple(sorted(posted.qty.items())), posted.total, links)


def _account_type(ctx: RuleContext, account_id: int) -> str:
    account = ctx.chart.by_id.get(account_id)
    return account.account_type if account is not None else ""


def _with_parents(ctx: RuleContext, account_id: int) -> list[int]:
    out, current = [account_id], ctx.chart.by_id.get(account_id)
    while current is not None and current.parent_id is not None and current.parent_id not in out:
        out.append(current.parent_id)
        current = ctx.chart.by_id.get(current.parent_id)
    return out
