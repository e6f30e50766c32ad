"""Every generated entity built on demand from compact columns, driven by one spec each.

A spec names the entity, how many records it gets per `other_records`, whether it is
dated (TxnDate, spread over the invoice period like invoices) and whether it carries a
DocNumber; its body function adds the entity's own fields. Specs run in order, so a
record can link to records of entities listed before it (a Payment to an Invoice, a
Deposit to Payments, a BillPayment to a Bill).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from qbo_backfill.sandbox import clock
from qbo_backfill.sandbox.generate import banking, forms
from qbo_backfill.sandbox.generate.base import USD, BaseData, envelope, mix, spread_txn_times
from qbo_backfill.sandbox.generate.context import Context, Row

__all__ = ["SPECS", "EntitySpec", "generate_transactions"]

Body = Callable[[Context, random.Random, Row, dict[str, Any]], None]


@dataclass(frozen=True)
class EntitySpec:
    """How one lazily built entity is generated."""

    entity: str
    share: float  # records per `other_records`
    body: Body
    doc_start: int | None = None  # DocNumber of the first record, less one; None: no DocNumber
    dated: bool = True  # a transaction with TxnDate and CurrencyRef
    needs: str | None = None  # generated only when this entity has records


SPECS = (
    EntitySpec("Estimate", 0.5, forms.estimate, doc_start=5000),
    EntitySpec("SalesReceipt", 0.6, forms.sales_receipt, doc_start=7000),
    EntitySpec("CreditMemo", 0.15, forms.credit_memo, doc_start=9000),
    EntitySpec("RefundReceipt", 0.1, forms.refund_receipt, doc_start=9500),
    EntitySpec("Payment", 1.0, banking.payment, needs="Invoice"),
    EntitySpec("Deposit", 0.4, banking.deposit),
    EntitySpec("Bill", 1.0, forms.bill, doc_start=100),
    EntitySpec("BillPayment", 0.7, banking.bill_payment, doc_start=3000),
    EntitySpec("VendorCredit", 0.1, forms.vendor_credit, doc_start=600),
    EntitySpec("Purchase", 0.8, forms.purchase, doc_start=4000),
    EntitySpec("PurchaseOrder", 0.3, forms.purchase_order, doc_start=1000),
    EntitySpec("JournalEntry", 0.2, banking.journal_entry, doc_start=0),
    EntitySpec("Transfer", 0.1, banking.transfer),
    EntitySpec("CreditCardPayment", 0.1, banking.credit_card_payment),
    EntitySpec("TimeActivity", 0.8, banking.time_activity),
    EntitySpec("Attachable", 0.25, banking.attachable, dated=False),
)


def _count(spec: EntitySpec, other: int, ctx: Context) -> int:
    if not other:
        return 0
    if spec.needs is not None and not (spec.needs in ctx.bases and ctx.bases[spec.needs].count):
        return 0
    return max(1, round(other * spec.share))


def _entity(
    spec: EntitySpec, key: int, count: int, period: tuple[int, int], ctx: Context
) -> BaseData:
    create, lut, txn = spread_txn_times(key, count, *period)
    doc_start = spec.doc_start

    def build(pos: int) -> dict[str, Any]:
        rng = random.Random(key + pos)
        record = envelope(rng, pos, create, lut)
        if doc_start is not None:
            record["DocNumber"] = str(doc_start + pos + 1)
        if spec.dated:
            record["TxnDate"] = clock.ordinal_to_iso(txn[pos])
            record["CurrencyRef"] = dict(USD)
        spec.body(ctx, rng, Row(pos, create[pos], txn[pos] if spec.dated else None), record)
        return record

    fast: dict[str, Callable[[int], Any]] = {}
    if doc_start is not None:
        fast["DocNumber"] = lambda pos: str(doc_start + pos + 1)
    return BaseData(count, create, lut, build, txn=txn if spec.dated else None, fast_fields=fast)


def generate_transactions(
    seed: int, realm: str, other: int, period: tuple[int, int], ctx: Context
) -> dict[str, BaseData]:
    """Every entity of SPECS, in order, each from its own random stream."""
    out: dict[str, BaseData] = {}
    for spec in SPECS:
        count = _count(spec, other, ctx)
        base = _entity(spec, mix(seed, realm, spec.entity), count, period, ctx)
        ctx.bases[spec.entity] = out[spec.entity] = base
    return out
