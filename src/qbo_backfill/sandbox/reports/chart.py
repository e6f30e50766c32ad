"""The chart of accounts as summary reports show it: which account goes in which section,
and an account with sub-accounts as a nested section whose Header carries the parent's own
amount and whose Summary is the parent plus its children.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from qbo_backfill.sandbox.books.model import Account
from qbo_backfill.sandbox.reports.shape import ZERO, Row, cells, money, money_or_blank, section

__all__ = [
    "ACCOUNT_TYPE_ORDER",
    "CREDIT_NORMAL",
    "Chart",
    "Group",
    "Vectors",
    "group_section",
    "is_profit_and_loss",
]

Vectors = dict[int, list[Decimal]]  # account id -> one amount per column (debit positive)

# QBO's order of account types in the balance sheet, then the P&L (the trial balance's).
ACCOUNT_TYPE_ORDER = (
    "Bank",
    "Accounts Receivable",
    "Other Current Asset",
    "Fixed Asset",
    "Other Asset",
    "Accounts Payable",
    "Credit Card",
    "Other Current Liability",
    "Long Term Liability",
    "Equity",
    "Income",
    "Cost of Goods Sold",
    "Expense",
    "Other Income",
    "Other Expense",
)
CREDIT_NORMAL = frozenset({"Liability", "Equity", "Revenue"})
_PROFIT_AND_LOSS = frozenset({"Revenue", "Expense"})


def is_profit_and_loss(account: Account) -> bool:
    """Income and expense accounts (closed into retained earnings at year end)."""
    return account.classification in _PROFIT_AND_LOSS


@dataclass(frozen=True)
class Group:
    """A section of a summary report: its group name, header and summary labels, and
    either the account types it lists or the groups nested in it."""

    group: str
    title: str
    total: str
    types: tuple[str, ...] = ()
    parts: tuple[Group, ...] = ()


class Chart:
    """The accounts by id, their children, and their order within a section (by name)."""

    def __init__(self, accounts: Sequence[Account]) -> None:
        self.by_id = {a.id: a for a in accounts}
        self.children: dict[int, list[Account]] = {}
        for account in sorted(accounts, key=lambda a: a.name.lower()):
            if account.parent_id is not None and account.parent_id in self.by_id:
                self.children.setdefault(account.parent_id, []).append(account)

    def tops(self, types: tuple[str, ...]) -> list[Account]:
        """Accounts of these types whose parent is not of them, by name."""
        return sorted(
            (
                a
                for a in self.by_id.values()
                if a.account_type in types
                and (
                    a.parent_id is None
                    or self.by_id.get(a.parent_id) is None
                    or self.by_id[a.parent_id].account_type not in types
                )
            ),
            key=lambda a: a.name.lower(),
        )

    def label(self, account: Account, *, full: bool = False) -> str:
        """The name a report shows (`full`: with its parents, as flat lists show it); a
        deleted (inactive) account says so."""
        name = account.fully_qualified_name if full else account.name
        return name if account.active else f"{name} (deleted)"


def _subtree(chart: Chart, account: Account, vectors: Vectors, width: int) -> list[Decimal]:
    own = vectors.get(account.id, [ZERO] * width)
    total = list(own)
    for child in chart.children.get(account.id, []):
        for n, value in enumerate(_subtree(chart, child, vectors, width)):
            total[n] += value
    return total


def _shown(chart: Chart, account: Account, vectors: Vectors) -> bool:
    """An account is listed when it or a sub-account has a posting in the report."""
    if account.id in vectors:
        return True
    return any(_shown(chart, c, vectors) for c in chart.children.get(account.id, []))


def account_rows(
    chart: Chart, accounts: list[Account], vectors: Vectors, width: int, sign: int
) -> list[Row]:
    """Data rows, or nested sections for accounts with sub-accounts in the report."""
    rows: list[Row] = []
    for account in accounts:
        if not _shown(chart, account, vectors):
            continue
        own = [sign * v for v in vectors.get(account.id, [ZERO] * width)]
        kids = [c for c in chart.children.get(account.id, []) if _shown(chart, c, vectors)]
        if not kids:
            row_cells = cells(chart.label(account), [money(v) for v in own], account.id)
            rows.append({"ColData": row_cells, "type": "Data"})
            continue
        total = [sign * v for v in _subtree(chart, account, vectors, width)]
        rows.append(
            section(
                header=cells(chart.label(account), [money_or_blank(v) for v in own], account.id),
                rows=account_rows(chart, kids, vectors, width, sign),
                summary=cells(f"Total {chart.label(account)}", [money(v) for v in total]),
            )
        )
    return rows


def group_section(
    chart: Chart,
    group: Group,
    vectors: Vectors,
    width: int,
    sign: Callable[[Group], int],
    extra: Callable[[Group], list[tuple[Row, list[Decimal]]]] | None = None,
    *,
    prune: bool = False,
) -> tuple[Row, list[Decimal]]:
    """A group's section and its totals (shown sign). `extra` adds computed rows to a group
    (the balance sheet's Net Income line in Equity); `prune` leaves out nested groups
    without accounts (the balance sheet's way; the P&L keeps its skeleton)."""
    rows: list[Row] = []
    totals = [ZERO] * width
    if group.parts:
        for part in group.parts:
            row, part_totals = group_section(chart, part, vectors, width, sign, extra, prune=prune)
            if prune and "Rows" not in row:
                continue
            rows.append(row)
            totals = [a + b for a, b in zip(totals, part_totals, strict=True)]
    else:
        tops = chart.tops(group.types)
        rows = account_rows(chart, tops, vectors, width, sign(group))
        for account in tops:
            subtree = _subtree(chart, account, vectors, width)
            totals = [t + sign(group) * v for t, v in zip(totals, subtree, strict=True)]
    for row, amounts in extra(group) if extra else []:
        rows.append(row)
        totals = [a + b for a, b in zip(totals, amounts, strict=True)]
    blank = [""] * width
    summary = [money(v) for v in totals] if rows else blank
    built = section(
        group=group.group,
        header=cells(group.title, blank),
        rows=rows,
        summary=cells(group.total, summary),
    )
    if not rows:
        del built["Rows"]
    return built, totals
