"""Invoice totals per day, read from compact columns (the ProfitAndLoss of invoices)."""

from __future__ import annotations

import bisect
from array import array

from qbo_backfill.sandbox.catalog import FieldSpec, FieldType
from qbo_backfill.sandbox.store import EntityStore
from qbo_backfill.sandbox.store_filters import KeyView, payload_value

__all__ = ["amounts_by_day"]

_TXN_DATE = FieldSpec("TxnDate", FieldType.DATE, ("TxnDate",))
_TOTAL = FieldSpec("TotalAmt", FieldType.NUMBER, ("TotalAmt",))


def amounts_by_day(store: EntityStore, first_day: int, last_day: int) -> dict[int, int]:
    """TotalAmt in cents per TxnDate ordinal, for days in [first_day, last_day]."""
    totals: dict[int, int] = {}
    base = store.base
    if base is not None and base.txn is not None and base.totals is not None:
        txn, perm = base.txn, base.txn_perm
        view = KeyView(lambda r: txn[perm[r]], base.count)
        lo, hi = bisect.bisect_left(view, first_day), bisect.bisect_right(view, last_day)
        if store.amount_cache is None:
            store.amount_cache = array("q", [-1]) * store.base_count
        amounts = store.amount_cache
        for rank in range(lo, hi):
            pos = perm[rank]
            if pos + 1 in store.changed or pos + 1 in store.deleted:
                continue
            if amounts[pos] < 0:
                amounts[pos] = base.totals(pos)
            totals[txn[pos]] = totals.get(txn[pos], 0) + amounts[pos]
    for record in store.changed.values():
        day = payload_value(record, _TXN_DATE)
        amount = payload_value(record, _TOTAL)
        if day is not None and amount is not None and first_day <= day <= last_day:
            totals[day] = totals.get(day, 0) + round(amount * 100)
    return totals
