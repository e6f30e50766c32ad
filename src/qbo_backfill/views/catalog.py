"""Every typed view, in the order the installer creates them: the declared ones (sales,
purchases, banking, lists), `address`, and `report_row` over the stored reports.

A view defined elsewhere joins by being returned from `definitions()` (or handed to the
installer as `extra`): one line here, nothing else to change."""

from __future__ import annotations

from qbo_backfill.views import banking, lists, purchases, sales
from qbo_backfill.views.address import ADDRESS
from qbo_backfill.views.definition import ViewDefinition, from_spec
from qbo_backfill.views.model import ViewSpec
from qbo_backfill.views.reportrow import REPORT_ROW

SPECS: tuple[ViewSpec, ...] = (*lists.VIEWS, *sales.VIEWS, *purchases.VIEWS, *banking.VIEWS)
# The views dbt_quickbooks reads with its default switches (its `using_*` variables).
DBT_DEFAULT_VIEWS = frozenset(
    """account address bill bill_line bill_linked_txn bill_payment bill_payment_line bundle
    bundle_item credit_memo credit_memo_line customer customer_type department deposit
    deposit_line estimate estimate_line invoice invoice_line invoice_line_bundle
    invoice_linked_txn item journal_entry journal_entry_line payment payment_line purchase
    purchase_line refund_receipt refund_receipt_line sales_receipt sales_receipt_line
    transfer vendor vendor_credit vendor_credit_line""".split()  # noqa: SIM905
)


def definitions() -> list[ViewDefinition]:
    """Every view the installer creates, by default."""
    return [*(from_spec(spec) for spec in SPECS), ADDRESS, REPORT_ROW]


def spec_named(name: str) -> ViewSpec:
    """The declaration of a view by its name (tests and docs read them)."""
    for spec in SPECS:
        if spec.name == name:
            return spec
    raise KeyError(name)
