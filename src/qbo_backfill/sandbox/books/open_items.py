"""Open receivables and payables at a date, from the accrual ledger and the applications.

Receivables: invoices (open balance positive), credit memos with credit left and payments
with an unapplied amount (negative). Payables the same with bills, vendor credits and bill
payments. Their sum equals the A/R (A/P) postings of the documents and payments dated up to
that day; journal entry lines on A/R or A/P are not open items (QBO shows them as such
only when they name a customer or vendor; the generated journal entries never touch them).
"""

from __future__ import annotations

import bisect
from datetime import date
from decimal import Decimal

from qbo_backfill.sandbox.books.applications import SIDES, Applications
from qbo_backfill.sandbox.books.ledger import Ledger
from qbo_backfill.sandbox.books.model import NameRef, OpenItem

__all__ = ["open_items"]


def open_items(ledger: Ledger, apps: Applications, as_of: date, payer: str) -> list[OpenItem]:
    """What is open at the end of `as_of` on one side (`payer`: Payment or BillPayment),
    in (TxnDate, type, Id) order."""
    own, credit = SIDES[payer]
    to_target, by_payer = apps.applied_by(as_of)
    hi = bisect.bisect_right(ledger.days, as_of.toordinal())
    out: list[OpenItem] = []
    for rank in range(hi):
        index = ledger.order[rank]
        txn_type = ledger.type_of(index)
        if txn_type not in (own, credit, payer):
            continue
        txn_id, total = ledger.e_id[index], ledger.e_total[index]
        if txn_type == own:
            still = total - to_target.get((own, txn_id), 0)
        elif txn_type == credit:
            still = -(total - to_target.get((credit, txn_id), 0))
        else:
            still = -(total - by_payer.get((payer, txn_id), 0))
        if not still or ledger.e_first[index] == ledger.e_first[index + 1]:
            continue  # settled, or voided (no postings)
        entry_name = ledger.name_at(ledger.e_name[index])
        out.append(
            OpenItem(
                txn_type=txn_type,
                txn_id=txn_id,
                doc_number=ledger.doc_text(ledger.e_doc[index]),
                txn_date=date.fromordinal(ledger.e_day[index]),
                due_date=ledger.due(index),
                name=entry_name or NameRef("Customer" if payer == "Payment" else "Vendor", 0, ""),
                amount=Decimal(total) / 100,
                open_balance=Decimal(still) / 100,
            )
        )
    return out
