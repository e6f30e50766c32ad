"""Which periods of a report to ask for: pure date arithmetic over months, what is stored
already, and what a month-summarized request says about the months (docs/reports.md).

Periods are closed day ranges, as Intuit's `start_date`/`end_date`: a month is
`[first day, last day]`. The open months (the current one and those before it that can
still change, two by default) are always their own periods, so `sync` can ask for them
again without touching a closed stretch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from qbo_backfill.load.reportflat import columns_of, flatten_report
from qbo_backfill.load.reportstore import StoredPiece

__all__ = [
    "Month",
    "covered",
    "halves",
    "month_of",
    "months_between",
    "months_with_data",
    "open_from",
    "runs_of",
]

Month = tuple[date, date]  # first and last day


def month_of(day: date) -> Month:
    """The month holding `day`."""
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


def months_between(first: date, last: date) -> list[Month]:
    """Every month from the one holding `first` to the one holding `last`."""
    months, cursor = [], month_of(first)
    while cursor[0] <= last:
        months.append(cursor)
        cursor = month_of(cursor[1] + timedelta(days=1))
    return months


def open_from(today: date, open_months: int) -> date:
    """The first day of the oldest month that can still change (`open_months` back,
    the current month counted)."""
    first = today.replace(day=1)
    for _ in range(max(open_months, 1) - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    return first


def covered(months: Sequence[Month], pieces: Iterable[StoredPiece]) -> set[Month]:
    """The months some stored period overlaps. A month's pieces are written in one
    transaction, so one overlapping piece means the whole month is there."""
    spans = [(p.start, p.end) for p in pieces]
    return {m for m in months if any(s <= m[1] and e >= m[0] for s, e in spans)}


def runs_of(months: Sequence[Month], boundary: date) -> list[tuple[date, date]]:
    """Consecutive months joined into spans; months from `boundary` on (open) stay alone."""
    spans: list[tuple[date, date]] = []
    for first, last in sorted(months):
        if spans and first < boundary and spans[-1][1] + timedelta(days=1) == first:
            spans[-1] = (spans[-1][0], last)
        else:
            spans.append((first, last))
    return spans


def halves(span: tuple[date, date]) -> list[tuple[date, date]]:
    """A span split in two: at a month boundary when it holds several months, else by days;
    a single day cannot be split (empty list)."""
    months = months_between(*span)
    if len(months) > 1:
        middle = months[len(months) // 2][0]
    elif span[0] < span[1]:
        middle = span[0] + timedelta(days=((span[1] - span[0]).days + 1) // 2)
    else:
        return []
    return [(span[0], middle - timedelta(days=1)), (middle, span[1])]


def months_with_data(payload: dict[str, Any], months: Sequence[Month]) -> set[Month]:
    """The months a month-summarized answer shows a non-zero amount in; every month when
    the answer has no dated columns (nothing can be ruled out)."""
    dated = [
        (c.index, c.start_date, c.end_date)
        for c in columns_of(payload)
        if c.start_date and c.end_date and c.kind == "Money"
    ]
    if not dated:
        return set(months)
    busy: set[Month] = set()
    nonzero = {
        cell.column_index
        for cell in flatten_report(payload)
        if cell.amount is not None and cell.amount != Decimal(0)
    }
    for index, start, end in dated:
        if index in nonzero:
            busy |= {m for m in months if m[0] <= end and m[1] >= start}
    return busy
