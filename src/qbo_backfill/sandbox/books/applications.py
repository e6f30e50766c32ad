"""Which payments settle which documents, and for how much.

A customer payment's line linked to an invoice applies to it, at most the invoice's open
balance at that point (payments taken in TxnDate, then Id order); a line linked to a credit
memo uses that much of the memo's credit. Bill payments do the same to bills and vendor
credits. Whatever a payment does not apply (no link, a link to a record that no longer
exists, more than was open) is its unapplied amount: a credit the customer (vendor) holds.

Only payments are read (a few hundred records, or what the admin API made), and the
documents they name, so invoices and bills get a true `Balance` without building the books.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from qbo_backfill.sandbox.books.rules import cents
from qbo_backfill.sandbox.books.source import RecordSource, txn_day

__all__ = ["SIDES", "Application", "Applications"]

# payer entity -> (document it settles, credit it can use)
SIDES = {"Payment": ("Invoice", "CreditMemo"), "BillPayment": ("Bill", "VendorCredit")}
_FAR_PAST = date(1900, 1, 1)


@dataclass(frozen=True)
class Application:
    """One payment line applied to one document."""

    payer: str  # Payment | BillPayment
    payer_id: int
    day: date  # the payment's TxnDate
    line: int  # index in the payment's `Line`
    target: str  # Invoice | CreditMemo | Bill | VendorCredit
    target_id: int
    cents: int  # > 0: what was applied (settled, or credit used)


class Applications:
    """Every application of the company's payments, computed once per record version."""

    def __init__(self, source: RecordSource) -> None:
        self.items: list[Application] = []
        self.applied: dict[tuple[str, int], int] = {}  # document -> cents applied to it
        self.unapplied: dict[tuple[str, int], int] = {}  # payment -> cents left unapplied
        self.totals: dict[tuple[str, int], int] = {}  # document -> its TotalAmt, cents
        for payer in SIDES:
            self._apply_all(source, payer)

    def _apply_all(self, source: RecordSource, payer: str) -> None:
        payments = [(source.raw(payer, pid), pid) for pid in source.ids(payer)]
        dated = [(txn_day(rec, _FAR_PAST), pid, rec) for rec, pid in payments if rec is not None]
        dated.sort(key=lambda row: (row[0], row[1]))
        own, credit = SIDES[payer]
        for day, pid, record in dated:
            if record.get("PrivateNote") == "Voided" and not cents(record.get("TotalAmt")):
                continue
            net = 0
            lines = record.get("Line")
            for index, line in enumerate(lines if isinstance(lines, list) else []):
                link = _link(line)
                if link is None or link[0] not in (own, credit):
                    continue
                amount = self._take(source, link, cents(line.get("Amount")))
                if amount:
                    self.items.append(Application(payer, pid, day, index, *link, amount))
                    net += amount if link[0] == own else -amount
            self.unapplied[(payer, pid)] = cents(record.get("TotalAmt")) - net

    def _take(self, source: RecordSource, target: tuple[str, int], wanted: int) -> int:
        """Apply up to `wanted` to the document, never more than it still has open."""
        if wanted <= 0:
            return 0
        if target not in self.totals:
            record = source.raw(*target)
            self.totals[target] = cents(record.get("TotalAmt")) if record is not None else 0
        taken = max(0, min(wanted, self.totals[target] - self.applied.get(target, 0)))
        if taken:
            self.applied[target] = self.applied.get(target, 0) + taken
        return taken

    def open_cents(self, target: str, target_id: int, total: int) -> int:
        """What is still open of a document whose total is `total` (cents)."""
        return max(0, total - self.applied.get((target, target_id), 0))

    def unapplied_cents(self, payer: str, payer_id: int) -> int:
        return self.unapplied.get((payer, payer_id), 0)

    def applied_by(
        self, as_of: date
    ) -> tuple[dict[tuple[str, int], int], dict[tuple[str, int], int]]:
        """As of the end of a day: applied cents per document, and net applied per payment."""
        to_target: dict[tuple[str, int], int] = {}
        by_payer: dict[tuple[str, int], int] = {}
        for app in self.items:
            if app.day > as_of:
                continue
            to_target[(app.target, app.target_id)] = (
                to_target.get((app.target, app.target_id), 0) + app.cents
            )
            sign = 1 if app.target == SIDES[app.payer][0] else -1
            key = (app.payer, app.payer_id)
            by_payer[key] = by_payer.get(key, 0) + sign * app.cents
        return to_target, by_payer


def _link(line: Any) -> tuple[str, int] | None:
    if not isinstance(line, dict):
        return None
    links = line.get("LinkedTxn")
    first = links[0] if isinstance(links, list) and links and isinstance(links[0], dict) else None
    if first is None:
        return None
    txn_id = str(first.get("TxnId") or "")
    if not txn_id.isdigit():
        return None
    return str(first.get("TxnType") or ""), int(txn_id)
