"""Sums of postings per account over a date range, without reading every entry each time.

The first report of a basis after a change (`Books.version` moved) asks the books for each
month's net per account once (`net_by_account`, no entries built) and keeps the months with
their running (cumulative) totals; a range is then its whole months from those totals plus
its partial months from `net_by_account`. A request's work is its columns times the
accounts, plus the postings of at most two partial months a column.
"""

from __future__ import annotations

import weakref
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from qbo_backfill.sandbox.books.model import Basis, Books

__all__ = ["Sums", "account_sums"]

Totals = dict[int, Decimal]
_CACHE: weakref.WeakKeyDictionary[object, dict[Basis, _Monthly]] = weakref.WeakKeyDictionary()


def _month(day: date) -> int:
    return day.year * 12 + day.month - 1


def _first_day(month: int) -> date:
    return date(month // 12, month % 12 + 1, 1)


@dataclass
class _Monthly:
    """Per-month totals of one basis at one books version, and their running totals."""

    version: int
    months: list[int] = field(default_factory=list)
    totals: list[Totals] = field(default_factory=list)
    running: list[Totals] = field(default_factory=list)  # through the end of months[i]


def _month_sums(books: Books, basis: Basis) -> Iterator[tuple[int, Totals]]:
    """Each month's net per account, from the first entry's month to the last's, by the
    books' `net_by_account` (sums without building entries). After an empty month, one
    look at everything later tells whether the books go on."""
    first = next(books.entries(basis, None, None), None)
    if first is None:
        return
    month = _month(first.txn_date)
    while True:
        start = _first_day(month)
        totals = books.net_by_account(basis, start, _first_day(month + 1) - timedelta(days=1))
        if totals:
            yield month, totals
        elif not books.net_by_account(basis, start, None):
            return
        month += 1


def _build(books: Books, basis: Basis) -> _Monthly:
    monthly = _Monthly(books.version)
    running: Totals = {}
    for month, totals in _month_sums(books, basis):
        running = dict(running)
        for account, amount in totals.items():
            running[account] = running.get(account, Decimal(0)) + amount
        monthly.months.append(month)
        monthly.totals.append(totals)
        monthly.running.append(running)
    return monthly


class Sums:
    """Per-account sums of one basis of a company's books (debits positive)."""

    def __init__(self, books: Books, basis: Basis) -> None:
        self.books = books
        self.basis = basis
        per_basis = _CACHE.setdefault(books, {})
        cached = per_basis.get(basis)
        if cached is None or cached.version != books.version:
            cached = per_basis[basis] = _build(books, basis)
        self._monthly = cached

    def through(self, end: date) -> Totals:
        """Every posting dated on or before `end` (balances at the end of that day)."""
        last_full = _month(end) - (0 if _is_month_end(end) else 1)
        base = self._running_through(last_full)
        if _is_month_end(end):
            return dict(base)
        return _plus(base, self._read(_first_day(_month(end)), end))

    def between(self, start: date, end: date) -> Totals:
        """Postings dated in [start, end], both included."""
        if end < start:
            return {}
        first_full = _month(start) + (0 if start.day == 1 else 1)
        last_full = _month(end) - (0 if _is_month_end(end) else 1)
        if first_full > last_full:
            return self._read(start, end)
        sums = _minus(self._running_through(last_full), self._running_through(first_full - 1))
        if start.day != 1:
            sums = _plus(sums, self._read(start, _first_day(first_full) - timedelta(days=1)))
        if not _is_month_end(end):
            sums = _plus(sums, self._read(_first_day(last_full + 1), end))
        return sums

    def _running_through(self, month: int) -> Totals:
        index = bisect_right(self._monthly.months, month) - 1
        return self._monthly.running[index] if index >= 0 else {}

    def _read(self, start: date, end: date) -> Totals:
        return self.books.net_by_account(self.basis, start, end)


def account_sums(books: Books, basis: Basis) -> Sums:
    """The cached sums of a basis (rebuilt when the books changed)."""
    return Sums(books, basis)


def _is_month_end(day: date) -> bool:
    return (day + timedelta(days=1)).day == 1


def _plus(a: Totals, b: Totals) -> Totals:
    out = dict(a)
    for account, amount in b.items():
        out[account] = out.get(account, Decimal(0)) + amount
    return out


def _minus(a: Totals, b: Totals) -> Totals:
    out = dict(a)
    for account, amount in b.items():
        out[account] = out.get(account, Decimal(0)) - amount
    return out
