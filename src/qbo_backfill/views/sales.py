"""The sales side: invoices, estimates, sales receipts, credit memos, refund receipts,
payments; their lines, bundles, linked transactions and tax lines."""

from __future__ import annotations

from qbo_backfill.views.model import Level, ViewSpec, columns, entity, header, lines
from qbo_backfill.views.parts import (
    BUNDLE_LINE,
    CREDIT_CARD,
    CUSTOMER_FORM,
    SALES_LINE,
    TXN,
    linked,
    linked_by_type,
    tax_lines,
)

INVOICE = header(
    "invoice",
    "Invoice",
    TXN,
    CUSTOMER_FORM,
    """
    due_date                DueDate                   date
    balance                 Balance                   numeric
    home_balance            HomeBalance               numeric
    deposit                 Deposit                   numeric
    deposit_to_account_id   DepositToAccountRef.value text
    ship_date               ShipDate                  date
    tracking_number         TrackingNum               text
    delivery_type           DeliveryInfo.DeliveryType text
    delivery_time           DeliveryInfo.DeliveryTime timestamptz
    billing_cc_email        BillEmailCc.Address       text
    billing_bcc_email       BillEmailBcc.Address      text
    billing_email           BillEmail.Address         text
    allow_ipnpayment        AllowIPNPayment           boolean
    allow_online_payment    AllowOnlinePayment        boolean
    allow_online_credit_card_payment AllowOnlineCreditCardPayment boolean
    allow_online_achpayment AllowOnlineACHPayment     boolean
    """,
)
INVOICE_LINE = lines("invoice_line", "Invoice", "invoice_id", SALES_LINE)
INVOICE_LINE_BUNDLE = ViewSpec(
    "invoice_line_bundle",
    entity("Invoice"),
    columns(BUNDLE_LINE),
    levels=(Level("Line", "invoice_line_index"), Level("GroupLineDetail.Line", "index")),
    parent_key="invoice_id",
    doc="one row per line of a bundle (GroupLineDetail.Line) on an invoice line",
)
INVOICE_LINKED_TXN = linked(
    "invoice_linked_txn",
    "Invoice",
    "invoice_id",
    {
        "estimate_id": "Estimate",
        "payment_id": "Payment",
        "charge_credit_id": "ChargeCredit",
        "reimburse_charge_id": "ReimburseCharge",
        "statement_charge_id": "StatementCharge",
        "time_activity_id": "TimeActivity",
    },
)
ESTIMATE = header(
    "estimate",
    "Estimate",
    TXN,
    CUSTOMER_FORM,
    """
    due_date                DueDate                   date
    expiration_date         ExpirationDate            date
    accepted_by             AcceptedBy                text
    accepted_date           AcceptedDate              date
    ship_date               ShipDate                  date
    delivery_type           DeliveryInfo.DeliveryType text
    transaction_status      TxnStatus                 text
    """,
)
ESTIMATE_LINE = lines("estimate_line", "Estimate", "estimate_id", SALES_LINE)
SALES_RECEIPT = header(
    "sales_receipt",
    "SalesReceipt",
    TXN,
    CUSTOMER_FORM,
    CREDIT_CARD,
    """
    balance                 Balance                   numeric
    home_balance            HomeBalance               numeric
    deposit_to_account_id   DepositToAccountRef.value text
    payment_method_id       PaymentMethodRef.value    text
    payment_reference_number PaymentRefNum            text
    ship_date               ShipDate                  date
    tracking_number         TrackingNum               text
    delivery_type           DeliveryInfo.DeliveryType text
    delivery_time           DeliveryInfo.DeliveryTime timestamptz
    """,
)
SALES_RECEIPT_LINE = lines("sales_receipt_line", "SalesReceipt", "sales_receipt_id", SALES_LINE)
CREDIT_MEMO = header(
    "credit_memo",
    "CreditMemo",
    TXN,
    CUSTOMER_FORM,
    """
    balance                 Balance                   numeric
    home_balance            HomeBalance               numeric
    remaining_credit        RemainingCredit           numeric
    payment_method_id       PaymentMethodRef.value    text
    custom_p_o_number       PONumber                  text
    """,
)
CREDIT_MEMO_LINE = lines("credit_memo_line", "CreditMemo", "credit_memo_id", SALES_LINE)
REFUND_RECEIPT = header(
    "refund_receipt",
    "RefundReceipt",
    TXN,
    CUSTOMER_FORM,
    CREDIT_CARD,
    """
    balance                 Balance                   numeric
    home_balance            HomeBalance               numeric
    deposit_to_account_id   DepositToAccountRef.value text
    payment_method_id       PaymentMethodRef.value    text
    payment_reference_number PaymentRefNum            text
    payment_type            PaymentType               text
    check_payment_account_number CheckPayment.AcctNum text
    check_payment_bank_name CheckPayment.BankName     text
    check_payment_check_number CheckPayment.CheckNum  text
    check_payment_name_on_account CheckPayment.NameOnAcct text
    check_payment_status    CheckPayment.Status       text
    """,
)
# Fivetran names this view's key `refund_id`, not `refund_receipt_id`.
REFUND_RECEIPT_LINE = lines("refund_receipt_line", "RefundReceipt", "refund_id", SALES_LINE)
PAYMENT = header(
    "payment",
    "Payment",
    TXN,
    CREDIT_CARD,
    """
    customer_id             CustomerRef.value         text
    deposit_to_account_id   DepositToAccountRef.value text
    receivable_account_id   ARAccountRef.value        text
    payment_method_id       PaymentMethodRef.value    text
    reference_number        PaymentRefNum             text
    unapplied_amount        UnappliedAmt              numeric
    process_payment         ProcessPayment            boolean
    transaction_source      TransactionSource         text
    transaction_status      TxnStatus                 text
    """,
)
PAYMENT_LINE = lines(
    "payment_line",
    "Payment",
    "payment_id",
    """
    amount                  Amount                    numeric
    """,
    linked_by_type(
        {
            "invoice_id": "Invoice",
            "credit_memo_id": "CreditMemo",
            "journal_entry_id": "JournalEntry",
            "deposit_id": "Deposit",
            "check_id": "Check",
            "expense_id": "Expense",
            "credit_card_charge_id": "CreditCardCharge",
            "credit_card_credit_id": "CreditCardCredit",
        }
    ),
)
SALES_TAX_LINES = (
    tax_lines("invoice_tax_line", "Invoice", "invoice_id"),
    tax_lines("estimate_tax_line", "Estimate", "estimate_id"),
    tax_lines("sales_receipt_tax_line", "SalesReceipt", "sales_receipt_id"),
    tax_lines("credit_memo_tax_line_detail", "CreditMemo", "credit_memo_id"),
    tax_lines("refund_receipt_tax_line", "RefundReceipt", "refund_receipt_id"),
)

VIEWS: tuple[ViewSpec, ...] = (
    INVOICE,
    INVOICE_LINE,
    INVOICE_LINE_BUNDLE,
    INVOICE_LINKED_TXN,
    ESTIMATE,
    ESTIMATE_LINE,
    SALES_RECEIPT,
    SALES_RECEIPT_LINE,
    CREDIT_MEMO,
    CREDIT_MEMO_LINE,
    REFUND_RECEIPT,
    REFUND_RECEIPT_LINE,
    PAYMENT,
    PAYMENT_LINE,
    *SALES_TAX_LINES,
)
