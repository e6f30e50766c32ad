"""Report payloads in the shapes Intuit documents (QBO_API.md, "Reports"): a P&L whose parent
account carries its own amount in its section header, a general ledger (detail: the
transaction's Id on its type cell, a running balance), an aging report, an empty report,
and a ledger cut short. Written for these tests; figures invented, shapes as served."""

from __future__ import annotations

from typing import Any


def _col(
    title: str, kind: str, key: str, start: str | None = None, end: str | None = None
) -> dict[str, Any]:
    meta = [{"Name": "ColKey", "Value": key}]
    if start and end:
        meta = [{"Name": "StartDate", "Value": start}, {"Name": "EndDate", "Value": end}, *meta]
    return {"ColTitle": title, "ColType": kind, "MetaData": meta}


def _header(name: str, basis: str, start: str, end: str, *, empty: bool = False) -> dict[str, Any]:
    return {
        "Time": "2026-11-02T09:14:07-08:00",
        "ReportName": name,
        "ReportBasis": basis,
        "StartPeriod": start,
        "EndPeriod": end,
        "SummarizeColumnsBy": "Total",
        "Currency": "USD",
        "Option": [
            {"Name": "AccountingStandard", "Value": "GAAP"},
            {"Name": "NoReportData", "Value": "true" if empty else "false"},
        ],
    }


def _data(label: str, amount: str, account_id: str | None = None) -> dict[str, Any]:
    first = {"value": label, "id": account_id} if account_id else {"value": label}
    return {"ColData": [first, {"value": amount}], "type": "Data"}


def profit_and_loss() -> dict[str, Any]:
    """Income with a parent account (Landscaping Services, 150.00 of its own) holding a
    sub-section (Job Materials) and a plain child; computed lines as summary-only sections."""
    job_materials = {
        "Header": {"ColData": [{"value": "Job Materials", "id": "46"}, {"value": ""}]},
        "Rows": {
            "Row": [
                _data("Fountains and Garden Lighting", "1200.5", "48"),
                _data("Plants and Soil", "337.5", "49"),
                _data("Sprinklers and Drip Systems", "30.00", "50"),
            ]
        },
        "Summary": {"ColData": [{"value": "Total Job Materials"}, {"value": "1568.00"}]},
        "type": "Section",
    }
    landscaping = {
        "Header": {"ColData": [{"value": "Landscaping Services", "id": "45"}, {"value": "150.00"}]},
        "Rows": {"Row": [job_materials, _data("Labor", "250.00", "51")]},
        "Summary": {"ColData": [{"value": "Total Landscaping Services"}, {"value": "1968.00"}]},
        "type": "Section",
    }
    income = {
        "Header": {"ColData": [{"value": "Income"}, {"value": ""}]},
        "Rows": {
            "Row": [
                _data("Design income", "2250.00", "82"),
                landscaping,
                _data("Pest Control Services", "-40.00", "54"),
            ]
        },
        "Summary": {"ColData": [{"value": "Total Income"}, {"value": "4178.00"}]},
        "type": "Section",
        "group": "Income",
    }
    expenses = {
        "Header": {"ColData": [{"value": "Expenses"}, {"value": ""}]},
        "Rows": {
            "Row": [_data("Advertising", "74.86", "7"), _data("Rent or Lease", "900.00", "17")]
        },
        "Summary": {"ColData": [{"value": "Total Expenses"}, {"value": "974.86"}]},
        "type": "Section",
        "group": "Expenses",
    }
    gross = {
        "Summary": {"ColData": [{"value": "Gross Profit"}, {"value": "4178.00"}]},
        "type": "Section",
        "group": "GrossProfit",
    }
    net = {
        "Summary": {"ColData": [{"value": "Net Income"}, {"value": "3203.14"}]},
        "type": "Section",
        "group": "NetIncome",
    }
    return {
        "Header": _header("ProfitAndLoss", "Accrual", "2025-03-01", "2025-03-31"),
        "Columns": {"Column": [_col("", "Account", "account"), _col("Total", "Money", "total")]},
        "Rows": {"Row": [income, gross, expenses, net]},
    }


_GL_COLUMNS = [
    _col("Date", "Date", "tx_date"),
    _col("Transaction Type", "String", "txn_type"),
    _col("No.", "String", "doc_num"),
    _col("Name", "String", "name"),
    _col("Split", "String", "split_acc"),
    _col("Amount", "Money", "subt_nat_amount"),
    _col("Balance", "Money", "rbal_nat_amount"),
]


def _gl_row(
    day: str, kind: str, txn_id: str, number: str, name: str, split: str, amount: str, balance: str
) -> dict[str, Any]:
    cells = [
        {"value": day},
        {"value": kind, "id": txn_id},
        {"value": number},
        {"value": name},
        {"value": split},
        {"value": amount},
        {"value": balance},
    ]
    return {"ColData": cells, "type": "Data"}


def general_ledger(*, cut: bool = False) -> dict[str, Any]:
    """Two account sections of postings (a running balance beside each amount); `cut`:
    Intuit's notice row ends the answer, inside the last section as the cap fell there."""
    checking_rows = [
        {
            "ColData": [
                {"value": "Beginning Balance"},
                *({"value": ""} for _ in range(5)),
                {"value": "1201.00"},
            ],
            "type": "Data",
        },
        _gl_row(
            "2025-03-03",
            "Payment",
            "130",
            "",
            "Amy's Bird Sanctuary",
            "Undeposited Funds",
            "105.00",
            "1306.00",
        ),
        _gl_row(
            "2025-03-09",
            "Expense",
            "131",
            "76",
            "Hicks Hardware",
            "Job Materials",
            "-228.75",
            "1077.25",
        ),
    ]
    checking = {
        "Header": {
            "ColData": [{"value": "Checking", "id": "35"}, *({"value": ""} for _ in range(6))]
        },
        "Rows": {"Row": checking_rows},
        "Summary": {
            "ColData": [
                {"value": "Total for Checking"},
                *({"value": ""} for _ in range(4)),
                {"value": "-123.75"},
                {"value": ""},
            ]
        },
        "type": "Section",
    }
    receivable_rows = [
        _gl_row(
            "2025-03-02",
            "Invoice",
            "1037",
            "1037",
            "Sonnenschein Family Store",
            "-Split-",
            "362.07",
            "362.07",
        ),
        _gl_row(
            "2025-03-03",
            "Payment",
            "130",
            "",
            "Amy's Bird Sanctuary",
            "Checking",
            "-105.00",
            "257.07",
        ),
    ]
    if cut:
        notice = "Unable to display more data. Please reduce the date range."
        receivable_rows.append(
            {"ColData": [{"value": notice}, *({"value": ""} for _ in range(6))], "type": "Data"}
        )
    receivable = {
        "Header": {
            "ColData": [
                {"value": "Accounts Receivable (A/R)", "id": "84"},
                *({"value": ""} for _ in range(6)),
            ]
        },
        "Rows": {"Row": receivable_rows},
        "type": "Section",
    }
    if not cut:
        receivable["Summary"] = {
            "ColData": [
                {"value": "Total for Accounts Receivable (A/R)"},
                *({"value": ""} for _ in range(4)),
                {"value": "257.07"},
                {"value": ""},
            ]
        }
    return {
        "Header": _header("GeneralLedger", "Cash", "2025-03-01", "2025-03-31"),
        "Columns": {"Column": _GL_COLUMNS},
        "Rows": {"Row": [checking, receivable]},
    }


def aged_receivables() -> dict[str, Any]:
    """Customers as top-level data rows and a grand total line."""
    buckets = ["Current", "1 - 30", "31 - 60", "61 - 90", "91 and over", "Total"]
    keys = ["current", "0", "1", "2", "3", "total"]
    columns = [_col("", "Customer", "customer")] + [
        _col(t, "Money", k) for t, k in zip(buckets, keys, strict=True)
    ]

    def line(name: str, cid: str | None, values: list[str]) -> list[dict[str, str]]:
        first = {"value": name, "id": cid} if cid else {"value": name}
        return [first, *({"value": v} for v in values)]

    rows = [
        {
            "ColData": line("Amy's Bird Sanctuary", "1", ["239.00", "", "", "", "", "239.00"]),
            "type": "Data",
        },
        {
            "ColData": line("Freeman Sporting Goods", "8", ["", "81.00", "", "", "4.5", "85.50"]),
            "type": "Data",
        },
        {
            "Summary": {
                "ColData": line(
                    "TOTAL", None, ["239.00", "81.00", "0.00", "0.00", "4.50", "324.50"]
                )
            },
            "type": "Section",
            "group": "GrandTotal",
        },
    ]
    header = _header("AgedReceivables", "Accrual", "2025-03-31", "2025-03-31")
    header["ReportDate"] = "2025-03-31"
    return {"Header": header, "Columns": {"Column": columns}, "Rows": {"Row": rows}}


def empty_profit_and_loss() -> dict[str, Any]:
    """An empty period: the skeleton kept, `NoReportData: true`."""
    payload = profit_and_loss()
    payload["Header"] = _header("ProfitAndLoss", "Accrual", "2014-01-01", "2014-01-31", empty=True)
    payload["Rows"] = {
        "Row": [
            {
                "Summary": {"ColData": [{"value": "Gross Profit"}, {"value": ""}]},
                "type": "Section",
                "group": "GrossProfit",
            },
            {
                "Summary": {"ColData": [{"value": "Net Income"}, {"value": ""}]},
                "type": "Section",
                "group": "NetIncome",
            },
        ]
    }
    return payload


def monthly_profit_and_loss() -> dict[str, Any]:
    """Three month columns and a total: only February shows an amount."""
    months = [
        ("Jan 2025", "2025-01-01", "2025-01-31"),
        ("Feb 2025", "2025-02-01", "2025-02-28"),
        ("Mar 2025", "2025-03-01", "2025-03-31"),
    ]
    columns = (
        [_col("", "Account", "account")]
        + [_col(t, "Money", t, s, e) for t, s, e in months]
        + [_col("Total", "Money", "total")]
    )

    def cells(label: str, feb: str, aid: str | None = None) -> list[dict[str, str]]:
        first = {"value": label, "id": aid} if aid else {"value": label}
        return [first, {"value": ""}, {"value": feb}, {"value": ""}, {"value": feb}]

    income = {
        "Header": {"ColData": cells("Income", "")},
        "Rows": {"Row": [{"ColData": cells("Services", "120.00", "1"), "type": "Data"}]},
        "Summary": {"ColData": cells("Total Income", "120.00")},
        "type": "Section",
        "group": "Income",
    }
    net = {
        "Summary": {"ColData": cells("Net Income", "120.00")},
        "type": "Section",
        "group": "NetIncome",
    }
    header = _header("ProfitAndLoss", "Accrual", "2025-01-01", "2025-03-31")
    header["SummarizeColumnsBy"] = "Month"
    return {"Header": header, "Columns": {"Column": columns}, "Rows": {"Row": [income, net]}}


def _section(
    title: str, group: str | None, rows: list[dict[str, Any]], total: str
) -> dict[str, Any]:
    section: dict[str, Any] = {
        "Header": {"ColData": [{"value": title}, {"value": ""}]},
        "Rows": {"Row": rows},
        "Summary": {"ColData": [{"value": f"Total {title}"}, {"value": total}]},
        "type": "Section",
    }
    if group:
        section["group"] = group
    return section


def balance_sheet() -> dict[str, Any]:
    """Assets and liabilities plus equity, three levels deep, as of a month's end."""
    bank = _section(
        "Bank Accounts",
        "BankAccounts",
        [_data("Checking", "1201.00", "35"), _data("Savings", "800.00", "36")],
        "2001.00",
    )
    receivable = _section(
        "Accounts Receivable",
        "AR",
        [_data("Accounts Receivable (A/R)", "5281.52", "84")],
        "5281.52",
    )
    current = _section("Current Assets", "CurrentAssets", [bank, receivable], "7282.52")
    assets = _section("ASSETS", "TotalAssets", [current], "7282.52")
    payable = _section(
        "Accounts Payable", "AP", [_data("Accounts Payable (A/P)", "1602.67", "33")], "1602.67"
    )
    liabilities = _section("Liabilities", "Liabilities", [payable], "1602.67")
    equity = _section(
        "Equity",
        "Equity",
        [
            _data("Opening Balance Equity", "-9337.50", "34"),
            _data("Retained Earnings", "", "2"),
            _data("Net Income", "15017.35"),
        ],
        "5679.85",
    )
    both = _section(
        "LIABILITIES AND EQUITY", "TotalLiabilitiesAndEquity", [liabilities, equity], "7282.52"
    )
    header = _header("BalanceSheet", "Accrual", "2025-03-01", "2025-03-31")
    return {
        "Header": header,
        "Columns": {"Column": [_col("", "Account", "account"), _col("Total", "Money", "total")]},
        "Rows": {"Row": [assets, both]},
    }
