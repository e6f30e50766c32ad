"""Sales forms (Estimate, SalesReceipt, CreditMemo, RefundReceipt) and purchase forms (Bill,
VendorCredit, Purchase, PurchaseOrder): one shape each, plus what each form adds.

A body function fills in a record that already has its envelope, DocNumber, TxnDate and
CurrencyRef (see transactions.py).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from qbo_backfill.sandbox.generate.context import (
    Context,
    Row,
    expense_lines,
    money,
    sales_lines,
)
from qbo_backfill.sandbox.generate.words import COMPANY_ADDRESS, TERMS

__all__ = [
    "bill",
    "credit_memo",
    "estimate",
    "purchase",
    "purchase_order",
    "refund_receipt",
    "sales_receipt",
    "vendor_credit",
]

Record = dict[str, Any]
Body = Callable[[Context, random.Random, Row, Record], None]
Extra = Callable[[Context, random.Random, Row, Record, int], None]
UNDEPOSITED_FUNDS = 4
ACCOUNTS_PAYABLE = 33
CHECKING = 35


def _day(row: Row, days: int) -> str:
    assert row.txn_day is not None  # noqa: S101 - forms are dated
    return (date.fromordinal(row.txn_day) + timedelta(days=days)).isoformat()


def _sales_form(extra: Extra) -> Body:
    """A customer, item lines and a total, then what the form adds."""

    def body(ctx: Context, rng: random.Random, row: Row, record: Record) -> None:
        customer, party = ctx.customer(rng)
        lines, cents = sales_lines(ctx, rng)
        record.update(
            {
                "Line": lines,
                "TxnTaxDetail": {"TotalTax": 0},
                "CustomerRef": customer,
                "BillAddr": dict(party.address),
                "ShipAddr": dict(party.address),
                "TotalAmt": money(cents),
                "ApplyTaxAfterDiscount": False,
                "PrintStatus": "NotSet",
                "EmailStatus": "NotSet",
                "BillEmail": {"Address": party.email},
            }
        )
        extra(ctx, rng, row, record, cents)

    return body


def _purchase_form(extra: Extra) -> Body:
    """A vendor, expense lines and a total, then what the form adds."""

    def body(ctx: Context, rng: random.Random, row: Row, record: Record) -> None:
        vendor = ctx.pick(rng, "Vendor")
        lines, cents = expense_lines(ctx, rng)
        record.update({"Line": lines, "VendorRef": vendor, "TotalAmt": money(cents)})
        extra(ctx, rng, row, record, cents)

    return body


def _estimate(_ctx: Context, rng: random.Random, row: Row, record: Record, _cents: int) -> None:
    record["TxnStatus"] = rng.choice(("Pending", "Accepted", "Closed", "Rejected"))
    record["ExpirationDate"] = _day(row, 30)
    record["CustomerMemo"] = {"value": "This estimate is valid for 30 days."}


def _sales_receipt(ctx: Context, rng: random.Random, _row: Row, record: Record, _c: int) -> None:
    record["PaymentMethodRef"] = ctx.pick(rng, "PaymentMethod", first=6)
    record["PaymentRefNum"] = str(rng.randint(1000, 9999))
    record["DepositToAccountRef"] = ctx.ref("Account", UNDEPOSITED_FUNDS)
    record["Balance"] = 0


def _credit_memo(_ctx: Context, rng: random.Random, _row: Row, record: Record, cents: int) -> None:
    remaining = money(cents) if rng.random() < 0.5 else 0
    record["RemainingCredit"] = remaining
    record["Balance"] = remaining


def _refund_receipt(ctx: Context, rng: random.Random, _row: Row, record: Record, _c: int) -> None:
    record["PaymentMethodRef"] = ctx.pick(rng, "PaymentMethod", first=6)
    record["PaymentRefNum"] = "To Print"
    record["DepositToAccountRef"] = ctx.ref("Account", CHECKING)
    record["Balance"] = 0


def _bill(ctx: Context, rng: random.Random, row: Row, record: Record, cents: int) -> None:
    term = rng.randrange(3)
    record["APAccountRef"] = ctx.ref("Account", ACCOUNTS_PAYABLE)
    record["SalesTermRef"] = ctx.ref("Term", term + 1)
    record["DueDate"] = _day(row, TERMS[term][1])
    record["Balance"] = 0 if rng.random() < 0.6 else money(cents)


def _vendor_credit(ctx: Context, _rng: random.Random, _row: Row, record: Record, c: int) -> None:
    record["APAccountRef"] = ctx.ref("Account", ACCOUNTS_PAYABLE)
    record["Balance"] = money(c)


def _purchase(ctx: Context, rng: random.Random, _row: Row, record: Record, _cents: int) -> None:
    kind = rng.choice(("Cash", "Check", "CreditCard"))
    record["PaymentType"] = kind
    record["AccountRef"] = ctx.account(rng, "Credit Card" if kind == "CreditCard" else "Bank")
    record["EntityRef"] = {**record.pop("VendorRef"), "type": "Vendor"}
    record["PrintStatus"] = "NotSet"
    # A card refund is a purchase with Credit true: it posts the other way round.
    record["Credit"] = kind == "CreditCard" and rng.random() < 0.15


def _purchase_order(ctx: Context, rng: random.Random, _row: Row, record: Record, _c: int) -> None:
    record["APAccountRef"] = ctx.ref("Account", ACCOUNTS_PAYABLE)
    record["POStatus"] = "Closed" if rng.random() < 0.6 else "Open"
    record["EmailStatus"] = "NotSet"
    record["ShipAddr"] = dict(COMPANY_ADDRESS)


estimate = _sales_form(_estimate)
sales_receipt = _sales_form(_sales_receipt)
credit_memo = _sales_form(_credit_memo)
refund_receipt = _sales_form(_refund_receipt)
bill = _purchase_form(_bill)
vendor_credit = _purchase_form(_vendor_credit)
purchase = _purchase_form(_purchase)
purchase_order = _purchase_form(_purchase_order)
