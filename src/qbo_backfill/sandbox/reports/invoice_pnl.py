"""`reports/ProfitAndLoss`: income from the realm's invoices, optionally one column per day."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from qbo_backfill.sandbox.company import Company
from qbo_backfill.sandbox.responses import now_stamp

__all__ = ["MAX_DAY_COLUMNS", "ReportError", "profit_and_loss"]

MAX_DAY_COLUMNS = 1000


class ReportError(ValueError):
    """Bad report parameters (HTTP 400)."""


def _money(cents: int) -> str:
    return f"{cents / 100:.2f}"


def _columns(days: list[date] | None) -> list[dict[str, Any]]:
    columns: list[dict[str, Any]] = [
        {"ColTitle": "", "ColType": "Account", "MetaData": [{"Name": "ColKey", "Value": "account"}]}
    ]
    for n, day in enumerate(days or []):
        columns.append(
            {
                "ColTitle": f"{day:%b} {day.day}, {day.year}",
                "ColType": "Money",
                "MetaData": [
                    {"Name": "StartDate", "Value": day.isoformat()},
                    {"Name": "EndDate", "Value": day.isoformat()},
                    {"Name": "ColKey", "Value": str(n)},
                ],
            }
        )
    columns.append(
        {
            "ColTitle": "Total",
            "ColType": "Money",
            "MetaData": [{"Name": "ColKey", "Value": "total"}],
        }
    )
    return columns


def _cells(label: str, cols: list[int], total: int, ref: str | None = None) -> list[dict[str, str]]:
    first = {"value": label} if ref is None else {"value": label, "id": ref}
    return [first, *({"value": _money(v)} for v in cols), {"value": _money(total)}]


def _section(
    group: str, title: str, account: tuple[str, str] | None, cols: list[int], total: int
) -> dict[str, Any]:
    """A section with a header, one account row (or none) and its total."""
    rows: list[dict[str, Any]] = []
    if account is not None:
        rows.append({"ColData": _cells(account[1], cols, total, account[0]), "type": "Data"})
    return {
        "Header": {"ColData": [{"value": title}, *({"value": ""} for _ in range(len(cols) + 1))]},
        "Rows": {"Row": rows},
        "Summary": {"ColData": _cells(f"Total {title}", cols, total)},
        "type": "Section",
        "group": group,
    }


def _summary(group: str, title: str, cols: list[int], total: int) -> dict[str, Any]:
    return {"Summary": {"ColData": _cells(title, cols, total)}, "type": "Section", "group": group}


def _parse_day(value: str | None, default: date, name: str) -> date:
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ReportError(f"{name} must be YYYY-MM-DD, got {value!r}") from None


def profit_and_loss(company: Company, params: dict[str, str], today: date) -> dict[str, Any]:
    """The report JSON. `summarize_column_by=Days` gives one Money column per day."""
    start = _parse_day(params.get("start_date"), date(today.year, 1, 1), "start_date")
    end = _parse_day(params.get("end_date"), today, "end_date")
    if end < start:
        raise ReportError(f"end_date {end} is before start_date {start}")
    by = params.get("summarize_column_by", "Total")
    if by not in ("Total", "Days"):
        raise ReportError(f"summarize_column_by supports Total and Days, got {by!r}")
    income = company.income_by_day(start, end)
    days: list[date] | None = None
    cols: list[int] = []  # one value per day column; none when summarised as Total
    if by == "Days":
        count = (end - start).days + 1
        if count > MAX_DAY_COLUMNS:
            raise ReportError(f"at most {MAX_DAY_COLUMNS} day columns, asked for {count}")
        days = [start + timedelta(days=n) for n in range(count)]
        cols = [income.get(day.toordinal(), 0) for day in days]
    total = sum(income.values())
    zero = [0] * len(cols)
    report_rows = [
        _section("Income", "Income", ("79", "Sales of Product Income"), cols, total),
        _section("COGS", "Cost of Goods Sold", None, zero, 0),
        _summary("GrossProfit", "Gross Profit", cols, total),
        _section("Expenses", "Expenses", None, zero, 0),
        _summary("NetOperatingIncome", "Net Operating Income", cols, total),
        _summary("NetIncome", "Net Income", cols, total),
    ]
    return {
        "Header": {
            "Time": now_stamp(),
            "ReportName": "ProfitAndLoss",
            "ReportBasis": params.get("accounting_method", "Accrual"),
            "StartPeriod": start.isoformat(),
            "EndPeriod": end.isoformat(),
            "SummarizeColumnsBy": by,
            "Currency": "USD",
            "Option": [
                {"Name": "AccountingStandard", "Value": "GAAP"},
                {"Name": "NoReportData", "Value": str(not income).lower()},
            ],
        },
        "Columns": {"Column": _columns(days)},
        "Rows": {"Row": report_rows},
    }
