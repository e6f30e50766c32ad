"""Money between accounts: deposits, journal entries, transfers, credit card payments;
and time activities (hours that sales forms bill)."""

from __future__ import annotations

from qbo_backfill.views.model import ViewSpec, header, lines
from qbo_backfill.views.parts import TXN, linked_by_type, tax_lines

# A journal line's name (customer, vendor or employee): its type beside its reference.
_ENTITY = "JournalEntryLineDetail.Entity"
DEPOSIT = header(
    "deposit",
    "Deposit",
    TXN,
    """
    account_id              DepositToAccountRef.value text
    cash_back_account_id    CashBack.AccountRef.value text
    cash_back_amount        CashBack.Amount           numeric
    cash_back_memo          CashBack.Memo             text
    home_total_amount       HomeTotalAmt              numeric
    transaction_source      TransactionSource         text
    transaction_status      TxnStatus                 text
    """,
)
DEPOSIT_LINE = lines(
    "deposit_line",
    "Deposit",
    "deposit_id",
    """
    amount                  Amount                    numeric
    description             Description               text
    detail_type             DetailType                text
    line_num                LineNum                   integer
    deposit_account_id      DepositLineDetail.AccountRef.value text
    deposit_class_id        DepositLineDetail.ClassRef.value text
    deposit_customer_id     DepositLineDetail.Entity.value text
    deposit_payment_method_id DepositLineDetail.PaymentMethodRef.value text
    deposit_check_number    DepositLineDetail.CheckNum text
    deposit_transaction_type DepositLineDetail.TxnType text
    deposit_tax_code_id     DepositLineDetail.TaxCodeRef.value text
    deposit_tax_applicable_on DepositLineDetail.TaxApplicableOn text
    """,
    linked_by_type(
        {
            "payment_id": "Payment",
            "invoice_id": "Invoice",
            "sales_receipt_id": "SalesReceipt",
            "refund_receipt_id": "RefundReceipt",
            "journal_entry_id": "JournalEntry",
            "bill_id": "Bill",
            "purchase_id": "Purchase",
            "expense_id": "Expense",
            "transfer_id": "Transfer",
            "vendor_credit_id": "VendorCredit",
        }
    ),
)
JOURNAL_ENTRY = header(
    "journal_entry",
    "JournalEntry",
    TXN,
    """
    adjustment              Adjustment                boolean
    home_total_amount       HomeTotalAmt              numeric
    total_tax               TxnTaxDetail.TotalTax     numeric
    tax_code_id             TxnTaxDetail.TxnTaxCodeRef.value text
    """,
)
JOURNAL_ENTRY_LINE = lines(
    "journal_entry_line",
    "JournalEntry",
    "journal_entry_id",
    """
    amount                  Amount                    numeric
    description             Description               text
    detail_type             DetailType                text
    posting_type            JournalEntryLineDetail.PostingType text
    account_id              JournalEntryLineDetail.AccountRef.value text
    class_id                JournalEntryLineDetail.ClassRef.value text
    department_id           JournalEntryLineDetail.DepartmentRef.value text
    billable_status         JournalEntryLineDetail.BillableStatus text
    tax_amount              JournalEntryLineDetail.TaxAmount numeric
    tax_applicable_on       JournalEntryLineDetail.TaxApplicableOn text
    tax_code_id             JournalEntryLineDetail.TaxCodeRef.value text
    description_service_date DescriptionLineDetail.ServiceDate date
    description_tax_code_id DescriptionLineDetail.TaxCodeRef.value text
    """,
    "\n".join(
        f"{kind.lower()}_id {_ENTITY}.EntityRef.value|{_ENTITY}.Type={kind} text"
        for kind in ("Customer", "Vendor", "Employee")
    ),
)
TRANSFER = header(
    "transfer",
    "Transfer",
    TXN,
    """
    amount                  Amount                    numeric
    from_account_id         FromAccountRef.value      text
    to_account_id           ToAccountRef.value        text
    """,
)
CREDIT_CARD_PAYMENT_TXN = header(
    "credit_card_payment_txn",
    "CreditCardPayment",
    TXN,
    """
    amount                  Amount                    numeric
    bank_account_id         BankAccountRef.value      text
    credit_card_account_id  CreditCardAccountRef.value text
    memo                    Memo                      text
    print_status            PrintStatus               text
    """,
)
TIME_ACTIVITY = header(
    "time_activity",
    "TimeActivity",
    """
    transaction_date        TxnDate                   date
    name_of                 NameOf                    text
    employee_id             EmployeeRef.value         text
    vendor_id               VendorRef.value           text
    customer_id             CustomerRef.value         text
    item_id                 ItemRef.value             text
    class_id                ClassRef.value            text
    department_id           DepartmentRef.value       text
    payroll_item_id         PayrollItemRef.value      text
    billable_status         BillableStatus            text
    taxable                 Taxable                   boolean
    hourly_rate             HourlyRate                numeric
    cost_rate               CostRate                  numeric
    hours                   Hours                     numeric
    minutes                 Minutes                   numeric
    break_hours             BreakHours                numeric
    break_minutes           BreakMinutes              numeric
    start_time              StartTime                 timestamptz
    end_time                EndTime                   timestamptz
    description             Description               text
    """,
)

VIEWS: tuple[ViewSpec, ...] = (
    DEPOSIT,
    DEPOSIT_LINE,
    JOURNAL_ENTRY,
    JOURNAL_ENTRY_LINE,
    TRANSFER,
    CREDIT_CARD_PAYMENT_TXN,
    TIME_ACTIVITY,
    tax_lines("deposit_tax_line_detail", "Deposit", "deposit_id"),
    tax_lines("journal_entry_tax_line", "JournalEntry", "journal_entry_id"),
)
