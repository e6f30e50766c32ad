"""The buying side: bills and their payments, purchases (checks, cash and card expenses),
purchase orders, vendor credits; their lines, linked transactions and tax lines."""

from __future__ import annotations

from qbo_backfill.views.model import ViewSpec, header, lines
from qbo_backfill.views.parts import EXPENSE_LINE, TXN, linked, linked_by_type, tax_lines

BILL = header(
    "bill",
    "Bill",
    TXN,
    """
    vendor_id               VendorRef.value           text
    payable_account_id      APAccountRef.value        text
    sales_term_id           SalesTermRef.value        text
    due_date                DueDate                   date
    balance                 Balance                   numeric
    home_balance            HomeBalance               numeric
    total_tax               TxnTaxDetail.TotalTax     numeric
    """,
)
BILL_LINE = lines("bill_line", "Bill", "bill_id", EXPENSE_LINE)
BILL_LINKED_TXN = linked(
    "bill_linked_txn",
    "Bill",
    "bill_id",
    {
        "bill_payment_id": "BillPaymentCheck,BillPaymentCreditCard,BillPayment",
        "purchase_order_id": "PurchaseOrder",
    },
)
BILL_PAYMENT = header(
    "bill_payment",
    "BillPayment",
    TXN,
    """
    vendor_id               VendorRef.value           text
    payable_account_id      APAccountRef.value        text
    pay_type                PayType                   text
    check_bank_account_id   CheckPayment.BankAccountRef.value text
    check_print_status      CheckPayment.PrintStatus  text
    credit_card_account_id  CreditCardPayment.CCAccountRef.value text
    process_bill_payment    ProcessBillPayment        boolean
    """,
)
BILL_PAYMENT_LINE = lines(
    "bill_payment_line",
    "BillPayment",
    "bill_payment_id",
    """
    amount                  Amount                    numeric
    """,
    linked_by_type(
        {
            "bill_id": "Bill",
            "vendor_credit_id": "VendorCredit",
            "journal_entry_id": "JournalEntry",
            "deposit_id": "Deposit",
            "check_id": "Check",
            "expense_id": "Expense",
            "credit_card_charge_id": "CreditCardCharge",
            "credit_card_credit_id": "CreditCardCredit",
            "linked_bill_payment_id": "BillPaymentCheck,BillPayment",
            "bill_payment_credit_card_id": "BillPaymentCreditCard",
        }
    ),
)
PURCHASE = header(
    "purchase",
    "Purchase",
    TXN,
    """
    account_id              AccountRef.value          text
    payment_type            PaymentType               text
    credit                  Credit                    boolean
    vendor_id               EntityRef.value|EntityRef.type=Vendor text
    customer_id             EntityRef.value|EntityRef.type=Customer text
    employee_id             EntityRef.value|EntityRef.type=Employee text
    payment_method_id       PaymentMethodRef.value    text
    remit_to_address_id     RemitToAddr.Id            text
    print_status            PrintStatus               text
    total_tax               TxnTaxDetail.TotalTax     numeric
    tax_code_id             TxnTaxDetail.TxnTaxCodeRef.value text
    transaction_source      TransactionSource         text
    """,
)
PURCHASE_LINE = lines("purchase_line", "Purchase", "purchase_id", EXPENSE_LINE)
PURCHASE_ORDER = header(
    "purchase_order",
    "PurchaseOrder",
    TXN,
    """
    vendor_id               VendorRef.value           text
    payable_account_id      APAccountRef.value        text
    class_id                ClassRef.value            text
    sales_term_id           SalesTermRef.value        text
    due_date                DueDate                   date
    status                  POStatus                  text
    memo                    Memo                      text
    shipping_address_id     ShipAddr.Id               text
    vendor_address_id       VendorAddr.Id             text
    total_tax               TxnTaxDetail.TotalTax     numeric
    tax_code_id             TxnTaxDetail.TxnTaxCodeRef.value text
    """,
)
PURCHASE_ORDER_LINE = lines(
    "purchase_order_line", "PurchaseOrder", "purchase_order_id", EXPENSE_LINE
)
PURCHASE_ORDER_LINKED_TXN = linked(
    "purchase_order_linked_txn",
    "PurchaseOrder",
    "purchase_order_id",
    {"bill_id": "Bill", "purchase_id": "Purchase", "vendor_credit_id": "VendorCredit"},
)
VENDOR_CREDIT = header(
    "vendor_credit",
    "VendorCredit",
    TXN,
    """
    vendor_id               VendorRef.value           text
    payable_account_id      APAccountRef.value        text
    balance                 Balance                   numeric
    total_tax               TxnTaxDetail.TotalTax     numeric
    """,
)
VENDOR_CREDIT_LINE = lines("vendor_credit_line", "VendorCredit", "vendor_credit_id", EXPENSE_LINE)

VIEWS: tuple[ViewSpec, ...] = (
    BILL,
    BILL_LINE,
    BILL_LINKED_TXN,
    BILL_PAYMENT,
    BILL_PAYMENT_LINE,
    PURCHASE,
    PURCHASE_LINE,
    PURCHASE_ORDER,
    PURCHASE_ORDER_LINE,
    PURCHASE_ORDER_LINKED_TXN,
    VENDOR_CREDIT,
    VENDOR_CREDIT_LINE,
    tax_lines("bill_tax_line_detail", "Bill", "bill_id"),
    tax_lines("purchase_tax_line", "Purchase", "purchase_id"),
)
