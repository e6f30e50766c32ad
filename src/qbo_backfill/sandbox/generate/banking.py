"""Money moving between records: payments that settle earlier invoices and bills, deposits
of earlier payments, journal entries, transfers, credit card payments; and the records
that hang off others (time activities, attachments)."""

from __future__ import annotations

import random
from typing import Any

from qbo_backfill.sandbox.generate.context import Context, Row, money
from qbo_backfill.sandbox.generate.plans import bill_payment_plan, deposit_plan, payment_plan

__all__ = [
    "attachable",
    "bill_payment",
    "credit_card_payment",
    "deposit",
    "journal_entry",
    "payment",
    "time_activity",
    "transfer",
]

Record = dict[str, Any]
UNDEPOSITED_FUNDS = 4
CHECKING = 35
SAVINGS = 36


def _settles(target: Record, txn_type: str, cents: int) -> dict[str, Any]:
    """A payment line that settles `cents` of `target`."""
    return {"Amount": money(cents), "LinkedTxn": [{"TxnId": target["Id"], "TxnType": txn_type}]}


def payment(ctx: Context, rng: random.Random, row: Row, record: Record) -> None:
    """A customer's payment of (part of) one of their earlier invoices, as planned; or,
    when the plan found no open invoice, an unapplied payment (a credit)."""
    target, cents = payment_plan(ctx)[row.pos]
    lines: list[dict[str, Any]] = []
    if target >= 0:
        invoice = ctx.bases["Invoice"].build(target)
        customer = dict(invoice["CustomerRef"])
        lines.append(_settles(invoice, "Invoice", cents))
    else:
        customer, _ = ctx.customer(rng)
    record.update(
        {
            "CustomerRef": customer,
            "DepositToAccountRef": ctx.ref("Account", UNDEPOSITED_FUNDS),
            "PaymentMethodRef": ctx.pick(rng, "PaymentMethod", first=6),
            "PaymentRefNum": str(rng.randint(100, 99999)),
            "TotalAmt": money(cents),
            "UnappliedAmt": 0 if lines else money(cents),
            "ProcessPayment": False,
            "Line": lines,
        }
    )


def bill_payment(ctx: Context, rng: random.Random, row: Row, record: Record) -> None:
    """A check or card payment of (part of) an earlier bill, to the bill's vendor."""
    target, cents = bill_payment_plan(ctx)[row.pos]
    by_check = rng.random() < 0.7
    if target >= 0:
        bill = ctx.bases["Bill"].build(target)
        record["VendorRef"] = dict(bill["VendorRef"])
        record["Line"] = [_settles(bill, "Bill", cents)]
    else:
        record["VendorRef"] = ctx.pick(rng, "Vendor")
        record["Line"] = []
    if by_check:
        record["PayType"] = "Check"
        record["CheckPayment"] = {
            "BankAccountRef": ctx.ref("Account", CHECKING),
            "PrintStatus": "NotSet",
        }
    else:
        record["PayType"] = "CreditCard"
        record["CreditCardPayment"] = {"CCAccountRef": ctx.account(rng, "Credit Card")}
    record["TotalAmt"] = money(cents)


def deposit(ctx: Context, rng: random.Random, row: Row, record: Record) -> None:
    """Payments and sales receipts taken from Undeposited Funds to the bank, as planned
    (each once), sometimes with other income on the same slip."""
    lines: list[dict[str, Any]] = []
    for entity, pos, cents in deposit_plan(ctx)[row.pos]:
        link = {"TxnId": str(pos + 1), "TxnType": entity, "TxnLineId": "0"}
        lines.append({"Amount": money(cents), "LinkedTxn": [link]})
    if not lines or rng.random() < 0.3:
        detail = {
            "AccountRef": ctx.account(rng, "Other Income"),
            "PaymentMethodRef": ctx.pick(rng, "PaymentMethod", first=2),
        }
        amount = money(rng.randint(5, 500) * 100)
        lines.append(
            {"Amount": amount, "DetailType": "DepositLineDetail", "DepositLineDetail": detail}
        )
    for n, line in enumerate(lines, start=1):
        line["Id"] = str(n)
        line["LineNum"] = n
    record["DepositToAccountRef"] = ctx.ref("Account", CHECKING)
    record["Line"] = lines
    record["TotalAmt"] = round(sum(line["Amount"] for line in lines), 2)


def journal_entry(ctx: Context, rng: random.Random, _row: Row, record: Record) -> None:
    """Debits to expense accounts balanced by one credit to the bank."""
    lines: list[dict[str, Any]] = []
    total = 0
    for n in range(rng.randint(1, 3)):
        cents = rng.randint(10, 3000) * 100
        total += cents
        lines.append(_journal_line(n, cents, "Debit", ctx.account(rng, "Expense")))
    lines.append(_journal_line(len(lines), total, "Credit", ctx.account(rng, "Bank")))
    record.update({"Adjustment": False, "Line": lines, "TotalAmt": money(total)})


def _journal_line(n: int, cents: int, posting: str, account: dict[str, str]) -> dict[str, Any]:
    return {
        "Id": str(n),
        "Description": f"{posting} {account['name']}",
        "Amount": money(cents),
        "DetailType": "JournalEntryLineDetail",
        "JournalEntryLineDetail": {"PostingType": posting, "AccountRef": account},
    }


def transfer(ctx: Context, rng: random.Random, _row: Row, record: Record) -> None:
    """Money between checking and savings (Transfer has Amount, not TotalAmt)."""
    accounts = [ctx.ref("Account", CHECKING), ctx.ref("Account", SAVINGS)]
    if rng.random() < 0.5:
        accounts.reverse()
    record.update(
        {
            "FromAccountRef": accounts[0],
            "ToAccountRef": accounts[1],
            "Amount": money(rng.randint(1, 200) * 5000),
        }
    )


def credit_card_payment(ctx: Context, rng: random.Random, _row: Row, record: Record) -> None:
    """A payment of a credit card's balance from checking."""
    record.update(
        {
            "CreditCardAccountRef": ctx.account(rng, "Credit Card"),
            "BankAccountRef": ctx.ref("Account", CHECKING),
            "Amount": money(rng.randint(50, 5000) * 100),
            "Memo": "Card payment",
            "PrintStatus": "NotSet",
        }
    )


def time_activity(ctx: Context, rng: random.Random, _row: Row, record: Record) -> None:
    """Hours an employee (or, without employees, a vendor) worked for a customer."""
    customer, _ = ctx.customer(rng)
    item, price = ctx.item(rng)
    record.pop("CurrencyRef", None)
    if ctx.lists["Employee"].refs:
        record.update({"NameOf": "Employee", "EmployeeRef": ctx.pick(rng, "Employee")})
    else:
        record.update({"NameOf": "Vendor", "VendorRef": ctx.pick(rng, "Vendor")})
    billable = rng.random() < 0.6
    record.update(
        {
            "CustomerRef": customer,
            "ItemRef": item,
            "BillableStatus": "Billable" if billable else "NotBillable",
            "Taxable": False,
            "HourlyRate": money(price) if billable else 0,
            "Hours": rng.randint(0, 9),
            "Minutes": rng.choice((0, 15, 30, 45)),
            "Description": f"{item['name']} for {customer['name']}",
        }
    )


_ATTACHED = ("Invoice", "Bill", "Purchase", "Estimate")


def attachable(ctx: Context, rng: random.Random, row: Row, record: Record) -> None:
    """A receipt or document attached to an earlier transaction."""
    entity = rng.choice([e for e in _ATTACHED if e in ctx.bases and ctx.bases[e].count])
    target = ctx.earlier(entity, rng, row.create)
    assert target is not None  # noqa: S101 - chosen among entities with records
    own_id = record["Id"]
    pdf = rng.random() < 0.7
    record.update(
        {
            "FileName": f"{entity.lower()}-{target['Id']}.{'pdf' if pdf else 'jpg'}",
            "FileAccessUri": f"/v3/company/{ctx.realm}/download/{own_id}",
            "TempDownloadUri": f"https://attachments.example.com/{ctx.realm}/{own_id}",
            "Size": rng.randint(20_000, 2_000_000),
            "ContentType": "application/pdf" if pdf else "image/jpeg",
            "Category": "Document" if pdf else "Image",
            "Note": f"{entity} {target.get('DocNumber') or target['Id']}",
            "AttachableRef": [
                {"EntityRef": {"type": entity, "value": target["Id"]}, "IncludeOnSend": False}
            ],
        }
    )
