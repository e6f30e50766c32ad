"""Copying one report in one basis: the calls follow the data (docs/reports.md, "Cost").

- Summary reports (ProfitAndLoss, BalanceSheet, TrialBalance, CashFlow): one request
  summarized by month over the closed months still to copy says which of them show any
  amount; only those are asked for, a month each. The month-summarized answer is stored
  too (it is what says the other months are empty).
- Detail reports (GeneralLedger, TransactionList, any other name): the closed months still
  to copy are asked for in one request; an answer cut short, or a 504, splits the span in
  halves (at month boundaries, then by days inside a month) until each piece fits.
- Aging reports: one request as of the fetch date.

A piece is stored only whole; the pieces of one month are written together.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

import psycopg

from qbo_backfill.errors import QueryRejected, ReportTooDense, RunFailedError
from qbo_backfill.load.reportruns import ReportFigures
from qbo_backfill.load.reportstore import ReportStore, StoredPiece
from qbo_backfill.qbo.client import ClientStats, QboClient
from qbo_backfill.qbo.reports import (
    ReportAnswer,
    ReportKind,
    ReportRequest,
    fetch_report,
    report_kind,
)
from qbo_backfill.run.reportplan import (
    Month,
    covered,
    halves,
    months_between,
    months_with_data,
    runs_of,
)

__all__ = ["MONTH_SUMMARY", "ReportCopier", "shape_of"]

log = logging.getLogger(__name__)

MONTH_SUMMARY = (("summarize_column_by", "Month"),)
# A trial balance takes no monthly columns; its months hold balances exactly when the
# balance sheet's do (both are balances at the period's end), so that answer says which.
PROBED_BY = {"TrialBalance": "BalanceSheet"}
_DATE_KEYS = ("start_date", "end_date", "report_date")


def shape_of(params: dict[str, Any]) -> dict[str, Any]:
    """A request's parameters without its dates: what tells one series of periods from
    another (the month-summarized answers from the monthly ones)."""
    return {k: v for k, v in params.items() if k not in _DATE_KEYS}


@dataclass
class ReportCopier:
    """Copies one report in one basis for one company, counting what it does."""

    client: QboClient
    conn: psycopg.AsyncConnection
    store: ReportStore
    run_id: str
    figures: ReportFigures
    open_start: date  # months from here on can still change
    today: date
    extra: tuple[tuple[str, str], ...] = ()  # further parameters, as given

    def __post_init__(self) -> None:
        self.stats = ClientStats()

    def request(
        self, span: tuple[date, date], probe: tuple[tuple[str, str], ...] = (), name: str = ""
    ) -> ReportRequest:
        """The request over `span`, with the given parameters (and a probe's), of this
        report or of the one `name`s."""
        extra = tuple(dict(self.extra + probe).items())
        report = name or self.figures.report
        return ReportRequest(report, self.figures.basis, span[0], span[1], extra)

    async def copy(self, months: list[Month]) -> None:
        """Copy the months not stored yet (aging: as of today)."""
        kind = report_kind(self.figures.report)
        if kind is ReportKind.AS_OF:
            await self._copy_as_of()
            return
        done = covered(months, await self._pieces(()))
        todo = [m for m in months if m not in done]
        # Parameters of the caller's own (e.g. another summarize_column_by) make the
        # report a series of its own: asked for as a detail report.
        if kind is ReportKind.SUMMARY and not self.extra:
            # Monthly periods, each asked for alone: only the months holding amounts.
            for month in await self._with_data(todo):
                await self.copy_span(self.request(month))
            return
        for span in runs_of(todo, self.open_start):
            await self.copy_span(self.request(span))

    async def refresh(self, months: list[Month]) -> None:
        """Ask again for the months that can still change (and any of `months`): a stored
        period spanning several months is asked for again whole."""
        if report_kind(self.figures.report) is ReportKind.AS_OF:
            await self._copy_as_of()
            return
        pieces = await self._pieces(())
        spans: list[tuple[date, date]] = []
        for month in months:
            over = [p for p in pieces if p.start <= month[1] and p.end >= month[0]]
            span = (
                min([month[0], *(p.start for p in over)]),
                max([month[1], *(p.end for p in over)]),
            )
            if not spans or span[0] > spans[-1][1]:
                spans.append(span)
            else:
                spans[-1] = (spans[-1][0], max(spans[-1][1], span[1]))
        for span in spans:
            await self.copy_span(self.request(span))

    async def copy_span(self, request: ReportRequest) -> None:
        """One span asked for whole; cut short or too dense, its halves, each stored as it
        fits (a month's day pieces together)."""
        span = (request.start, request.end)
        if len(months_between(*span)) == 1:
            await self._store(span, await self._fitting(request))
            return
        answer = await self._try(request)
        if answer is not None:
            await self._store(span, [answer])
            return
        for half in halves(span):
            await self.copy_span(request.narrowed(*half))

    async def _fitting(self, request: ReportRequest) -> list[ReportAnswer]:
        answer = await self._try(request)
        if answer is not None:
            return [answer]
        parts = halves((request.start, request.end))
        if not parts:
            raise RunFailedError(
                f"{request.name} {request.basis} on {request.start}: one day is more than"
                " Intuit serves in one answer"
            )
        return [a for part in parts for a in await self._fitting(request.narrowed(*part))]

    async def _try(self, request: ReportRequest) -> ReportAnswer | None:
        """The answer when it is whole; None (counted) when it must be split."""
        try:
            answer = await fetch_report(self.client, request, self.stats)
        except ReportTooDense:
            self.figures.dense_split += 1
            return None
        finally:
            self.figures.calls = self.stats.requests
        if answer.truncated:
            self.figures.truncations_split += 1
            return None
        return answer

    async def _store(self, span: tuple[date, date], answers: list[ReportAnswer]) -> None:
        changed = await self.store.replace_span(
            self.conn,
            span,
            answers,
            self.run_id,
            closed=span[1] < self.open_start,
            shape=shape_of(answers[0].request.params),
        )
        self.figures.periods_stored += len(answers)
        self.figures.changes_found += int(changed)

    async def _with_data(self, todo: list[Month]) -> list[Month]:
        """The months of `todo` to ask for: the open ones, and the closed ones a
        month-summarized answer (stored, or asked for now) shows an amount in."""
        closed = [m for m in todo if m[1] < self.open_start]
        if not closed:
            return todo
        name = PROBED_BY.get(self.figures.report, self.figures.report)
        probes = await self._pieces(MONTH_SUMMARY, name)
        unprobed = [m for m in closed if m not in covered(closed, probes)]
        if unprobed:
            span = (unprobed[0][0], unprobed[-1][1])
            try:
                await self.copy_span(self.request(span, MONTH_SUMMARY, name))
            except QueryRejected as exc:
                # A report that takes no monthly columns: every month is asked for.
                log.warning(
                    "%s takes no monthly summary (%s): every month asked for",
                    self.figures.report,
                    exc,
                )
                return todo
            probes = await self._pieces(MONTH_SUMMARY, name)
        busy: set[Month] = set()
        for probe in probes:
            inside = [m for m in closed if probe.start <= m[1] and probe.end >= m[0]]
            busy |= months_with_data(probe.payload, inside)
        self.figures.months_empty += len(closed) - len(busy & set(closed))
        return [m for m in todo if m in busy or m[1] >= self.open_start]

    async def _copy_as_of(self) -> None:
        day = (self.today, self.today)
        if not [p for p in await self._pieces(()) if (p.start, p.end) == day]:
            answer = await self._try(self.request(day))
            if answer is None:
                raise RunFailedError(
                    f"{self.figures.report} as of {self.today} is more than Intuit serves in"
                    " one answer, and an aging report cannot be split by date"
                )
            await self._store(day, [answer])

    async def _pieces(
        self, extra: tuple[tuple[str, str], ...], name: str = ""
    ) -> list[StoredPiece]:
        shape = shape_of(self.request((self.today, self.today), extra).params)
        report = name or self.figures.report
        # Only the month-summarized answers are read (which months show amounts).
        loaded = extra == MONTH_SUMMARY
        pieces = await self.store.pieces(self.conn, report, self.figures.basis, payloads=loaded)
        return [p for p in pieces if shape_of(p.params) == shape]
