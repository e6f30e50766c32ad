"""Column tables that several views share: a transaction's header, the line details QBO
shares between forms (sales items, expenses, discounts, bundles), tax lines."""

from __future__ import annotations

from qbo_backfill.views.model import ViewSpec, lines

TXN = """
doc_number              DocNumber                 text
transaction_date        TxnDate                   date
currency_id             CurrencyRef.value         text
exchange_rate           ExchangeRate              numeric
private_note            PrivateNote               text
total_amount            TotalAmt                  numeric
department_id           DepartmentRef.value       text
global_tax_calculation  GlobalTaxCalculation      text
"""
# Forms sent to a customer (invoice, estimate, sales receipt, credit memo, refund receipt).
CUSTOMER_FORM = """
customer_id             CustomerRef.value         text
class_id                ClassRef.value            text
sales_term_id           SalesTermRef.value        text
billing_address_id      BillAddr.Id               text
shipping_address_id     ShipAddr.Id               text
bill_email              BillEmail.Address         text
customer_memo           CustomerMemo.value        text
print_status            PrintStatus               text
email_status            EmailStatus               text
apply_tax_after_discount ApplyTaxAfterDiscount    boolean
total_tax               TxnTaxDetail.TotalTax     numeric
tax_code_id             TxnTaxDetail.TxnTaxCodeRef.value text
home_total_amount       HomeTotalAmt              numeric
transaction_source      TransactionSource         text
"""
# A card charge taken with the form (QBO Payments).
_RESPONSE = "CreditCardPayment.CreditChargeResponse"
_INFO = "CreditCardPayment.CreditChargeInfo"
CREDIT_CARD = f"""
credit_card_amount      {_RESPONSE}.Amount numeric
credit_card_auth_code   {_RESPONSE}.AuthCode text
credit_card_billing_address_street {_INFO}.BillAddrStreet text
credit_card_cc_expiry_month {_INFO}.CcExpiryMonth text
credit_card_cc_expiry_year {_INFO}.CcExpiryYear text
credit_card_cctrans_id  {_RESPONSE}.CCTransId text
credit_card_name_on_account {_INFO}.NameOnAcct text
credit_card_postal_code {_INFO}.PostalCode text
credit_card_process_payment {_INFO}.ProcessPayment boolean
credit_card_status      {_RESPONSE}.Status text
credit_card_transaction_authorization_time {_RESPONSE}.TxnAuthorizationTime timestamptz
credit_card_type        {_INFO}.Type text
"""
SALES_LINE = """
amount                  Amount                    numeric
description             Description               text
detail_type             DetailType                text
line_num                LineNum                   integer
sales_item_item_id      SalesItemLineDetail.ItemRef.value text
sales_item_account_id   SalesItemLineDetail.ItemAccountRef.value text
sales_item_class_id     SalesItemLineDetail.ClassRef.value text
sales_item_quantity     SalesItemLineDetail.Qty   numeric
sales_item_unit_price   SalesItemLineDetail.UnitPrice numeric
sales_item_discount_amount SalesItemLineDetail.DiscountAmt numeric
sales_item_discount_rate SalesItemLineDetail.DiscountRate numeric
sales_item_service_date SalesItemLineDetail.ServiceDate date
sales_item_tax_code_id  SalesItemLineDetail.TaxCodeRef.value text
bundle_id               GroupLineDetail.GroupItemRef.value text
bundle_quantity         GroupLineDetail.Quantity  numeric
discount_account_id     DiscountLineDetail.DiscountAccountRef.value text
discount_class_id       DiscountLineDetail.ClassRef.value text
discount_discount_percent DiscountLineDetail.DiscountPercent numeric
discount_percent_based  DiscountLineDetail.PercentBased boolean
discount_tax_code_id    DiscountLineDetail.TaxCodeRef.value text
description_service_date DescriptionLineDetail.ServiceDate date
description_tax_code_id DescriptionLineDetail.TaxCodeRef.value text
sub_total_item_id       SubTotalLineDetail.ItemRef.value text
"""
EXPENSE_LINE = """
amount                  Amount                    numeric
description             Description               text
detail_type             DetailType                text
line_num                LineNum                   integer
account_expense_account_id AccountBasedExpenseLineDetail.AccountRef.value text
account_expense_billable_status AccountBasedExpenseLineDetail.BillableStatus text
account_expense_class_id AccountBasedExpenseLineDetail.ClassRef.value text
account_expense_customer_id AccountBasedExpenseLineDetail.CustomerRef.value text
account_expense_tax_amount AccountBasedExpenseLineDetail.TaxAmount numeric
account_expense_tax_code_id AccountBasedExpenseLineDetail.TaxCodeRef.value text
item_expense_billable_status ItemBasedExpenseLineDetail.BillableStatus text
item_expense_class_id   ItemBasedExpenseLineDetail.ClassRef.value text
item_expense_customer_id ItemBasedExpenseLineDetail.CustomerRef.value text
item_expense_item_id    ItemBasedExpenseLineDetail.ItemRef.value text
item_expense_quantity   ItemBasedExpenseLineDetail.Qty numeric
item_expense_tax_code_id ItemBasedExpenseLineDetail.TaxCodeRef.value text
item_expense_unit_price ItemBasedExpenseLineDetail.UnitPrice numeric
"""
# A bundle's lines on a sales form: each a sales item line inside GroupLineDetail.Line.
BUNDLE_LINE = """
amount                  Amount                    numeric
description             Description               text
line_num                LineNum                   integer
item_id                 SalesItemLineDetail.ItemRef.value text
account_id              SalesItemLineDetail.ItemAccountRef.value text
class_id                SalesItemLineDetail.ClassRef.value text
quantity                SalesItemLineDetail.Qty   numeric
unit_price              SalesItemLineDetail.UnitPrice numeric
discount_amount         SalesItemLineDetail.DiscountAmt numeric
discount_rate           SalesItemLineDetail.DiscountRate numeric
service_date            SalesItemLineDetail.ServiceDate date
tax_code_id             SalesItemLineDetail.TaxCodeRef.value text
sales_item_item_id      SalesItemLineDetail.ItemRef.value text
sales_item_account_id   SalesItemLineDetail.ItemAccountRef.value text
sales_item_quantity     SalesItemLineDetail.Qty   numeric
sales_item_tax_code_id  SalesItemLineDetail.TaxCodeRef.value text
"""
TAX_LINE = """
amount                  Amount                    numeric
tax_rate_id             TaxLineDetail.TaxRateRef.value text
percent_based           TaxLineDetail.PercentBased boolean
tax_percent             TaxLineDetail.TaxPercent  numeric
net_amount_taxable      TaxLineDetail.NetAmountTaxable numeric
tax_inclusive_amount    TaxLineDetail.TaxInclusiveAmount numeric
override_delta_amount   TaxLineDetail.OverrideDeltaAmount numeric
"""


def tax_lines(name: str, entity_name: str, parent_key: str) -> ViewSpec:
    """A transaction's tax lines (TxnTaxDetail.TaxLine)."""
    return lines(
        name,
        entity_name,
        parent_key,
        TAX_LINE,
        path="TxnTaxDetail.TaxLine",
        doc="one row per tax line of the transaction's TxnTaxDetail",
    )


def linked(name: str, entity_name: str, parent_key: str, types: dict[str, str]) -> ViewSpec:
    """A record's LinkedTxn, one row each, the linked id in the column of its type
    (`payment_id` when `TxnType` is `Payment`)."""
    table = "\n".join(f"{col} TxnId|TxnType={kind} text" for col, kind in types.items())
    return lines(
        name,
        entity_name,
        parent_key,
        table,
        path="LinkedTxn",
        doc="one row per transaction linked to the record (LinkedTxn)",
    )


def linked_by_type(types: dict[str, str]) -> str:
    """Columns of a line's linked transactions: `<type>_id` from LinkedTxn[Type].TxnId."""
    return "\n".join(f"{col} LinkedTxn[{kind}].TxnId text" for col, kind in types.items())
