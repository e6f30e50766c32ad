"""The report endpoints over HTTP against a real sandbox and its books: every report's shape,
the books' identities (debits = credits, assets = liabilities + equity, the year's net
income closing into retained earnings, aging = the receivable account), bases, and reports
following admin changes."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from tests.sandbox.conftest import Api
from tests.sandbox.report_walk import (
    amount,
    check_sections_add_up,
    check_shape,
    group,
    labelled,
    money_columns,
    rows_of,
    summary,
    walk,
)

from qbo_backfill.sandbox import Sandbox
from qbo_backfill.sandbox.reports.limits import TRUNCATION_NOTICE, count_data_rows
from qbo_backfill.sandbox.reports.registry import REPORTS

YEAR_2024 = {"start_date": "2024-01-01", "end_date": "2024-12-31"}
Report = dict[str, Any]


def fetch(api: Api, name: str, **params: str) -> Report:
    response = api.get(f"/reports/{name}", **params)
    assert response.status_code == 200, response.text
    body: Report = response.json()
    assert body["Header"]["ReportName"] == name
    check_shape(body)
    check_sections_add_up(rows_of(body), money_columns(body))
    return body


@pytest.mark.parametrize("name", sorted(REPORTS))
@pytest.mark.parametrize("basis", ["Accrual", "Cash"])
def test_every_report_has_qbo_shape_and_adds_up(api: Api, name: str, basis: str) -> None:
    body = fetch(api, name, accounting_method=basis, report_date="2025-06-30", **YEAR_2024)
    options = {o["Name"]: o["Value"] for o in body["Header"]["Option"]}
    assert options["NoReportData"] == "false"
    for column in body["Columns"]["Column"]:
        assert {m["Name"] for m in column["MetaData"]} >= {"ColKey"}
    if "ReportBasis" in body["Header"]:
        assert body["Header"]["ReportBasis"] == basis


def test_the_company_basis_applies_when_none_is_sent(api: Api) -> None:
    body = fetch(api, "ProfitAndLoss", **YEAR_2024)
    assert body["Header"]["ReportBasis"] in ("Accrual", "Cash")


def test_detail_reports_carry_transaction_and_account_ids(api: Api) -> None:
    body = fetch(api, "GeneralLedger", start_date="2024-06-01", end_date="2024-06-30")
    data = [r for r in walk(rows_of(body)) if r.get("type") == "Data" and len(r["ColData"]) > 2]
    typed = [r for r in data if r["ColData"][0]["value"] != "Beginning Balance"]
    assert typed
    assert all(r["ColData"][1].get("id", "").isdigit() for r in typed)
    accounts = [r["Header"]["ColData"][0] for r in rows_of(body)]
    assert all(a.get("id", "").isdigit() for a in accounts)
    listed = fetch(api, "TransactionList", start_date="2024-06-01", end_date="2024-06-30")
    kinds = {r["ColData"][1]["value"] for r in rows_of(listed)}
    assert "Invoice" in kinds


@pytest.mark.parametrize("basis", ["Accrual", "Cash"])
def test_trial_balance_debits_equal_credits(api: Api, basis: str) -> None:
    for end in ("2024-01-31", "2024-07-15", "2024-12-31", "2025-12-31"):
        body = fetch(api, "TrialBalance", end_date=end, accounting_method=basis)
        total = group(body, "GrandTotal")["Summary"]["ColData"]
        assert total[1]["value"] == total[2]["value"], (basis, end)
        assert amount(total[1]["value"]) > 0


@pytest.mark.parametrize("basis", ["Accrual", "Cash"])
def test_balance_sheet_balances_at_every_month_end(api: Api, basis: str) -> None:
    body = fetch(
        api,
        "BalanceSheet",
        start_date="2024-01-01",
        end_date="2025-12-31",
        summarize_column_by="Month",
        accounting_method=basis,
    )
    assert len(body["Columns"]["Column"]) == 25
    assets = [c["value"] for c in group(body, "TotalAssets")["Summary"]["ColData"][1:]]
    other = [c["value"] for c in group(body, "TotalLiabilitiesAndEquity")["Summary"]["ColData"][1:]]
    assert assets == other
    assert len(set(assets)) > 12  # the books move month to month


@pytest.mark.parametrize("basis", ["Accrual", "Cash"])
def test_a_years_net_income_closes_into_retained_earnings(api: Api, basis: str) -> None:
    pnl = fetch(api, "ProfitAndLoss", accounting_method=basis, **YEAR_2024)
    net_income = summary(group(pnl, "NetIncome"))
    assert net_income != 0
    sheet = fetch(
        api,
        "BalanceSheet",
        start_date="2024-12-31",
        end_date="2025-01-01",
        summarize_column_by="Days",
        accounting_method=basis,
    )
    equity = group(sheet, "Equity")
    shown = {r["ColData"][0]["value"]: r["ColData"] for r in rows_of(equity) if "ColData" in r}
    assert amount(shown["Net Income"][1]["value"]) == net_income  # Dec 31, year to date
    retained = shown.get("Retained Earnings")
    assert retained is not None
    assert amount(retained[2]["value"]) - amount(retained[1]["value"]) == net_income


def test_accrual_and_cash_differ(api: Api) -> None:
    accrual = fetch(api, "ProfitAndLoss", accounting_method="Accrual", **YEAR_2024)
    cash = fetch(api, "ProfitAndLoss", accounting_method="Cash", **YEAR_2024)
    assert summary(group(accrual, "Income")) != summary(group(cash, "Income"))
    sheet = fetch(api, "BalanceSheet", end_date="2024-12-31", accounting_method="Cash")
    with pytest.raises(KeyError):  # no receivables on a cash basis
        labelled(group(sheet, "AR"), "Accounts Receivable (A/R)")


def test_aging_totals_equal_the_open_balances(api: Api) -> None:
    date = "2025-12-31"
    sheet = fetch(api, "BalanceSheet", end_date=date, accounting_method="Accrual")
    receivable = summary(group(sheet, "AR"))
    payable = summary(group(sheet, "AP"))
    aged = fetch(api, "AgedReceivables", report_date=date)
    assert summary(group(aged, "GrandTotal")) == receivable
    balances = fetch(api, "CustomerBalance", end_date=date)
    assert summary(group(balances, "GrandTotal")) == receivable
    assert summary(group(fetch(api, "AgedPayables", report_date=date), "GrandTotal")) == payable
    assert summary(group(fetch(api, "VendorBalance", end_date=date), "GrandTotal")) == payable


def test_aging_today_matches_the_invoices_open_balances(api: Api) -> None:
    aged = fetch(api, "AgedReceivables")
    open_invoices = sum((Decimal(str(r["Balance"])) for r in api.sb.records("Invoice")), Decimal(0))
    total = summary(group(aged, "GrandTotal"))
    credits = total - open_invoices  # unapplied credits and payments, never positive
    assert credits <= 0
    assert open_invoices > 0


def _invoice_in(api: Api, month: str) -> dict[str, Any]:
    for record in api.sb.records("Invoice"):
        if record["TxnDate"].startswith(month) and record["TotalAmt"] > 0:
            return record
    raise AssertionError(f"no invoice in {month}")


def _month_net_income(api: Api, month: str) -> Decimal:
    body = fetch(api, "ProfitAndLoss", accounting_method="Accrual",
                 start_date=f"{month}-01", end_date=f"{month}-28")  # fmt: skip
    return summary(group(body, "NetIncome"))


def _listed(api: Api, month: str, txn_id: str) -> bool:
    body = fetch(api, "TransactionList", start_date=f"{month}-01", end_date=f"{month}-28",
                 accounting_method="Accrual")  # fmt: skip
    return any(r["ColData"][1] == {"value": "Invoice", "id": txn_id} for r in rows_of(body))


def _ledger_ids(api: Api, month: str) -> set[str]:
    """The Ids of the invoices with a line in the month's general ledger."""
    body = fetch(api, "GeneralLedger", start_date=f"{month}-01", end_date=f"{month}-28",
                 accounting_method="Accrual")  # fmt: skip
    return {
        r["ColData"][1]["id"]
        for r in walk(rows_of(body))
        if "ColData" in r and r["ColData"][1].get("value") == "Invoice"
    }


def _still_balanced(api: Api) -> None:
    trial = fetch(api, "TrialBalance", end_date="2025-12-31", accounting_method="Accrual")
    total = group(trial, "GrandTotal")["Summary"]["ColData"]
    assert total[1]["value"] == total[2]["value"]
    sheet = fetch(api, "BalanceSheet", end_date="2025-12-31", accounting_method="Accrual")
    other = summary(group(sheet, "TotalLiabilitiesAndEquity"))
    assert summary(group(sheet, "TotalAssets")) == other


def test_edit_void_and_delete_change_every_report(own_api: Api) -> None:
    api, sb = own_api, own_api.sb
    invoice = _invoice_in(api, "2024-03")
    assert int(invoice["TxnDate"][8:]) <= 28
    march, may = _month_net_income(api, "2024-03"), _month_net_income(api, "2024-05")
    assert _listed(api, "2024-03", invoice["Id"])
    # Edit: move it to May; March loses its income, May gains it.
    sb.update("Invoice", invoice["Id"], {"TxnDate": "2024-05-10"})
    moved = _month_net_income(api, "2024-03")
    gained = _month_net_income(api, "2024-05") - may
    assert march - moved == gained > 0
    assert not _listed(api, "2024-03", invoice["Id"])
    assert _listed(api, "2024-05", invoice["Id"])
    _still_balanced(api)
    # Void: its income leaves May, its open balance leaves the aging, its lines the ledger.
    open_before = summary(group(fetch(api, "AgedReceivables"), "GrandTotal"))
    balance = Decimal(
        str(next(r for r in sb.records("Invoice") if r["Id"] == invoice["Id"])["Balance"])
    )
    assert balance > 0
    assert _ledger_ids(api, "2024-05") >= {invoice["Id"]}
    sb.void("Invoice", invoice["Id"])
    assert _month_net_income(api, "2024-05") == may
    assert summary(group(fetch(api, "AgedReceivables"), "GrandTotal")) == open_before - balance
    assert invoice["Id"] not in _ledger_ids(api, "2024-05")
    _still_balanced(api)
    # Delete another: gone from the list and from the income.
    other = _invoice_in(api, "2024-06")
    june = _month_net_income(api, "2024-06")
    sb.delete("Invoice", other["Id"])
    assert not _listed(api, "2024-06", other["Id"])
    assert _month_net_income(api, "2024-06") < june
    _still_balanced(api)


def test_a_real_report_is_cut_at_a_small_cell_cap(
    make_sandbox: Callable[..., Sandbox], make_api: Callable[..., Api]
) -> None:
    api = make_api(make_sandbox(report_cell_cap=400))
    response = api.get("/reports/GeneralLedger", **YEAR_2024)
    assert response.status_code == 200
    rows = response.json()["Rows"]["Row"]
    assert rows[-1]["ColData"][0]["value"] == TRUNCATION_NOTICE
    width = len(response.json()["Columns"]["Column"])
    lines = sum(1 for r in walk(rows) if "ColData" in r) + sum(
        ("Header" in r) + ("Summary" in r) for r in walk(rows)
    )
    assert lines * width <= 400


def test_a_real_report_too_dense_answers_504(
    make_sandbox: Callable[..., Sandbox], make_api: Callable[..., Api]
) -> None:
    api = make_api(make_sandbox(report_dense_rows=50))
    month = api.get("/reports/ProfitAndLoss", start_date="2024-06-01", end_date="2024-06-30")
    assert month.status_code == 200
    assert count_data_rows(month.json()["Rows"]["Row"]) <= 50
    year = api.get("/reports/GeneralLedger", **YEAR_2024)
    assert year.status_code == 504
    assert year.json()["Fault"]["Error"][0]["code"] == "6002"


def _journal(debit: str, credit: str, amount: float, day: str) -> dict[str, Any]:
    def line(n: int, side: str, account: str) -> dict[str, Any]:
        detail = {"PostingType": side, "AccountRef": {"value": account}}
        return {"Id": str(n), "Amount": amount, "DetailType": "JournalEntryLineDetail",
                "JournalEntryLineDetail": detail}  # fmt: skip

    return {"TxnDate": day, "Line": [line(0, "Debit", debit), line(1, "Credit", credit)]}


def test_a_parent_account_shows_its_own_amount_in_its_section_header(own_api: Api) -> None:
    api, sb = own_api, own_api.sb
    before = fetch(api, "ProfitAndLoss", accounting_method="Accrual", **YEAR_2024)
    parent = labelled(before, "Automobile")
    own = parent["ColData"][1]["value"]  # a plain row while no sub-account has postings
    fuel = next(a for a in sb.records("Account") if a["FullyQualifiedName"] == "Automobile:Fuel")
    checking = next(a for a in sb.records("Account") if a["Name"] == "Checking")
    sb.create("JournalEntry", _journal(fuel["Id"], checking["Id"], 100.0, "2024-06-15"))
    after = fetch(api, "ProfitAndLoss", accounting_method="Accrual", **YEAR_2024)
    section = labelled(after, "Automobile")
    assert section["type"] == "Section"
    assert "group" not in section
    assert section["Header"]["ColData"][1] == {"value": own}
    assert rows_of(section) == [
        {"ColData": [{"value": "Fuel", "id": fuel["Id"]}, {"value": "100.00"}], "type": "Data"}
    ]
    total = section["Summary"]["ColData"]
    assert total[0] == {"value": "Total Automobile"}
    assert amount(total[1]["value"]) == amount(own) + 100
    assert summary(group(after, "NetIncome")) == summary(group(before, "NetIncome")) - 100
    ledger = fetch(api, "GeneralLedger", start_date="2024-06-01", end_date="2024-06-30")
    nested = rows_of(labelled(ledger, "Automobile"))
    assert nested[-1]["Header"]["ColData"][0] == {"value": "Fuel", "id": fuel["Id"]}


def test_date_macro_and_header(api: Api) -> None:
    body = fetch(api, "ProfitAndLoss", date_macro="Last Fiscal Year")
    header = body["Header"]
    today = api.sb.now().date()
    assert header["StartPeriod"] == f"{today.year - 1}-01-01"
    assert header["EndPeriod"] == f"{today.year - 1}-12-31"
    assert header["DateMacro"] == "last fiscal year"
    assert header["Time"][:4].isdigit()
    bad = api.get("/reports/ProfitAndLoss", date_macro="Someday")
    assert bad.status_code == 400
    assert "date_macro" in bad.json()["Fault"]["Error"][0]["Detail"]


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_a_company_without_transactions_answers_every_report_empty(
    name: str, make_sandbox: Callable[..., Sandbox], make_api: Callable[..., Api]
) -> None:
    api = make_api(make_sandbox(invoices=0, other_records=0, customers=0, items=0))
    body = fetch(api, name, **YEAR_2024)
    assert {"Name": "NoReportData", "Value": "true"} in body["Header"]["Option"]


def test_purchases_and_bill_payments_are_labelled_by_how_they_were_paid(api: Api) -> None:
    wanted = {
        ("Purchase", "CreditCard"): "Credit Card Expense",
        ("Purchase", "Cash"): "Expense",
        ("Purchase", "Check"): "Expense",
        ("BillPayment", "CreditCard"): "Bill Payment (Credit Card)",
        ("BillPayment", "Check"): "Bill Payment (Check)",
    }
    expected: dict[tuple[str, str], str] = {}
    for entity, field in (("Purchase", "PaymentType"), ("BillPayment", "PayType")):
        for record in api.sb.records(entity):
            label = wanted.get((entity, record.get(field, "")))
            if label and not record.get("Credit") and record["TxnDate"] < "2026":
                expected[(label, record["Id"])] = record["TxnDate"]
    labels = {label for label, _ in expected}
    assert labels >= {"Credit Card Expense", "Bill Payment (Credit Card)", "Expense"}
    body = fetch(api, "TransactionList", start_date="2024-01-01", end_date="2025-12-31",
                 accounting_method="Accrual")  # fmt: skip
    shown = {(r["ColData"][1]["value"], r["ColData"][1]["id"]) for r in rows_of(body)}
    assert set(expected) <= shown
