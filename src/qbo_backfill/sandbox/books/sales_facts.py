"""Generated invoices posted from their facts, without building their JSON.

A million invoices are most of what the books read; building each one's payload costs
about four times what posting it does. `SaleFacts` holds what the rules read of a
generated invoice, drawn the same way its payload is.
"""

from __future__ import annotations

from decimal import Decimal

from qbo_backfill.sandbox.books import chart as ac
from qbo_backfill.sandbox.books.model import NameRef
from qbo_backfill.sandbox.books.rules import Posted, Raw, RuleContext, inventory_cost
from qbo_backfill.sandbox.generate.sales import SaleFacts

__all__ = ["SaleFacts", "post_sale"]


def post_sale(facts: SaleFacts, ctx: RuleContext) -> Posted:
    """A generated invoice's postings from its facts: exactly what `post` makes of the
    built record (the books test checks it), at a fraction of the cost."""
    name = NameRef("Customer", facts.customer_id, facts.customer_name)
    postings = [Raw(ac.ACCOUNTS_RECEIVABLE, facts.total, None, "ar", "", name)]
    income = ctx.chart.known(ac.SALES_OF_PRODUCT_INCOME, ac.SALES_OF_PRODUCT_INCOME)
    qty: dict[int, Decimal] = {}
    for index, (item_id, desc, count, amount) in enumerate(facts.lines):
        postings.append(Raw(income, -amount, index, "line", desc, name))
        item = ctx.items.get(item_id)
        if item is not None and item.inventory:
            postings.extend(inventory_cost(ctx, item, Decimal(count), 1, name))
            qty[item_id] = qty.get(item_id, Decimal(0)) - count
    return Posted(name, facts.total, postings, due=facts.due, qty=qty)
