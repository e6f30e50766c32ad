"""AgedReceivables, AgedPayables, CustomerBalance and VendorBalance: the books' open items
at a date, per customer or vendor.

Aging buckets by days past due (the due date, or the transaction date when there is
none): Current (not yet due), 1 - 30, 31 - 60, 61 - 90, 91 and over (`aging_period` and
`num_periods`, the last one included, change them). `aging_method=Report_Date` (the default) ages at
`report_date`; `Current` ages at today's date, the items still being those open at
`report_date`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from qbo_backfill.sandbox.books.model import Books, NameRef, OpenItem
from qbo_backfill.sandbox.reports.params import ReportError, parse_day
from qbo_backfill.sandbox.reports.shape import (
    ZERO,
    ReportFrame,
    Row,
    cells,
    column,
    data_row,
    money,
    money_or_blank,
    report,
    section,
)

__all__ = ["aged_payables", "aged_receivables", "customer_balance", "vendor_balance"]

OpenItems = Callable[[Books, date], list[OpenItem]]


def _positive_int(params: dict[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ReportError(f"{name} must be a whole number >= 1, got {raw!r}")
    return int(raw)


def _buckets(period: int, count: int) -> list[tuple[str, str]]:
    """(title, ColKey) of each aging column after Current."""
    out = []
    for n in range(count - 1):
        low, high = n * period + 1, (n + 1) * period
        out.append((f"{low} - {high}", f"{low}-{high}"))
    over = (count - 1) * period + 1
    out.append((f"{over} and over", f"{over}+"))
    return out


def _bucket(days_past_due: int, period: int, count: int) -> int:
    """0 for Current, then 1.. for each aging column."""
    if days_past_due <= 0:
        return 0
    return min(count - 1, (days_past_due - 1) // period) + 1


def _by_name(items: list[OpenItem]) -> list[tuple[NameRef, list[OpenItem]]]:
    groups: dict[tuple[str, int], list[OpenItem]] = {}
    for item in items:
        groups.setdefault((item.name.entity, item.name.id), []).append(item)
    return sorted(
        ((found[0].name, found) for found in groups.values()),
        key=lambda pair: (pair[0].name.lower(), pair[0].id),
    )


def _aged(
    name: str, who: str, items_of: OpenItems, books: Books, params: dict[str, str], today: date
) -> dict[str, Any]:
    as_of = parse_day(params.get("report_date"), today, "report_date")
    method = params.get("aging_method", "Report_Date")
    if method not in ("Report_Date", "Current"):
        raise ReportError(f"aging_method must be Report_Date or Current, got {method!r}")
    period = _positive_int(params, "aging_period", 30)
    count = _positive_int(params, "num_periods", 4)
    aged_at = as_of if method == "Report_Date" else today
    buckets = _buckets(period, count)
    width = len(buckets) + 2
    rows: list[Row] = []
    grand = [ZERO] * width
    for ref, items in _by_name(items_of(books, as_of)):
        amounts = [ZERO] * width
        for item in items:
            due = item.due_date or item.txn_date
            amounts[_bucket((aged_at - due).days, period, count)] += item.open_balance
        amounts[-1] = sum(amounts[:-1], ZERO)
        if amounts[-1] == 0 and not any(amounts[:-1]):
            continue
        grand = [a + b for a, b in zip(grand, amounts, strict=True)]
        values = [money_or_blank(v) for v in amounts[:-1]] + [money(amounts[-1])]
        rows.append(data_row(ref.name, values, ref.id, typed=False))
    rows.append(section(group="GrandTotal", summary=cells("TOTAL", [money(v) for v in grand])))
    columns = [
        column("", who, who.lower()),
        column("Current", "Money", "current"),
        *(column(title, "Money", key) for title, key in buckets),
        column("Total", "Money", "total"),
    ]
    options = (("report_date", as_of.isoformat()),)  # Intuit's sample names no more
    frame = ReportFrame(name, None, as_of, as_of, None, None, options)
    return report(frame, columns, rows, len(rows) > 1)


def _balances(
    name: str, who: str, items_of: OpenItems, books: Books, params: dict[str, str], today: date
) -> dict[str, Any]:
    as_of = parse_day(params.get("report_date") or params.get("end_date"), today, "end_date")
    rows: list[Row] = []
    grand = ZERO
    for ref, items in _by_name(items_of(books, as_of)):
        total = sum((item.open_balance for item in items), ZERO)
        if total == 0:
            continue
        grand += total
        rows.append(data_row(ref.name, [money(total)], ref.id, typed=False))
    rows.append(section(group="GrandTotal", summary=cells("TOTAL", [money(grand)])))
    columns = [column("", who, who.lower()), column("Total", "Money", "total")]
    frame = ReportFrame(name, None, None, as_of, None, None)
    return report(frame, columns, rows, len(rows) > 1)


def _receivables(books: Books, as_of: date) -> list[OpenItem]:
    return books.open_receivables(as_of)


def _payables(books: Books, as_of: date) -> list[OpenItem]:
    return books.open_payables(as_of)


def aged_receivables(books: Books, params: dict[str, str], today: date) -> dict[str, Any]:
    """Open invoices (and unapplied credits) per customer, by days past due."""
    return _aged("AgedReceivables", "Customer", _receivables, books, params, today)


def aged_payables(books: Books, params: dict[str, str], today: date) -> dict[str, Any]:
    """Open bills (and unapplied vendor credits) per vendor, by days past due."""
    return _aged("AgedPayables", "Vendor", _payables, books, params, today)


def customer_balance(books: Books, params: dict[str, str], today: date) -> dict[str, Any]:
    """Each customer's open balance at `end_date` (or `report_date`)."""
    return _balances("CustomerBalance", "Customer", _receivables, books, params, today)


def vendor_balance(books: Books, params: dict[str, str], today: date) -> dict[str, Any]:
    """Each vendor's open balance at `end_date` (or `report_date`)."""
    return _balances("VendorBalance", "Vendor", _payables, books, params, today)
