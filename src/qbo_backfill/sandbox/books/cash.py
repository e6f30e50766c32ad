"""The cash basis, derived from the accrual books and the payments' applications.

The rule: income and expense are recognised when cash moves.
- Invoices, credit memos, bills and vendor credits post nothing at their own date on the
  cash basis (no A/R, no A/P), except the inventory cost of goods they move, which QBO
  books at the document's date on both bases.
- A payment recognises, at its own date, the share of each invoice it settles: every
  income, discount and tax posting of the invoice scaled by (amount applied / invoice
  total), to the cent, the rounding remainder on the largest posting. A credit memo used
  by the payment takes its share back the same way. What the payment leaves unapplied is
  income in "Unapplied Cash Payment Income" until it is applied.
- A bill payment does the same with the bills (expense and inventory asset postings) and
  vendor credits it settles; unapplied: "Unapplied Cash Bill Payment Expense".
- Everything else (sales receipts, refunds, purchases, deposits, journal entries,
  transfers, card payments) posts as on the accrual basis, journal lines on A/R or A/P
  included.
"""

from __future__ import annotations

from collections import defaultdict

from qbo_backfill.sandbox.books import chart as ac
from qbo_backfill.sandbox.books.applications import SIDES, Application, Applications
from qbo_backfill.sandbox.books.ledger import Ledger
from qbo_backfill.sandbox.books.rules import Raw

__all__ = ["cash_ledger"]

_DOCUMENTS = frozenset({"Invoice", "CreditMemo", "Bill", "VendorCredit"})
_HEAD_KINDS = frozenset({"ar", "ap", "unapplied"})
_UNAPPLIED = {
    "Payment": (ac.UNAPPLIED_CASH_PAYMENT_INCOME, -1),
    "BillPayment": (ac.UNAPPLIED_CASH_BILL_PAYMENT_EXPENSE, 1),
}


def cash_ledger(accrual: Ledger, apps: Applications) -> Ledger:
    """The cash-basis ledger of the same entries (see the module's rule)."""
    wanted = {(app.target, app.target_id) for app in apps.items}
    documents: dict[tuple[str, int], int] = {}
    by_payer: dict[tuple[str, int], list[Application]] = defaultdict(list)
    for app in apps.items:
        by_payer[(app.payer, app.payer_id)].append(app)
    for index in range(len(accrual)):
        key = (accrual.type_of(index), accrual.e_id[index])
        if key in wanted:
            documents[key] = index
    cash = Ledger()
    for index in range(len(accrual)):
        txn_type = accrual.type_of(index)
        postings = accrual.raw_postings(index)
        if txn_type in _DOCUMENTS:
            postings = [p for p in postings if p.kind == "inventory_cost"]
            if not postings:
                continue
        elif txn_type in SIDES and postings:
            key = (txn_type, accrual.e_id[index])
            postings = _payment(accrual, postings, by_payer.get(key, []), documents, apps, key)
        cash.add_like(accrual, index, postings)
    cash.finish()
    return cash


def _payment(
    accrual: Ledger,
    postings: list[Raw],
    applied: list[Application],
    documents: dict[tuple[str, int], int],
    apps: Applications,
    key: tuple[str, int],
) -> list[Raw]:
    """A payment's cash postings: its bank side, the shares of what it settles, and its
    unapplied amount as income (or expense)."""
    out = [p for p in postings if p.kind not in _HEAD_KINDS]
    name = next((p.name for p in postings if p.name is not None), None)
    for app in applied:
        index = documents.get((app.target, app.target_id))
        if index is None:
            continue
        share = [p for p in accrual.raw_postings(index) if p.kind not in _HEAD_KINDS]
        share = [p for p in share if p.kind != "inventory_cost"]
        out.extend(_scaled(share, app.cents, accrual.e_total[index], app.line))
    unapplied = apps.unapplied_cents(*key)
    if unapplied:
        account, sign = _UNAPPLIED[key[0]]
        out.append(Raw(account, sign * unapplied, None, "unapplied", "Unapplied amount", name))
    return out


def _scaled(postings: list[Raw], part: int, whole: int, line: int) -> list[Raw]:
    """`postings` scaled by part/whole in cents, summing exactly to their scaled sum."""
    if not postings or whole <= 0:
        return []
    target = sum(p.cents for p in postings) * part // whole
    scaled = [p._replace(cents=p.cents * part // whole, line=line) for p in postings]
    left = target - sum(p.cents for p in scaled)
    if left:
        big = max(range(len(scaled)), key=lambda i: abs(postings[i].cents))
        scaled[big] = scaled[big]._replace(cents=scaled[big].cents + left)
    return [p for p in scaled if p.cents]
