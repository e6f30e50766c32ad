"""A report request's parameters as QBO reads them: the period (`start_date`/`end_date` or
`date_macro`), `accounting_method`, `summarize_column_by`, and the report date of aging.

The company's fiscal year starts in January (the generated Preferences say so), so the
fiscal macros are the calendar ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from qbo_backfill.sandbox.books.model import Basis

__all__ = [
    "MAX_PERIOD_COLUMNS",
    "Period",
    "ReportError",
    "column_periods",
    "parse_basis",
    "parse_day",
    "parse_period",
]

MAX_PERIOD_COLUMNS = 1000
SUMMARIZE_BY = ("Total", "Days", "Week", "Month", "Quarter", "Year")


class ReportError(ValueError):
    """Bad report parameters (HTTP 400, Fault code 4001)."""


@dataclass(frozen=True)
class Period:
    """One column's dates (both ends included) and its title."""

    start: date
    end: date
    title: str


def parse_day(value: str | None, default: date, name: str) -> date:
    """A `YYYY-MM-DD` parameter, or `default` when absent."""
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ReportError(f"{name} must be YYYY-MM-DD, got {value!r}") from None


def parse_basis(value: str | None, default: Basis) -> Basis:
    """`accounting_method` (Accrual or Cash, any case); the company's basis when absent."""
    if not value:
        return default
    for basis in Basis:
        if basis.value.lower() == value.lower():
            return basis
    raise ReportError(f"accounting_method must be Accrual or Cash, got {value!r}")


def parse_period(params: dict[str, str], today: date) -> tuple[date, date, str | None]:
    """The report's first and last day, and the date macro used (None for explicit dates).

    Explicit dates win over a macro; with neither, the year to date (QBO's default for its
    summary reports); an end date alone starts on the first of its year."""
    macro = params.get("date_macro")
    if macro and not (params.get("start_date") or params.get("end_date")):
        start, end = _macro(macro, today)
        return start, end, macro
    end = parse_day(params.get("end_date"), today, "end_date")
    start = parse_day(params.get("start_date"), date(end.year, 1, 1), "start_date")
    if end < start:
        raise ReportError(f"end_date {end} is before start_date {start}")
    return start, end, None


def column_periods(by: str, start: date, end: date) -> list[Period]:
    """The period columns of `summarize_column_by` (none for Total), cut to [start, end]."""
    if by not in SUMMARIZE_BY:
        known = ", ".join(SUMMARIZE_BY)
        raise ReportError(f"summarize_column_by must be one of {known}, got {by!r}")
    if by == "Total":
        return []
    periods: list[Period] = []
    day = start
    while day <= end:
        last = min(end, _period_end(by, day))
        periods.append(Period(day, last, _title(by, day, last)))
        if len(periods) > MAX_PERIOD_COLUMNS:
            raise ReportError(f"at most {MAX_PERIOD_COLUMNS} columns; narrow the date range")
        day = last + timedelta(days=1)
    return periods


def _period_end(by: str, day: date) -> date:
    if by == "Days":
        return day
    if by == "Week":  # weeks run Sunday to Saturday, as QBO's
        return day + timedelta(days=(5 - day.weekday()) % 7)
    if by == "Month":
        return _month_end(day.year, day.month)
    if by == "Quarter":
        return _month_end(day.year, (day.month - 1) // 3 * 3 + 3)
    return date(day.year, 12, 31)


def _title(by: str, first: date, last: date) -> str:
    if by == "Days":
        return f"{first:%b} {first.day}, {first.year}"
    if by == "Month":
        return f"{first:%b %Y}"
    if by == "Year":
        return str(first.year)
    return f"{first:%b} {first.day} - {last:%b} {last.day}, {last.year}"


def _month_end(year: int, month: int) -> date:
    following = date(year + month // 12, month % 12 + 1, 1)
    return following - timedelta(days=1)


def _quarter_start(day: date) -> date:
    return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)


def _macro(name: str, today: date) -> tuple[date, date]:
    """QBO's documented `date_macro` values (case-insensitive; Fiscal = calendar here)."""
    key = name.strip().lower().replace(" fiscal ", " ").replace(" calendar ", " ")
    month_start = today.replace(day=1)
    last_month_end = month_start - timedelta(days=1)
    last_month_start = last_month_end.replace(day=1)
    quarter = _quarter_start(today)
    last_quarter = _quarter_start(quarter - timedelta(days=1))
    week = today - timedelta(days=(today.weekday() + 1) % 7)
    year = date(today.year, 1, 1)
    macros: dict[str, tuple[date, date]] = {
        "today": (today, today),
        "yesterday": (today - timedelta(days=1),) * 2,
        "this week": (week, week + timedelta(days=6)),
        "this week-to-date": (week, today),
        "last week": (week - timedelta(days=7), week - timedelta(days=1)),
        "last week-to-date": (week - timedelta(days=7), today - timedelta(days=7)),
        "next week": (week + timedelta(days=7), week + timedelta(days=13)),
        "next 4 weeks": (week + timedelta(days=7), week + timedelta(days=34)),
        "this month": (month_start, _month_end(today.year, today.month)),
        "this month-to-date": (month_start, today),
        "last month": (last_month_start, last_month_end),
        "last month-to-date": (last_month_start, min(last_month_end, _same_day(today, -1))),
        "next month": _next_month(today),
        "this quarter": (quarter, _period_end("Quarter", quarter)),
        "this quarter-to-date": (quarter, today),
        "last quarter": (last_quarter, quarter - timedelta(days=1)),
        "last quarter-to-date": (last_quarter, _same_day(today, -3)),
        "next quarter": _next_quarter(quarter),
        "this year": (year, date(today.year, 12, 31)),
        "this year-to-date": (year, today),
        "last year": (date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)),
        "last year-to-date": (date(today.year - 1, 1, 1), _same_day(today, -12)),
        "next year": (date(today.year + 1, 1, 1), date(today.year + 1, 12, 31)),
    }
    found = macros.get(key)
    if found is None:
        raise ReportError(f"date_macro {name!r} is not a QBO date macro")
    return found


def _same_day(today: date, months: int) -> date:
    """The same day `months` months away (the month's last day when it is shorter)."""
    year, month0 = divmod(today.year * 12 + today.month - 1 + months, 12)
    first = date(year, month0 + 1, 1)
    return min(first + timedelta(days=today.day - 1), _month_end(year, month0 + 1))


def _next_month(today: date) -> tuple[date, date]:
    first = _month_end(today.year, today.month) + timedelta(days=1)
    return first, _month_end(first.year, first.month)


def _next_quarter(quarter: date) -> tuple[date, date]:
    first = _period_end("Quarter", quarter) + timedelta(days=1)
    return first, _period_end("Quarter", first)
