"""List entities (accounts, customers, vendors, items, bundles, ...) and the company's
other records: one view each, and the items of a bundle."""

from __future__ import annotations

from dataclasses import replace

from qbo_backfill.views.model import Level, ViewSpec, columns, entity, header

NAMED = """
name                    Name                      text
active                  Active                    boolean
"""
PARTY = """
display_name            DisplayName               text
company_name            CompanyName               text
title                   Title                     text
given_name              GivenName                 text
middle_name             MiddleName                text
family_name             FamilyName                text
suffix                  Suffix                    text
print_on_check_name     PrintOnCheckName          text
email                   PrimaryEmailAddr.Address  text
fax_number              Fax.FreeFormNumber        text
active                  Active                    boolean
balance                 Balance                   numeric
currency_id             CurrencyRef.value         text
billing_address_id      BillAddr.Id               text
"""
ACCOUNT = header(
    "account",
    "Account",
    NAMED,
    """
    account_number          AcctNum                   text
    account_type            AccountType               text
    account_sub_type        AccountSubType            text
    classification          Classification            text
    description             Description               text
    fully_qualified_name    FullyQualifiedName        text
    sub_account             SubAccount                boolean
    parent_account_id       ParentRef.value           text
    balance                 CurrentBalance            numeric
    balance_with_sub_accounts CurrentBalanceWithSubAccounts numeric
    currency_id             CurrencyRef.value         text
    tax_code_id             TaxCodeRef.value          text
    """,
)
CUSTOMER = header(
    "customer",
    "Customer",
    PARTY,
    """
    fully_qualified_name    FullyQualifiedName        text
    phone_number            PrimaryPhone.FreeFormNumber text
    mobile_number           Mobile.FreeFormNumber     text
    alternate_phone_number  AlternatePhone.FreeFormNumber text
    website                 WebAddr.URI               text
    notes                   Notes                     text
    job                     Job                       boolean
    bill_with_parent        BillWithParent            boolean
    parent_customer_id      ParentRef.value           text
    level                   Level                     integer
    balance_with_jobs       BalanceWithJobs           numeric
    open_balance_date       OpenBalanceDate           date
    taxable                 Taxable                   boolean
    default_tax_code_id     DefaultTaxCodeRef.value   text
    tax_exemption_reason_id TaxExemptionReasonId      text
    resale_number           ResaleNum                 text
    ar_account_id           ARAccountRef.value        text
    customer_type_id        CustomerTypeRef.value     text
    payment_method_id       PaymentMethodRef.value    text
    sales_term_id           SalesTermRef.value        text
    preferred_delivery_method PreferredDeliveryMethod text
    shipping_address_id     ShipAddr.Id               text
    """,
)
VENDOR = header(
    "vendor",
    "Vendor",
    PARTY,
    """
    account_number          AcctNum                   text
    primary_phone           PrimaryPhone.FreeFormNumber text
    mobile_phone            Mobile.FreeFormNumber     text
    alternate_phone         AlternatePhone.FreeFormNumber text
    other_contacts          OtherContactInfo.Telephone.FreeFormNumber text
    web_url                 WebAddr.URI               text
    tax_identifier          TaxIdentifier             text
    term_id                 TermRef.value             text
    vendor_1099             Vendor1099                boolean
    """,
)
EMPLOYEE = header(
    "employee",
    "Employee",
    """
    display_name            DisplayName               text
    given_name              GivenName                 text
    middle_name             MiddleName                text
    family_name             FamilyName                text
    print_on_check_name     PrintOnCheckName          text
    email                   PrimaryEmailAddr.Address  text
    phone_number            PrimaryPhone.FreeFormNumber text
    employee_number         EmployeeNumber            text
    active                  Active                    boolean
    billable_time           BillableTime              boolean
    bill_rate               BillRate                  numeric
    cost_rate               CostRate                  numeric
    hired_date              HiredDate                 date
    released_date           ReleasedDate              date
    address_id              PrimaryAddr.Id            text
    """,
)
ITEM_COLUMNS = """
name                    Name                      text
active                  Active                    boolean
description             Description               text
fully_qualified_name    FullyQualifiedName        text
type                    Type                      text
sub_item                SubItem                   boolean
parent_item_id          ParentRef.value           text
level                   Level                     integer
unit_price              UnitPrice                 numeric
purchase_cost           PurchaseCost              numeric
purchase_description    PurchaseDesc              text
income_account_id       IncomeAccountRef.value    text
expense_account_id      ExpenseAccountRef.value   text
asset_account_id        AssetAccountRef.value     text
taxable                 Taxable                   boolean
sales_tax_included      SalesTaxIncluded          boolean
purchase_tax_included   PurchaseTaxIncluded       boolean
sales_tax_code_id       SalesTaxCodeRef.value     text
purchase_tax_code_id    PurchaseTaxCodeRef.value  text
track_quantity_on_hand  TrackQtyOnHand            boolean
quantity_on_hand        QtyOnHand                 numeric
inventory_start_date    InvStartDate              date
stock_keeping_unit      Sku                       text
print_grouped_items     PrintGroupedItems         boolean
"""
ITEM = header("item", "Item", ITEM_COLUMNS)
# A bundle is an item of type Group; its items are ItemGroupDetail.ItemGroupLine.
BUNDLE = replace(
    header("bundle", "Item", ITEM_COLUMNS, doc="the items of type Group (bundles)"),
    where=("Type", "Group"),
)
BUNDLE_ITEM = ViewSpec(
    "bundle_item",
    entity("Item"),
    columns(
        """
        item_id                 ItemRef.value             text
        item_name               ItemRef.name              text
        item_quantity           Qty                       numeric
        """
    ),
    levels=(Level("ItemGroupDetail.ItemGroupLine", "index"),),
    parent_key="bundle_id",
    where=("Type", "Group"),
    doc="one row per item of a bundle (ItemGroupDetail.ItemGroupLine)",
)
CLASS = header(
    "class",
    "Class",
    NAMED,
    """
    fully_qualified_name    FullyQualifiedName        text
    sub_class               SubClass                  boolean
    parent_class_id         ParentRef.value           text
    """,
)
DEPARTMENT = header(
    "department",
    "Department",
    NAMED,
    """
    fully_qualified_name    FullyQualifiedName        text
    sub_department          SubDepartment             boolean
    parent_department_id    ParentRef.value           text
    """,
)
TERM = header(
    "term",
    "Term",
    NAMED,
    """
    type                    Type                      text
    due_days                DueDays                   integer
    discount_days           DiscountDays              integer
    discount_percent        DiscountPercent           numeric
    day_of_month_due        DayOfMonthDue             integer
    due_next_month_days     DueNextMonthDays          integer
    discount_day_of_month   DiscountDayOfMonth        integer
    """,
)
TAX_RATE = header(
    "tax_rate",
    "TaxRate",
    NAMED,
    """
    description             Description               text
    rate_value              RateValue                 numeric
    tax_agency_id           AgencyRef.value           text
    special_tax_type        SpecialTaxType            text
    display_type            DisplayType               text
    """,
)
TAX_AGENCY = header(
    "tax_agency",
    "TaxAgency",
    """
    display_name            DisplayName               text
    tax_registration_number TaxRegistrationNumber     text
    tax_tracked_on_sales    TaxTrackedOnSales         boolean
    tax_tracked_on_purchases TaxTrackedOnPurchases    boolean
    """,
)
TAX_CODE = header(
    "tax_code",
    "TaxCode",
    NAMED,
    """
    description             Description               text
    hidden                  Hidden                    boolean
    taxable                 Taxable                   boolean
    tax_group               TaxGroup                  boolean
    """,
)
SMALL_LISTS = (
    header("customer_type", "CustomerType", NAMED),
    header("payment_method", "PaymentMethod", NAMED, "type Type text"),
    header("company_currency", "CompanyCurrency", NAMED, "code Code text"),
    header(
        "budget",
        "Budget",
        NAMED,
        """
        start_date              StartDate                 date
        end_date                EndDate                   date
        budget_type             BudgetType                text
        budget_entry_type       BudgetEntryType           text
        """,
    ),
    header(
        "attachable",
        "Attachable",
        """
        file_name               FileName                  text
        note                    Note                      text
        category                Category                  text
        content_type            ContentType               text
        size                    Size                      numeric
        """,
    ),
    header(
        "company_info",
        "CompanyInfo",
        """
        company_name            CompanyName               text
        legal_name              LegalName                 text
        country                 Country                   text
        company_start_date      CompanyStartDate          date
        fiscal_year_start_month FiscalYearStartMonth      text
        address_id              CompanyAddr.Id            text
        """,
    ),
    header(
        "preferences",
        "Preferences",
        """
        home_currency_id        CurrencyPrefs.HomeCurrency.value text
        default_sales_term_id   SalesFormsPrefs.DefaultTerms.value text
        default_vendor_term_id  VendorAndPurchasesPrefs.DefaultTerms.value text
        """,
    ),
    header("exchange_rate", "ExchangeRate", "source_currency_code SourceCurrencyCode text"),
    header("recurring_transaction", "RecurringTransaction"),
    header("tax_classification", "TaxClassification", "name Name text"),
)

VIEWS: tuple[ViewSpec, ...] = (
    ACCOUNT,
    CUSTOMER,
    VENDOR,
    EMPLOYEE,
    ITEM,
    BUNDLE,
    BUNDLE_ITEM,
    CLASS,
    DEPARTMENT,
    TERM,
    TAX_RATE,
    TAX_AGENCY,
    TAX_CODE,
    *SMALL_LISTS,
)
