"""Inventory sales post cost of goods sold that no line of the sale carries: `verify
--money` shows it per month and account, with its amount, and still exits 0."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
from tests.money.conftest import Company

from qbo_backfill.load.moneyrecord import MONEY_CHECKS

pytestmark = [pytest.mark.db, pytest.mark.repeats_at_scale]

_SIGN = {"Invoice": 1, "SalesReceipt": 1, "CreditMemo": -1, "RefundReceipt": -1}


def _expected_cost(company: Company) -> dict[date, Decimal]:
    """Per month: quantity times purchase cost of the inventory items the copied sales
    documents move, computed from the copy alone (the sandbox's rule, QBO's average cost
    aside)."""
    items = {
        str(i): (p.get("Type"), Decimal(str(p.get("PurchaseCost") or 0)))
        for i, p in company.execute("SELECT id, payload FROM {schema}.qb_item")
    }
    cost: dict[date, Decimal] = defaultdict(Decimal)
    for entity, sign in _SIGN.items():
        rows = company.execute(
            "SELECT payload FROM {schema}.qb_"
            + entity.lower()
            + " WHERE deleted_at_utc IS NULL AND (payload->>'TxnDate') IS NOT NULL"
        )
        for (payload,) in rows:
            month = date.fromisoformat(payload["TxnDate"][:10]).replace(day=1)
            for line in payload.get("Line") or []:
                detail = line.get("SalesItemLineDetail") or {}
                item = items.get(str((detail.get("ItemRef") or {}).get("value")))
                if item and item[0] == "Inventory":
                    qty = Decimal(str(detail.get("Qty") or 0))
                    amount = (item[1] * qty).quantize(Decimal("0.01"), ROUND_HALF_UP)
                    cost[month] += sign * amount
    return {m: v for m, v in cost.items() if v}


def test_cost_of_goods_sold_is_residue_shown_not_failing(company: Company) -> None:
    done = company.verify()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "residue: postings no copied entity carries" in done.stdout
    assert re.search(
        r"GeneralLedger: Invoice\s+│ Cost of Goods Sold\s+│\s+\d+\.\d\d │", done.stdout
    )
    [(run_id,)] = company.execute(
        "SELECT run_id FROM {schema}." + MONEY_CHECKS + " ORDER BY id DESC LIMIT 1"
    )
    shown = dict(
        company.execute(
            "SELECT month, residue FROM {schema}."
            + MONEY_CHECKS
            + " WHERE run_id = %s AND month IS NOT NULL AND residue <> 0",
            (run_id,),
        )
    )
    expected = _expected_cost(company)
    assert len(expected) > 12
    assert shown == expected
    # Never counted as a pass it did not earn: the months with residue agree on their
    # transactions alone.
    agreed = company.execute(
        "SELECT bool_and(agreed) FROM {schema}." + MONEY_CHECKS + " WHERE run_id = %s",
        (run_id,),
    )
    assert agreed == [(True,)]
