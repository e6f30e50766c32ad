"""A company's books (`Books`): built from its records when first asked, kept until a record
changes.

Building reads every transaction that posts once (at 100,000 invoices a few seconds, see
docs/sandbox.md); the cash basis is derived from the accrual ledger only when a cash
answer is asked for. Payment applications (what `Invoice.Balance` needs) are computed on
their own, from the payments alone, so serving invoices never builds the whole books.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from qbo_backfill.sandbox.books import chart as ac
from qbo_backfill.sandbox.books.applications import Applications
from qbo_backfill.sandbox.books.cash import cash_ledger
from qbo_backfill.sandbox.books.chart import Chart, ref_id
from qbo_backfill.sandbox.books.ledger import Ledger
from qbo_backfill.sandbox.books.model import Account, Basis, Entry, OpenItem
from qbo_backfill.sandbox.books.open_items import open_items
from qbo_backfill.sandbox.books.rules import (
    POSTING_ENTITIES,
    ItemFacts,
    Posted,
    Raw,
    RuleContext,
    cents,
    post,
)
from qbo_backfill.sandbox.books.sales_facts import SaleFacts, post_sale
from qbo_backfill.sandbox.books.source import RecordSource, txn_day

__all__ = ["CompanyBooks"]

T = TypeVar("T")
_EPOCH = date(1900, 1, 1)
# The records the books read: a change to any other (a customer's name, an attachment)
# leaves them as they are.
READS = (*POSTING_ENTITIES, "Item", "Account", "Preferences")


class CompanyBooks:
    """`Books` over one company's records; every answer reflects the records now."""

    def __init__(self, source: RecordSource, default_chart: Callable[[], list[dict[str, Any]]]):
        self.source = source
        self._default_chart = default_chart
        self._cache: dict[str, tuple[int, Any]] = {}

    # ---- caching ---------------------------------------------------------------------
    @property
    def version(self) -> int:
        """Changes whenever a record the books read changes."""
        return self.source.version(READS)

    def _cached(self, name: str, make: Callable[[], T], key: int | None = None) -> T:
        version = self.version if key is None else key
        hit = self._cache.get(name)
        if hit is not None and hit[0] == version:
            return hit[1]
        value = make()
        self._cache[name] = (version, value)
        return value

    def chart(self) -> Chart:
        return self._cached("chart", self._make_chart)

    def applications(self) -> Applications:
        return self._cached("applications", lambda: Applications(self.source))

    def ledger(self, basis: Basis) -> Ledger:
        if basis is Basis.CASH:
            return self._cached(
                "cash", lambda: cash_ledger(self.ledger(Basis.ACCRUAL), self.applications())
            )
        return self._cached("accrual", self._make_accrual)

    # ---- the Books protocol ------------------------------------------------------------
    def default_basis(self) -> Basis:
        """Preferences' `ReportPrefs.ReportBasis` (Accrual when the company has none)."""
        prefs = self.source.raw("Preferences", 1) or {}
        basis = (prefs.get("ReportPrefs") or {}).get("ReportBasis")
        return Basis.CASH if basis == "Cash" else Basis.ACCRUAL

    def accounts(self) -> Sequence[Account]:
        return self.chart().accounts()

    def entries(self, basis: Basis, start: date | None, end: date | None) -> Iterator[Entry]:
        return self.ledger(basis).entries(start, end)

    def open_receivables(self, as_of: date) -> list[OpenItem]:
        return open_items(self.ledger(Basis.ACCRUAL), self.applications(), as_of, "Payment")

    def open_payables(self, as_of: date) -> list[OpenItem]:
        return open_items(self.ledger(Basis.ACCRUAL), self.applications(), as_of, "BillPayment")

    # ---- added for reports and derived fields -----------------------------------------
    def net_by_account(
        self, basis: Basis, start: date | None, end: date | None
    ) -> dict[int, Decimal]:
        """Net debit amount per account over entries dated in [start, end] (a balance
        sheet at a date is this with start None)."""
        net = self.ledger(basis).net_by_account(start, end)
        return {account: Decimal(amount) / 100 for account, amount in net.items()}

    def account_balance(self, account_id: int, with_subaccounts: bool = False) -> Decimal:
        """`CurrentBalance` as QBO shows it (see `Chart.shown_balance`), every date."""
        chart, totals = self.chart(), self.ledger(Basis.ACCRUAL).totals
        ids = chart.with_descendants(account_id) if with_subaccounts else [account_id]
        return sum((chart.shown_balance(i, totals.get(i, 0)) for i in ids), Decimal(0))

    def party_balance(self, entity: str, party_id: int) -> Decimal:
        """A customer's A/R (or a vendor's A/P, as a positive amount owed) from postings."""
        ledger = self.ledger(Basis.ACCRUAL)
        net = self._cached("parties", lambda: _party_totals(ledger, self.chart()))
        return Decimal(net.get((entity, party_id), 0)) / 100

    def jobs(self, customer_id: int) -> list[int]:
        """Sub-customers (jobs) below a customer, at any depth."""
        parents = self._cached("jobs", self._make_parents, self.source.version(("Customer",)))
        out, todo = [], list(parents.get(customer_id, ()))
        while todo:
            current = todo.pop()
            out.append(current)
            todo.extend(parents.get(current, ()))
        return out

    def _make_parents(self) -> dict[int, list[int]]:
        parents: dict[int, list[int]] = {}
        for child in self.source.ids("Customer"):
            parent = ref_id((self.source.raw("Customer", child) or {}).get("ParentRef"))
            if parent is not None:
                parents.setdefault(parent, []).append(child)
        return parents

    def quantity_on_hand(self, item_id: int) -> Decimal:
        """An inventory item's starting quantity plus what was bought less what was sold."""
        return self._cached("quantities", self._make_quantities).get(item_id, Decimal(0))

    # ---- building ----------------------------------------------------------------------
    def _make_chart(self) -> Chart:
        ids = self.source.ids("Account")
        records = [r for r in (self.source.raw("Account", i) for i in ids) if r is not None]
        if not records:
            records = [{**row, "Id": str(n)} for n, row in enumerate(self._default_chart(), 1)]
        return Chart(records)

    def rule_context(self) -> RuleContext:
        """The chart and the items as rules read them, kept while neither changes."""
        key = self.source.version(("Item", "Account"))
        return self._cached("rules", self._make_rule_context, key)

    def _make_rule_context(self) -> RuleContext:
        items: dict[int, ItemFacts] = {}
        for item_id in self.source.ids("Item"):
            record = self.source.raw("Item", item_id)
            if record is not None:
                items[item_id] = _item_facts(record)
        return RuleContext(self._make_chart(), items)

    def _make_accrual(self) -> Ledger:
        ctx = self.rule_context()
        ledger = Ledger()
        self._quantities: dict[int, Decimal] = {}
        self._opening_inventory(ctx, ledger)
        for entity in POSTING_ENTITIES:
            for record_id in self.source.ids(entity):
                posted = self._post_one(ledger, ctx, entity, record_id)
                if posted is None:
                    continue
                for item_id, change in posted.qty.items():
                    self._quantities[item_id] = self._quantities.get(item_id, 0) + change
        ledger.finish()
        return ledger

    def _post_one(
        self, ledger: Ledger, ctx: RuleContext, entity: str, record_id: int
    ) -> Posted | None:
        """Post one record into the ledger (a generated invoice from its facts alone)."""
        facts = self.source.facts(entity, record_id)
        if isinstance(facts, SaleFacts):
            sale = post_sale(facts, ctx)
            ledger.add(entity, record_id, facts.day, facts.doc, sale)
            return sale
        record = self.source.raw(entity, record_id)
        posted = post(entity, record, ctx) if record is not None else None
        if record is not None and posted is not None:
            ledger.add(entity, record_id, txn_day(record, _EPOCH), _doc(record), posted)
        return posted

    def _make_quantities(self) -> dict[int, Decimal]:
        self.ledger(Basis.ACCRUAL)
        return self._quantities

    def _opening_inventory(self, ctx: RuleContext, ledger: Ledger) -> None:
        """Each inventory item's starting quantity at its cost, on its InvStartDate:
        Inventory Asset against Opening Balance Equity (an entry of type "Item")."""
        for item_id, facts in ctx.items.items():
            qty = self.source.opening_qty(item_id) if facts.inventory else Decimal(0)
            self._quantities[item_id] = qty
            amount = cents(facts.cost * qty)
            record = self.source.raw("Item", item_id) or {}
            if not amount:
                continue
            asset = ctx.chart.known(facts.asset, ac.INVENTORY_ASSET)
            postings = [
                Raw(asset, amount, None, "inventory_start", "Inventory starting value"),
                Raw(ac.OPENING_BALANCE_EQUITY, -amount, None, "inventory_start"),
            ]
            day = _start_day(record)
            posted = Posted(None, amount, postings, memo="Inventory starting value")
            ledger.add("Item", item_id, day, "", posted)


def _item_facts(record: dict[str, Any]) -> ItemFacts:
    cost = record.get("PurchaseCost")
    return ItemFacts(
        inventory=record.get("Type") == "Inventory",
        income=ref_id(record.get("IncomeAccountRef")),
        expense=ref_id(record.get("ExpenseAccountRef")),
        asset=ref_id(record.get("AssetAccountRef")),
        cost=Decimal(str(cost)) if isinstance(cost, (int, float)) else Decimal(0),
    )


def _start_day(record: dict[str, Any]) -> date:
    value = record.get("InvStartDate")
    if isinstance(value, str) and len(value) == 10:
        with contextlib.suppress(ValueError):
            return date.fromisoformat(value)
    return txn_day(record, _EPOCH)


def _doc(record: dict[str, Any]) -> str:
    value = record.get("DocNumber")
    return value if isinstance(value, str) else ""


def _party_totals(ledger: Ledger, chart: Chart) -> dict[tuple[str, int], int]:
    """A/R per customer (debit positive) and A/P per vendor (credit positive), in cents."""
    kinds = {a.id: a.account_type for a in chart.accounts()}
    sign = {"Accounts Receivable": 1, "Accounts Payable": -1}
    accounts = {account for account, kind in kinds.items() if kind in sign}
    out: dict[tuple[str, int], int] = {}
    for (account, code), amount in ledger.by_name(accounts).items():
        name = ledger.name_at(code)
        if name is not None:
            key = (name.entity, name.id)
            out[key] = out.get(key, 0) + sign[kinds[account]] * amount
    return out
