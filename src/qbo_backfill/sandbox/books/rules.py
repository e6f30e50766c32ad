"""QBO's posting rules: what one transaction record debits and credits (accrual basis).

A rule reads the record as served (its lines, references and amounts) and returns signed
postings in cents (debit positive). Every entry balances: when a record changed through the
admin API does not add up (a TotalAmt that is not its lines' sum, an unbalanced journal
entry), the difference goes to an Uncategorized account as a posting of kind "unbalanced",
so it shows instead of breaking the books. A voided transaction posts nothing."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, NamedTuple

from qbo_backfill.sandbox.books import chart as ac
from qbo_backfill.sandbox.books.chart import Chart, ref_id
from qbo_backfill.sandbox.books.model import NameRef

__all__ = ["ItemFacts", "Posted", "Raw", "RuleContext", "cents", "inventory_cost", "post"]

Record = dict[str, Any]
_AP_ACCOUNT = "APAccountRef"  # pragma: allowlist secret (a field name, not a key)


class Raw(NamedTuple):
    """One posting before it is stored: account, signed cents, line index, kind, text, name."""

    account: int
    cents: int
    line: int | None
    kind: str
    desc: str = ""
    name: NameRef | None = None


@dataclass(frozen=True)
class ItemFacts:
    """What posting needs of an item: its accounts, whether stock is tracked, its cost."""

    inventory: bool
    income: int | None
    expense: int | None
    asset: int | None
    cost: Decimal  # PurchaseCost, per unit


@dataclass
class Posted:
    """A transaction's postings, and what else the books keep of it."""

    name: NameRef | None
    total: int  # cents: TotalAmt, or Amount where the entity has no TotalAmt
    postings: list[Raw]
    memo: str = ""
    due: date | None = None
    qty: dict[int, Decimal] = field(default_factory=dict)  # item Id -> change of quantity


@dataclass
class RuleContext:
    """The chart and the items, as rules look them up."""

    chart: Chart
    items: dict[int, ItemFacts]


def cents(value: Any) -> int:
    """A QBO JSON amount as integer cents (exact for the 2-decimal amounts QBO sends)."""
    amount = _decimal(value) * 100
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _decimal(value: Any) -> Decimal:
    """A number from a payload; anything else (absent, text, a list) counts as 0, since a
    record the admin API took as it came must not break the books."""
    if not isinstance(value, (int, float, str)) or isinstance(value, bool):
        return Decimal(0)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return Decimal(0)
    return number if number.is_finite() else Decimal(0)


def _qty(value: Any) -> Decimal:
    return _decimal(value)


def _name(record: Record, key: str, entity: str) -> NameRef | None:
    ref = record.get(key)
    record_id = ref_id(ref)
    if record_id is None or not isinstance(ref, dict):
        return None
    return NameRef(str(ref.get("type") or entity), record_id, str(ref.get("name") or ""))


def _lines(record: Record) -> list[tuple[int, Record]]:
    """(index in `Line`, line), the lines of a group line flattened under its index."""
    out: list[tuple[int, Record]] = []
    for index, line in enumerate(_list(record.get("Line"))):
        if not isinstance(line, dict):
            continue
        group = line.get("GroupLineDetail")
        if isinstance(group, dict):
            out.extend((index, sub) for sub in _list(group.get("Line")) if isinstance(sub, dict))
        else:
            out.append((index, line))
    return out


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _is_void(record: Record, total: int) -> bool:
    return record.get("PrivateNote") == "Voided" and total == 0


def _balance(postings: list[Raw], plug: int) -> None:
    """Make the entry balance: whatever is left goes to `plug` as kind "unbalanced"."""
    left = -sum(p.cents for p in postings)
    if left:
        postings.append(Raw(plug, left, None, "unbalanced", "Does not add up"))


def _sales(
    record: Record, ctx: RuleContext, sign: int, head: tuple[int, str]
) -> tuple[list[Raw], dict[int, Decimal]]:
    """Invoice-like forms: the head account (A/R or the deposit account) against each
    line's income account, discounts and sales tax; inventory leaves stock at its cost.
    `sign` is +1 for a sale, -1 for a credit or refund."""
    total = cents(record.get("TotalAmt"))
    name = _name(record, "CustomerRef", "Customer")
    postings = [Raw(head[0], sign * total, None, head[1], "", name)]
    qty: dict[int, Decimal] = {}
    for index, line in _lines(record):
        amount = cents(line.get("Amount"))
        desc = str(line.get("Description") or "")
        detail = line.get("SalesItemLineDetail")
        if isinstance(detail, dict):
            item_id = ref_id(detail.get("ItemRef"))
            item = ctx.items.get(item_id) if item_id is not None else None
            account = ref_id(detail.get("ItemAccountRef")) or (item.income if item else None)
            account = ctx.chart.known(account, ac.SALES_OF_PRODUCT_INCOME)
            postings.append(Raw(account, -sign * amount, index, "line", desc, name))
            if item is not None and item.inventory and item_id is not None:
                postings.extend(inventory_cost(ctx, item, _qty(detail.get("Qty")), sign, name))
                qty[item_id] = qty.get(item_id, Decimal(0)) - sign * _qty(detail.get("Qty"))
        elif isinstance(line.get("DiscountLineDetail"), dict):
            account = ref_id(line["DiscountLineDetail"].get("DiscountAccountRef"))
            account = ctx.chart.known(account, ac.DISCOUNTS_GIVEN)
            postings.append(Raw(account, sign * amount, index, "discount", desc, name))
    tax_detail = record.get("TxnTaxDetail")
    tax = cents(tax_detail.get("TotalTax")) if isinstance(tax_detail, dict) else 0
    if tax:
        postings.append(Raw(ac.SALES_TAX_PAYABLE, -sign * tax, None, "tax", "Sales tax", name))
    _balance(postings, ac.UNCATEGORIZED_INCOME)
    return postings, qty


def inventory_cost(
    ctx: RuleContext, item: ItemFacts, qty: Decimal, sign: int, name: NameRef | None
) -> list[Raw]:
    """Cost of goods sold against the inventory asset: a posting no line of the record
    carries (QBO adds it). Cost is the item's PurchaseCost times the quantity."""
    cost = int((item.cost * qty * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if not cost:
        return []
    cogs = ctx.chart.known(item.expense, ac.COST_OF_GOODS_SOLD)
    asset = ctx.chart.known(item.asset, ac.INVENTORY_ASSET)
    return [
        Raw(cogs, sign * cost, None, "inventory_cost", "Cost of goods sold", name),
        Raw(asset, -sign * cost, None, "inventory_cost", "Cost of goods sold", name),
    ]


def _expenses(
    record: Record, ctx: RuleContext, sign: int, head: tuple[int, str], name: NameRef | None
) -> tuple[list[Raw], dict[int, Decimal]]:
    """Bill-like forms: each line's expense account (or an inventory item's asset account)
    against the head account (A/P, the bank or the card). `sign` +1 buys, -1 credits."""
    postings = [Raw(head[0], -sign * cents(record.get("TotalAmt")), None, head[1], "", name)]
    qty: dict[int, Decimal] = {}
    for index, line in _lines(record):
        amount = cents(line.get("Amount"))
        desc = str(line.get("Description") or "")
        by_account = line.get("AccountBasedExpenseLineDetail")
        by_item = line.get("ItemBasedExpenseLineDetail")
        if isinstance(by_account, dict):
            account = ctx.chart.known(
                ref_id(by_account.get("AccountRef")), ac.UNCATEGORIZED_EXPENSE
            )
        elif isinstance(by_item, dict):
            item_id = ref_id(by_item.get("ItemRef"))
            item = ctx.items.get(item_id) if item_id is not None else None
            if item is not None and item.inventory and item_id is not None:
                account = ctx.chart.known(item.asset, ac.INVENTORY_ASSET)
                qty[item_id] = qty.get(item_id, Decimal(0)) + sign * _qty(by_item.get("Qty"))
            else:
                account = ctx.chart.known(item.expense if item else None, ac.COST_OF_GOODS_SOLD)
        else:
            continue
        postings.append(Raw(account, sign * amount, index, "line", desc, name))
    _balance(postings, ac.UNCATEGORIZED_EXPENSE)
    return postings, qty


def _linked(line: Record) -> str:
    links = line.get("LinkedTxn")
    first = links[0] if isinstance(links, list) and links and isinstance(links[0], dict) else {}
    return str(first.get("TxnType") or "")


def _applied(
    record: Record, own: str, credit: str, account: int, sign: int, name: NameRef | None
) -> list[Raw]:
    """A payment's side on A/R (or A/P): one posting per line that settles a document
    (`own`: Invoice or Bill), the opposite for a line that uses a credit (`credit`), and
    what is left unapplied, which stays on the account as the customer's (vendor's) credit.
    `sign` is -1 for customer payments (A/R credited), +1 for bill payments (A/P debited)."""
    total = cents(record.get("TotalAmt"))
    postings: list[Raw] = []
    applied = 0
    for index, line in enumerate(_list(record.get("Line"))):
        kind = _linked(line) if isinstance(line, dict) else ""
        amount = cents(line.get("Amount")) if isinstance(line, dict) else 0
        if kind == own:
            postings.append(
                Raw(account, sign * amount, index, "ar" if sign < 0 else "ap", "", name)
            )
            applied += amount
        elif kind == credit:
            postings.append(
                Raw(account, -sign * amount, index, "ar" if sign < 0 else "ap", "", name)
            )
            applied -= amount
    if total != applied:
        postings.append(Raw(account, sign * (total - applied), None, "unapplied", "", name))
    return postings


def _payment(record: Record, ctx: RuleContext) -> Posted:
    name = _name(record, "CustomerRef", "Customer")
    total = cents(record.get("TotalAmt"))
    bank = ctx.chart.known(ref_id(record.get("DepositToAccountRef")), ac.UNDEPOSITED_FUNDS)
    receivable = ctx.chart.known(ref_id(record.get("ARAccountRef")), ac.ACCOUNTS_RECEIVABLE)
    postings = [Raw(bank, total, None, "bank", "", name)]
    postings += _applied(record, "Invoice", "CreditMemo", receivable, -1, name)
    return Posted(name, total, postings)


def _bill_payment(record: Record, ctx: RuleContext) -> Posted:
    name = _name(record, "VendorRef", "Vendor")
    total = cents(record.get("TotalAmt"))
    check, card = record.get("CheckPayment"), record.get("CreditCardPayment")
    if isinstance(card, dict) and record.get("PayType") == "CreditCard":
        bank = ctx.chart.known(ref_id(card.get("CCAccountRef")), 41)
    else:
        bank_ref = check.get("BankAccountRef") if isinstance(check, dict) else None
        bank = ctx.chart.known(ref_id(bank_ref), ac.CHECKING)
    payable = ctx.chart.known(ref_id(record.get(_AP_ACCOUNT)), ac.ACCOUNTS_PAYABLE)
    postings = [Raw(bank, -total, None, "bank", "", name)]
    postings += _applied(record, "Bill", "VendorCredit", payable, +1, name)
    return Posted(name, total, postings)


def _deposit(record: Record, ctx: RuleContext) -> Posted:
    """The bank against Undeposited Funds for each deposited payment or receipt, and
    against each other line's account."""
    total = cents(record.get("TotalAmt"))
    bank = ctx.chart.known(ref_id(record.get("DepositToAccountRef")), ac.CHECKING)
    postings = [Raw(bank, total, None, "bank")]
    for index, line in _lines(record):
        amount = cents(line.get("Amount"))
        detail = line.get("DepositLineDetail")
        if line.get("LinkedTxn"):
            postings.append(Raw(ac.UNDEPOSITED_FUNDS, -amount, index, "line"))
        elif isinstance(detail, dict):
            account = ctx.chart.known(ref_id(detail.get("AccountRef")), ac.UNCATEGORIZED_INCOME)
            who = _name(detail, "Entity", "Customer")
            postings.append(Raw(account, -amount, index, "line", "", who))
    _balance(postings, ac.UNCATEGORIZED_INCOME)
    return Posted(None, total, postings)


def _journal(record: Record, ctx: RuleContext) -> Posted:
    postings: list[Raw] = []
    debits = 0
    for index, line in _lines(record):
        detail = line.get("JournalEntryLineDetail")
        if not isinstance(detail, dict):
            continue
        amount = cents(line.get("Amount"))
        sign = 1 if detail.get("PostingType") == "Debit" else -1
        debits += amount if sign > 0 else 0
        account = ctx.chart.known(ref_id(detail.get("AccountRef")), ac.UNCATEGORIZED_ASSET)
        entity = detail.get("Entity")
        who = None
        if isinstance(entity, dict):
            who = _name(entity, "EntityRef", str(entity.get("Type") or "Customer"))
        desc = str(line.get("Description") or "")
        postings.append(Raw(account, sign * amount, index, "line", desc, who))
    _balance(postings, ac.UNCATEGORIZED_ASSET)
    return Posted(None, cents(record.get("TotalAmt")) or debits, postings)


def _between(record: Record, ctx: RuleContext, to_key: str, from_key: str) -> Posted:
    """Transfer and CreditCardPayment: `Amount` from one account to another."""
    amount = cents(record.get("Amount"))
    to = ctx.chart.known(ref_id(record.get(to_key)), ac.UNCATEGORIZED_ASSET)
    source = ctx.chart.known(ref_id(record.get(from_key)), ac.CHECKING)
    kind = "bank" if from_key == "BankAccountRef" else "line"
    return Posted(None, amount, [Raw(to, amount, None, "line"), Raw(source, -amount, None, kind)])


def _form(
    build: Callable[[Record, RuleContext], tuple[list[Raw], dict[int, Decimal]]],
    party: tuple[str, str],
) -> Callable[[Record, RuleContext], Posted]:
    def rule(record: Record, ctx: RuleContext) -> Posted:
        postings, qty = build(record, ctx)
        return Posted(_name(record, *party), cents(record.get("TotalAmt")), postings, qty=qty)

    return rule


def _head(record: Record, ctx: RuleContext, key: str, fallback: int) -> int:
    return ctx.chart.known(ref_id(record.get(key)), fallback)


def _purchase(record: Record, ctx: RuleContext) -> tuple[list[Raw], dict[int, Decimal]]:
    sign = -1 if record.get("Credit") is True else 1
    name = _name(record, "EntityRef", "Vendor")
    head = (_head(record, ctx, "AccountRef", ac.CHECKING), "bank")
    return _expenses(record, ctx, sign, head, name)


_CUSTOMER = ("CustomerRef", "Customer")
_VENDOR = ("VendorRef", "Vendor")
RULES: dict[str, Callable[[Record, RuleContext], Posted]] = {
    "Invoice": _form(
        lambda r, c: _sales(r, c, 1, (_head(r, c, "ARAccountRef", ac.ACCOUNTS_RECEIVABLE), "ar")),
        _CUSTOMER,
    ),
    "SalesReceipt": _form(
        lambda r, c: _sales(
            r, c, 1, (_head(r, c, "DepositToAccountRef", ac.UNDEPOSITED_FUNDS), "bank")
        ),
        _CUSTOMER,
    ),
    "CreditMemo": _form(
        lambda r, c: _sales(r, c, -1, (_head(r, c, "ARAccountRef", ac.ACCOUNTS_RECEIVABLE), "ar")),
        _CUSTOMER,
    ),
    "RefundReceipt": _form(
        lambda r, c: _sales(r, c, -1, (_head(r, c, "DepositToAccountRef", ac.CHECKING), "bank")),
        _CUSTOMER,
    ),
    "Bill": _form(
        lambda r, c: _expenses(
            r, c, 1, (_head(r, c, _AP_ACCOUNT, ac.ACCOUNTS_PAYABLE), "ap"), _name(r, *_VENDOR)
        ),
        _VENDOR,
    ),
    "VendorCredit": _form(
        lambda r, c: _expenses(
            r, c, -1, (_head(r, c, _AP_ACCOUNT, ac.ACCOUNTS_PAYABLE), "ap"), _name(r, *_VENDOR)
        ),
        _VENDOR,
    ),
    "Purchase": _form(_purchase, ("EntityRef", "Vendor")),
    "Payment": _payment,
    "BillPayment": _bill_payment,
    "Deposit": _deposit,
    "JournalEntry": _journal,
    "Transfer": lambda r, c: _between(r, c, "ToAccountRef", "FromAccountRef"),
    "CreditCardPayment": lambda r, c: _between(r, c, "CreditCardAccountRef", "BankAccountRef"),
}
POSTING_ENTITIES = tuple(RULES)


def post(entity: str, record: Record, ctx: RuleContext) -> Posted | None:
    """The record's postings; None for an entity that posts nothing (Estimate, ...)."""
    rule = RULES.get(entity)
    if rule is None:
        return None
    posted = rule(record, ctx)
    posted.memo = str(record.get("PrivateNote") or record.get("Memo") or "")
    due = record.get("DueDate")
    if isinstance(due, str) and len(due) == 10:
        with contextlib.suppress(ValueError):
            posted.due = date.fromisoformat(due)
    if _is_void(record, posted.total):
        posted.postings, posted.qty = [], {}
    else:
        posted.postings = [p for p in posted.postings if p.cents]
    return posted
