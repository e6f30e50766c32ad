"""Which documents the generated payments settle, and which payments the deposits bank.

Records are built lazily one at a time, yet money must add up across them: a payment may
apply at most what its invoice still has open, and a payment is deposited once. So the
links are planned once per realm, the first time a payment, bill payment or deposit is
built, from the documents' creation order and totals alone (no full records are built but
those a plan picks), and every record reads its part of the plan.

- Payments, in creation order, each pick an earlier invoice that still has something open
  (a few random tries) and pay all of it (85%) or half; a payment that finds none is an
  unapplied payment: a credit its customer holds.
- Bill payments do the same with bills.
- Deposits, in creation order, bank the oldest payments and sales receipts received into
  Undeposited Funds before them and not deposited yet (two to six at a time).
"""

from __future__ import annotations

import bisect
import random
from array import array
from collections.abc import Callable

from qbo_backfill.sandbox.generate.base import BaseData, mix
from qbo_backfill.sandbox.generate.context import Context

__all__ = ["bill_payment_plan", "deposit_plan", "payment_plan"]

Settle = tuple[int, int]  # (position of the document or -1, cents)


def payment_plan(ctx: Context) -> list[Settle]:
    """Per payment: the invoice it settles (position) and how much, or (-1, cents)."""
    if "Payment" not in ctx.plans:
        ctx.plans["Payment"] = _settle_plan(ctx, "Payment", "Invoice")
    plan: list[Settle] = ctx.plans["Payment"]
    return plan


def bill_payment_plan(ctx: Context) -> list[Settle]:
    """Per bill payment: the bill it settles and how much (or -1 and cents: unapplied)."""
    if "BillPayment" not in ctx.plans:
        ctx.plans["BillPayment"] = _settle_plan(ctx, "BillPayment", "Bill")
    plan: list[Settle] = ctx.plans["BillPayment"]
    return plan


def _settle_plan(ctx: Context, payer: str, target: str) -> list[Settle]:
    payers, docs = ctx.bases[payer], ctx.bases.get(target)
    rng = random.Random(mix(ctx.seed, ctx.realm, payer, "plan"))
    if docs is None or not docs.count:
        return [(-1, rng.randint(10, 500) * 100) for _ in range(payers.count)]
    total = _total_reader(docs)
    left: dict[int, int] = {}
    plan: list[Settle] = []
    for pos in range(payers.count):
        made = max(bisect.bisect_right(docs.create, payers.create[pos]), 1)
        pick = -1
        for _ in range(8):
            candidate = rng.randrange(made)
            if left.setdefault(candidate, total(candidate)) > 0:
                pick = candidate
                break
        if pick < 0:
            plan.append((-1, rng.randint(10, 500) * 100))
            continue
        amount = left[pick] if rng.random() < 0.85 else max(1, left[pick] // 2)
        left[pick] -= amount
        plan.append((pick, amount))
    return plan


def _total_reader(docs: BaseData) -> Callable[[int], int]:
    """A document's total in cents, from its compact total when it has one."""
    if docs.totals is not None:
        return docs.totals
    build = docs.build
    return lambda pos: round(build(pos)["TotalAmt"] * 100)


def deposit_plan(ctx: Context) -> list[list[tuple[str, int, int]]]:
    """Per deposit: the (entity, position, cents) of the receipts it banks."""
    if "Deposit" not in ctx.plans:
        ctx.plans["Deposit"] = _deposit_plan(ctx)
    plan: list[list[tuple[str, int, int]]] = ctx.plans["Deposit"]
    return plan


def _deposit_plan(ctx: Context) -> list[list[tuple[str, int, int]]]:
    deposits = ctx.bases["Deposit"]
    rng = random.Random(mix(ctx.seed, ctx.realm, "Deposit", "plan"))
    queue = _receipts(ctx)
    taken = 0
    plan: list[list[tuple[str, int, int]]] = []
    for pos in range(deposits.count):
        ready = bisect.bisect_right(queue[0], deposits.create[pos])
        upto = min(ready, taken + rng.randint(2, 6))
        plan.append([(queue[1][i], queue[2][i], queue[3][i]) for i in range(taken, upto)])
        taken = max(taken, upto)
    return plan


def _receipts(ctx: Context) -> tuple[array[int], list[str], list[int], list[int]]:
    """Payments and sales receipts into Undeposited Funds, by creation time: (times,
    entities, positions, cents)."""
    rows: list[tuple[int, str, int, int]] = []
    payments = ctx.bases.get("Payment")
    if payments is not None and payments.count:
        for pos, (_, cents) in enumerate(payment_plan(ctx)):
            rows.append((payments.create[pos], "Payment", pos, cents))
    receipts = ctx.bases.get("SalesReceipt")
    if receipts is not None:
        total = _total_reader(receipts)
        rows.extend(
            (receipts.create[pos], "SalesReceipt", pos, total(pos)) for pos in range(receipts.count)
        )
    rows.sort()
    times = array("q", (row[0] for row in rows))
    return times, [row[1] for row in rows], [row[2] for row in rows], [row[3] for row in rows]
