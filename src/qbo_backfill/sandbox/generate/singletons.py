"""One-record entities: CompanyInfo and Preferences."""

from __future__ import annotations

from typing import Any

from qbo_backfill.sandbox import clock
from qbo_backfill.sandbox.generate.base import meta
from qbo_backfill.sandbox.generate.words import COMPANY_ADDRESS

__all__ = ["company_info", "preferences"]


def _singleton(created: int) -> dict[str, Any]:
    return {
        "domain": "QBO",
        "sparse": False,
        "Id": "1",
        "SyncToken": "0",
        "MetaData": meta(created, created),
    }


def company_info(realm: str, index: int, created: int) -> dict[str, Any]:
    """The realm's CompanyInfo, created `created` (epoch seconds)."""
    address = dict(COMPANY_ADDRESS)
    name = f"Sandbox Company US {index + 1}"
    return {
        "CompanyName": name,
        "LegalName": name,
        "CompanyAddr": address,
        "CustomerCommunicationAddr": dict(address),
        "LegalAddr": dict(address),
        "PrimaryPhone": {},
        "CompanyStartDate": clock.ordinal_to_iso(clock.local_date_ordinal(created)),
        "FiscalYearStartMonth": "January",
        "Country": "US",
        "Email": {"Address": "noreply@quickbooks.example.com"},
        "WebAddr": {},
        "SupportedLanguages": "en",
        "NameValue": [
            {"Name": "NeoEnabled", "Value": "true"},
            {"Name": "IndustryType", "Value": "Landscaping Services"},
            {"Name": "SubscriptionStatus", "Value": "SUBSCRIBED"},
            {"Name": "OfferingSku", "Value": "QuickBooks Online Plus"},
        ],
        **_singleton(created),
        "realmId": realm,
    }


def preferences(created: int) -> dict[str, Any]:
    """The company's Preferences: a US company with sales tax, classes and locations on."""
    return {
        "AccountingInfoPrefs": {
            "TrackDepartments": True,
            "DepartmentTerminology": "Location",
            "ClassTrackingPerTxn": False,
            "ClassTrackingPerTxnLine": True,
            "CustomerTerminology": "Customers",
        },
        "ProductAndServicesPrefs": {
            "ForSales": True,
            "ForPurchase": True,
            "QuantityWithPriceAndRate": True,
            "QuantityOnHand": True,
        },
        "SalesFormsPrefs": {
            "CustomField": [],
            "AllowDeposit": True,
            "AllowDiscount": True,
            "AllowEstimates": True,
            "AllowShipping": False,
            "DefaultTerms": {"value": "3"},
            "CustomTxnNumbers": False,
            "EstimateMessage": "This estimate is valid for 30 days.",
            "DefaultCustomerMessage": "Thank you for your business and have a great day!",
        },
        "EmailMessagesPrefs": {
            "InvoiceMessage": {"Subject": "Invoice from Sandbox Company", "Message": ""},
        },
        "VendorAndPurchasesPrefs": {
            "TrackingByCustomer": True,
            "BillableExpenseTracking": True,
            "DefaultTerms": {"value": "2"},
        },
        "TimeTrackingPrefs": {
            "UseServices": True,
            "BillCustomers": True,
            "ShowBillRateToAll": False,
            "WorkWeekStartDate": "Monday",
            "MarkTimeEntriesBillable": True,
        },
        "TaxPrefs": {"UsingSalesTax": True, "PartnerTaxEnabled": True},
        "CurrencyPrefs": {"MultiCurrencyEnabled": False, "HomeCurrency": {"value": "USD"}},
        "ReportPrefs": {"ReportBasis": "Accrual", "CalcAgingReportFromTxnDate": False},
        "OtherPrefs": {"NameValue": [{"Name": "SalesFormsPrefs.DefaultItem", "Value": "1"}]},
        **_singleton(created),
    }
