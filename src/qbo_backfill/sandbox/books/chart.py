"""The chart of accounts the books post to: the company's Account records, typed.

The accounts QBO posts to by rule (A/R, A/P, Undeposited Funds, Inventory Asset, Cost of
Goods Sold, sales tax, the equity accounts) have fixed Ids in the generated chart; a
transaction may name any other account of the chart.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from qbo_backfill.sandbox.books.model import Account

__all__ = [
    "ACCOUNTS_PAYABLE",
    "ACCOUNTS_RECEIVABLE",
    "CHECKING",
    "COST_OF_GOODS_SOLD",
    "DISCOUNTS_GIVEN",
    "INVENTORY_ASSET",
    "OPENING_BALANCE_EQUITY",
    "RETAINED_EARNINGS",
    "SALES_OF_PRODUCT_INCOME",
    "SALES_TAX_PAYABLE",
    "UNAPPLIED_CASH_BILL_PAYMENT_EXPENSE",
    "UNAPPLIED_CASH_PAYMENT_INCOME",
    "UNCATEGORIZED_ASSET",
    "UNCATEGORIZED_EXPENSE",
    "UNCATEGORIZED_INCOME",
    "UNDEPOSITED_FUNDS",
    "Chart",
    "ref_id",
]

UNDEPOSITED_FUNDS = 4
ACCOUNTS_PAYABLE = 33
CHECKING = 35
UNCATEGORIZED_EXPENSE = 46
DISCOUNTS_GIVEN = 52
UNAPPLIED_CASH_PAYMENT_INCOME = 66
SALES_TAX_PAYABLE = 76  # Board of Equalization Payable (the California agency)
SALES_OF_PRODUCT_INCOME = 79
COST_OF_GOODS_SOLD = 80
INVENTORY_ASSET = 81
OPENING_BALANCE_EQUITY = 82
RETAINED_EARNINGS = 83
ACCOUNTS_RECEIVABLE = 84
UNAPPLIED_CASH_BILL_PAYMENT_EXPENSE = 88
UNCATEGORIZED_INCOME = 89
UNCATEGORIZED_ASSET = 90

# Classifications whose natural balance is a credit: QBO shows them as positive amounts.
CREDIT_NORMAL = frozenset({"Liability", "Equity", "Revenue"})
BALANCE_SHEET = frozenset({"Asset", "Liability", "Equity"})


def ref_id(ref: Any) -> int | None:
    """The Id of a `{"value": "12", ...}` reference, or None when absent or not a number."""
    if isinstance(ref, dict):
        value = ref.get("value")
        if isinstance(value, str) and value.isdigit():
            return int(value)
    return None


class Chart:
    """The accounts by Id, with parent links, from the Account records."""

    def __init__(self, records: Iterable[dict[str, Any]]) -> None:
        self.by_id: dict[int, Account] = {}
        for record in records:
            account = _account(record)
            self.by_id[account.id] = account
        self.children: dict[int, list[int]] = {}
        for account in self.by_id.values():
            if account.parent_id is not None:
                self.children.setdefault(account.parent_id, []).append(account.id)

    def accounts(self) -> list[Account]:
        """Every account, inactive included, by Id."""
        return [self.by_id[key] for key in sorted(self.by_id)]

    def known(self, account_id: int | None, fallback: int) -> int:
        """`account_id` when the chart has it, else `fallback` (a record naming an account
        that does not exist still posts, to the account QBO would have used)."""
        return account_id if account_id is not None and account_id in self.by_id else fallback

    def classification(self, account_id: int) -> str:
        account = self.by_id.get(account_id)
        return account.classification if account is not None else "Asset"

    def shown_balance(self, account_id: int, debit_cents: int) -> Decimal:
        """`CurrentBalance` as QBO shows it: balance-sheet accounts only (income and expense
        accounts show 0), credit-normal ones (liabilities, equity) as positive amounts."""
        kind = self.classification(account_id)
        if kind not in BALANCE_SHEET:
            return Decimal(0)
        cents = -debit_cents if kind in CREDIT_NORMAL else debit_cents
        return Decimal(cents) / 100

    def with_descendants(self, account_id: int) -> list[int]:
        """The account and every sub-account below it."""
        out, todo = [], [account_id]
        while todo:
            current = todo.pop()
            out.append(current)
            todo.extend(self.children.get(current, ()))
        return out


def _account(record: dict[str, Any]) -> Account:
    return Account(
        id=int(record["Id"]),
        name=str(record.get("Name") or ""),
        fully_qualified_name=str(record.get("FullyQualifiedName") or record.get("Name") or ""),
        account_type=str(record.get("AccountType") or ""),
        account_sub_type=str(record.get("AccountSubType") or ""),
        classification=str(record.get("Classification") or "Asset"),
        parent_id=ref_id(record.get("ParentRef")),
        active=record.get("Active", True) is not False,
    )
