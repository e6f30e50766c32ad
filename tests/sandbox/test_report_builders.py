"""The report builders over a small hand-written `Books` (pure units): shapes, sums,
parent accounts, bases, parameters."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from tests.sandbox.fake_books import FakeBooks, _entry
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

from qbo_backfill.sandbox.reports.detail_columns import txn_label
from qbo_backfill.sandbox.reports.params import ReportError, column_periods, parse_period
from qbo_backfill.sandbox.reports.registry import REPORTS

TODAY = date(2025, 6, 15)
D = Decimal


def build(name: str, **params: str) -> dict[str, Any]:
    body = REPORTS[name](FakeBooks(), params, TODAY)
    check_shape(body)
    check_sections_add_up(rows_of(body), money_columns(body))
    return body


def test_profit_and_loss_parent_account_header_and_computed_lines() -> None:
    body = build("ProfitAndLoss", start_date="2024-01-01", end_date="2024-12-31")
    header = body["Header"]
    assert (header["ReportBasis"], header["StartPeriod"], header["EndPeriod"]) == (
        "Accrual",
        "2024-01-01",
        "2024-12-31",
    )
    services = labelled(body, "Services")
    assert services["Header"]["ColData"] == [{"value": "Services", "id": "40"}, {"value": "500.00"}]
    assert [r["ColData"][0]["value"] for r in rows_of(services)] == ["Design", "Lawn"]
    assert services["Summary"]["ColData"][-1]["value"] == "1500.00"
    assert "group" not in services
    assert summary(group(body, "Income")) == D(1500)
    assert summary(group(body, "COGS")) == D(300)
    assert summary(group(body, "GrossProfit")) == D(1200)
    assert summary(group(body, "NetIncome")) == D(200)  # 1500 - 300 - 1000 rent
    assert set(group(body, "NetIncome")) == {"Summary", "type", "group"}
    assert [r["group"] for r in rows_of(body)] == [
        "Income", "COGS", "GrossProfit", "Expenses", "NetOperatingIncome", "NetIncome",
    ]  # fmt: skip


def test_profit_and_loss_by_month_columns_and_other_income() -> None:
    body = build(
        "ProfitAndLoss", start_date="2025-01-15", end_date="2025-03-31", summarize_column_by="Month"
    )
    columns = body["Columns"]["Column"]
    assert [c["ColTitle"] for c in columns] == ["", "Jan 2025", "Feb 2025", "Mar 2025", "Total"]
    assert columns[1]["MetaData"][:2] == [
        {"Name": "StartDate", "Value": "2025-01-15"},
        {"Name": "EndDate", "Value": "2025-01-31"},
    ]
    net = [c["value"] for c in group(body, "NetIncome")["Summary"]["ColData"][1:]]
    assert net == ["0.00", "12.50", "800.00", "812.50"]
    assert summary(group(body, "NetOtherIncome")) == D("12.5")


def test_cash_basis_differs_from_accrual() -> None:
    accrual = build("ProfitAndLoss", start_date="2025-01-01", end_date="2025-12-31")
    cash = build(
        "ProfitAndLoss", start_date="2025-01-01", end_date="2025-12-31", accounting_method="Cash"
    )
    assert summary(group(accrual, "Income")) == D(800)
    assert cash["Header"]["ReportBasis"] == "Cash"
    assert "Rows" not in group(cash, "Income")
    assert group(cash, "Income")["Summary"]["ColData"][1]["value"] == ""


def test_empty_report_keeps_its_skeleton() -> None:
    body = build("ProfitAndLoss", start_date="2010-01-01", end_date="2010-01-31")
    assert {"Name": "NoReportData", "Value": "true"} in body["Header"]["Option"]
    assert [r["group"] for r in rows_of(body)] == [
        "Income", "GrossProfit", "Expenses", "NetOperatingIncome", "NetIncome",
    ]  # fmt: skip
    assert "Rows" not in group(body, "Expenses")
    assert group(body, "Expenses")["Summary"]["ColData"][1] == {"value": ""}


@pytest.mark.parametrize("basis", ["Accrual", "Cash"])
def test_balance_sheet_balances_every_month_and_closes_the_year(basis: str) -> None:
    body = build(
        "BalanceSheet",
        start_date="2024-01-01",
        end_date="2025-12-31",
        summarize_column_by="Month",
        accounting_method=basis,
    )
    assert len(body["Columns"]["Column"]) == 1 + 24  # no Total column
    assets = group(body, "TotalAssets")["Summary"]["ColData"][1:]
    other = group(body, "TotalLiabilitiesAndEquity")["Summary"]["ColData"][1:]
    assert [c["value"] for c in assets] == [c["value"] for c in other]
    retained = labelled(body, "Retained Earnings")["ColData"]
    net_income = labelled(body, "Net Income")["ColData"]
    pnl = build("ProfitAndLoss", start_date="2024-01-01", end_date="2024-12-31",
                accounting_method=basis)  # fmt: skip
    year_2024 = summary(group(pnl, "NetIncome"))
    assert amount(net_income[12]["value"]) == year_2024  # Dec 2024
    assert amount(retained[13]["value"]) - amount(retained[12]["value"]) == year_2024


def test_trial_balance_debits_equal_credits() -> None:
    for end in ("2024-03-31", "2024-12-31", "2025-06-30"):
        body = build("TrialBalance", end_date=end)
        total = group(body, "GrandTotal")["Summary"]["ColData"]
        assert total[1]["value"] == total[2]["value"], end
        debits = sum(
            amount(r["ColData"][1]["value"]) for r in walk(rows_of(body)) if "ColData" in r
        )
        assert debits == amount(total[1]["value"])


def test_cash_flow_ends_at_the_bank_balance() -> None:
    flow = build("CashFlow", start_date="2024-01-01", end_date="2025-06-30")
    sheet = build("BalanceSheet", start_date="2024-01-01", end_date="2025-06-30")
    assert summary(group(flow, "EndingCash")) == summary(group(sheet, "BankAccounts"))
    assert summary(group(flow, "BeginningCash")) == 0
    net_income = rows_of(group(flow, "OperatingActivities"))[0]
    assert (net_income["group"], net_income["type"]) == ("NetIncome", "Data")
    assert group(flow, "EndingCash")["Summary"]["ColData"][0] == {"value": "Cash at end of period"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d-0[78]:00", flow["Header"]["Time"])


def test_general_ledger_lines_balances_and_ids() -> None:
    body = build("GeneralLedger", start_date="2024-07-01", end_date="2024-07-31")
    checking = labelled(body, "Checking")
    lines = rows_of(checking)
    assert lines[0]["ColData"][0]["value"] == "Beginning Balance"
    assert lines[0]["ColData"][-1]["value"] == "10000.00"
    payment = lines[1]["ColData"]
    assert payment[1] == {"value": "Payment", "id": "12"}
    assert payment[5] == {"value": "Accounts Receivable (A/R)", "id": "2"}
    assert payment[-2:] == [{"value": "1500.00"}, {"value": "11500.00"}]
    columns = [c["MetaData"][0]["Value"] for c in body["Columns"]["Column"]]
    assert columns[0] == "tx_date"
    assert checking["Summary"]["ColData"][-2]["value"] == "1500.00"


def test_detail_columns_and_sort() -> None:
    body = build(
        "TransactionList",
        start_date="2024-01-01",
        end_date="2024-12-31",
        columns="txn_type,doc_num,debt_amt,credit_amt",
        sort_by="doc_num",
        sort_order="descend",
    )
    docs = [r["ColData"][1]["value"] for r in rows_of(body)]
    assert docs == sorted(docs, reverse=True)
    assert [c["ColTitle"] for c in body["Columns"]["Column"]] == [
        "Transaction Type", "Num", "Debit", "Credit",
    ]  # fmt: skip
    with pytest.raises(ReportError, match="unknown ColKey"):
        REPORTS["GeneralLedger"](FakeBooks(), {"columns": "tx_date,nope"}, TODAY)


def test_profit_and_loss_detail_sections() -> None:
    body = build("ProfitAndLossDetail", start_date="2024-01-01", end_date="2024-12-31")
    ordinary, net = rows_of(body)
    assert ordinary["Header"]["ColData"][0] == {"value": "Ordinary Income/Expenses"}
    assert [r["group"] for r in rows_of(ordinary)] == ["Income", "COGS", "GrossProfit", "Expenses"]
    assert ordinary["Summary"]["ColData"][0] == {"value": "Net Operating Income"}
    assert group(body, "Income")["Summary"]["ColData"][0] == {"value": "Total for Income"}
    assert net["group"] == "NetIncome"
    other = build("ProfitAndLossDetail", start_date="2025-01-01", end_date="2025-12-31")
    assert [r["Header"]["ColData"][0]["value"] for r in rows_of(other)[:2]] == [
        "Ordinary Income/Expenses",
        "Other Income/Expenses",
    ]
    assert summary(group(other, "NetIncome"), 6) == D("812.5")
    services = labelled(body, "Services")
    assert services["Header"]["ColData"][0] == {"value": "Services", "id": "40"}
    inside = rows_of(services)
    assert inside[0]["ColData"][1] == {"value": "Invoice", "id": "10"}  # its own posting
    assert [r["Header"]["ColData"][0] for r in inside[1:]] == [
        {"value": "Design", "id": "41"},
        {"value": "Lawn", "id": "42"},
    ]
    assert services["Summary"]["ColData"][0]["value"] == "Total for Services"
    assert services["Summary"]["ColData"][6]["value"] == "1500.00"
    assert group(body, "NetIncome")["Summary"]["ColData"][6]["value"] == "200.00"


def test_aging_and_balances() -> None:
    aged = build("AgedReceivables", report_date="2025-06-15")
    row = labelled(aged, "Bolt Co")["ColData"]
    assert row[0] == {"value": "Bolt Co", "id": "2"}
    assert [c["value"] for c in row[1:]] == ["", "", "", "800.00", "", "800.00"]  # 68 days
    current = build("AgedReceivables", report_date="2025-03-31")
    assert labelled(current, "Bolt Co")["ColData"][1]["value"] == "800.00"
    payables = build("AgedPayables", report_date="2025-01-01")
    assert summary(group(payables, "GrandTotal")) == D(300)
    assert summary(group(build("CustomerBalance", end_date="2025-06-01"), "GrandTotal")) == 800
    assert summary(group(build("VendorBalance"), "GrandTotal")) == 300
    none = build("AgedReceivables", report_date="2024-01-01")
    assert {"Name": "NoReportData", "Value": "true"} in none["Header"]["Option"]


def test_a_change_moves_the_cached_sums() -> None:
    books = FakeBooks()
    before = REPORTS["ProfitAndLoss"](
        books, {"end_date": "2024-12-31", "start_date": "2024-01-01"}, TODAY
    )
    books.change(_entry("Purchase", 99, date(2024, 8, 1), None, (60, "100"), (1, "-100")))
    after = REPORTS["ProfitAndLoss"](
        books, {"end_date": "2024-12-31", "start_date": "2024-01-01"}, TODAY
    )
    assert summary(group(after, "NetIncome")) == summary(group(before, "NetIncome")) - 100


@pytest.mark.parametrize(
    ("macro", "start", "end"),
    [
        ("This Month", "2025-06-01", "2025-06-30"),
        ("Last Month", "2025-05-01", "2025-05-31"),
        ("This Fiscal Year", "2025-01-01", "2025-12-31"),
        ("Last Fiscal Year", "2024-01-01", "2024-12-31"),
        ("This Fiscal Year-to-date", "2025-01-01", "2025-06-15"),
        ("Last Fiscal Year-to-date", "2024-01-01", "2024-06-15"),
        ("This Year", "2025-01-01", "2025-12-31"),
        ("last year", "2024-01-01", "2024-12-31"),
        ("This Quarter", "2025-04-01", "2025-06-30"),
        ("Today", "2025-06-15", "2025-06-15"),
    ],
)
def test_date_macros(macro: str, start: str, end: str) -> None:
    assert parse_period({"date_macro": macro}, TODAY)[:2] == (
        date.fromisoformat(start),
        date.fromisoformat(end),
    )


@pytest.mark.parametrize(
    "params",
    [
        {"date_macro": "Someday"},
        {"start_date": "2025-02-30"},
        {"start_date": "2025-03-01", "end_date": "2025-02-01"},
        {"accounting_method": "Modified"},
        {"summarize_column_by": "Fortnight"},
        {"sort_by": "nope"},
        {"aging_method": "Due_Date"},
    ],
)
def test_bad_parameters(params: dict[str, str]) -> None:
    name = "AgedReceivables" if "aging_method" in params else "TransactionList"
    if "summarize_column_by" in params or "accounting_method" in params:
        name = "ProfitAndLoss"
    with pytest.raises(ReportError):
        REPORTS[name](FakeBooks(), params, TODAY)


def test_quarter_and_year_columns() -> None:
    quarters = column_periods("Quarter", date(2024, 2, 1), date(2024, 12, 31))
    assert [(p.start.isoformat(), p.end.isoformat()) for p in quarters] == [
        ("2024-02-01", "2024-03-31"),
        ("2024-04-01", "2024-06-30"),
        ("2024-07-01", "2024-09-30"),
        ("2024-10-01", "2024-12-31"),
    ]
    assert [p.title for p in column_periods("Year", date(2023, 5, 1), date(2024, 1, 1))] == [
        "2023",
        "2024",
    ]


class CountingBooks(FakeBooks):
    """FakeBooks that counts the entries it hands out."""

    def __init__(self) -> None:
        super().__init__()
        self.read = 0
        self.whole_reads = 0

    def entries(self, basis: Any, start: date | None, end: date | None) -> Any:
        chosen = list(super().entries(basis, start, end))
        self.read += len(chosen)
        self.whole_reads += start is None and end is None
        return iter(chosen)


def test_a_report_reads_only_its_range_once_the_sums_are_cached() -> None:
    books = CountingBooks()
    year = {"start_date": "2024-01-01", "end_date": "2025-12-31", "summarize_column_by": "Month"}
    REPORTS["ProfitAndLoss"](books, year, TODAY)
    assert books.whole_reads == 1  # the monthly sums, built once
    books.read = 0
    REPORTS["ProfitAndLoss"](books, year, TODAY)
    REPORTS["BalanceSheet"](books, year, TODAY)
    assert books.whole_reads == 1
    assert books.read == 0  # whole months only: nothing read again
    july = {"start_date": "2024-07-01", "end_date": "2024-07-31"}
    REPORTS["GeneralLedger"](books, july, TODAY)
    assert books.read == 1  # the July payment, nothing else
    books.read = 0
    REPORTS["ProfitAndLoss"](books, {"start_date": "2024-05-03", "end_date": "2024-05-31"}, TODAY)
    assert books.read == 1  # the partial month's invoice
    books.change(_entry("Purchase", 99, date(2024, 8, 1), None, (60, "100"), (1, "-100")))
    REPORTS["ProfitAndLoss"](books, year, TODAY)
    assert books.whole_reads == 2  # rebuilt after the change


def test_balance_sheet_lists_zero_balances_and_leaves_out_empty_groups() -> None:
    body = build("BalanceSheet", end_date="2024-07-31")
    receivable = labelled(body, "Accounts Receivable (A/R)")["ColData"]
    assert receivable == [{"value": "Accounts Receivable (A/R)", "id": "2"}, {"value": "0.00"}]
    with pytest.raises(KeyError):
        group(body, "OtherAssets")
    with pytest.raises(KeyError):
        group(body, "CreditCards")
    assert group(body, "FixedAssets")["Summary"]["ColData"][1]["value"] == "4000.00"
    net_income = labelled(body, "Net Income")
    assert (net_income["type"], net_income["group"]) == ("Data", "NetIncome")  # Intuit's sample
    early = build("BalanceSheet", end_date="2024-01-31")
    with pytest.raises(KeyError):
        labelled(early, "Retained Earnings")


def test_aging_method_current_ages_at_today() -> None:
    by_report_date = build("AgedReceivables", report_date="2025-03-31")
    by_today = build("AgedReceivables", report_date="2025-03-31", aging_method="Current")
    assert labelled(by_report_date, "Bolt Co")["ColData"][1]["value"] == "800.00"  # not due
    assert labelled(by_today, "Bolt Co")["ColData"][4]["value"] == "800.00"  # 68 days on
    options = {o["Name"]: o["Value"] for o in by_today["Header"]["Option"]}
    assert options == {"report_date": "2025-03-31", "NoReportData": "false"}
    assert "type" not in labelled(by_today, "Bolt Co")  # as in Intuit's sample
    wide = build("AgedReceivables", aging_period="60", num_periods="2")
    titles = [c["ColTitle"] for c in wide["Columns"]["Column"]]
    assert titles == ["", "Current", "1 - 60", "61 and over", "Total"]
    assert labelled(wide, "Bolt Co")["ColData"][3]["value"] == "800.00"


def test_transaction_type_labels() -> None:
    assert txn_label("JournalEntry") == "Journal Entry"
    assert txn_label("Purchase") == "Expense"
    assert txn_label("Item") == "Inventory Starting Value"
    assert txn_label("CreditCardPayment") == "Credit Card Payment"
    assert txn_label("Purchase", paid_by_card=True) == "Credit Card Expense"
    assert txn_label("BillPayment", paid_by_card=True) == "Bill Payment (Credit Card)"
    assert txn_label("Invoice", paid_by_card=True) == "Invoice"


def test_transaction_list_rows_as_intuits_sample() -> None:
    body = build("TransactionList", start_date="2024-05-01", end_date="2024-05-31")
    (invoice,) = rows_of(body)
    cells = invoice["ColData"]
    assert cells[1] == {"value": "Invoice", "id": "10"}
    assert cells[3] == {"value": "Yes"}
    assert cells[4] == {"value": "Acme", "id": "1"}
    assert cells[6] == {"value": "Accounts Receivable (A/R)", "id": "2"}
    assert cells[7] == {"id": "", "value": "-Split-"}
    assert cells[8] == {"value": "1500.00"}
    home = build("TransactionList", start_date="2024-05-01", end_date="2024-05-31",
                 columns="tx_date,subt_nat_home_amount")  # fmt: skip
    assert rows_of(home)[0]["ColData"] == [{"value": "2024-05-05"}, {"value": "1500.00"}]
