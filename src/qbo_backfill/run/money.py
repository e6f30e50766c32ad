"""`verify --money`: the copy proved against Intuit's own reports, per company and month
(docs/reconciliation.md).

The reports it reads are copied on the way by the reports copier (`run/reportcopy.py`):
TransactionList and GeneralLedger over the range (one request for the closed months still
to copy, split only where Intuit cuts them), the two aging reports once a day. A closed
month stored before is asked for again only when the copy changed there since (a sync);
the open months (the current and the previous) are asked for again each time.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg

from qbo_backfill.errors import ApiError, ReauthorizeError, RunFailedError
from qbo_backfill.load.moneychecks import (
    OPEN_ITEMS,
    aging_fetched_at,
    balances_not_equal,
    open_balance_differences,
    residue,
)
from qbo_backfill.load.moneyrecord import MoneyMonth, MoneyRecord, MoneyResult
from qbo_backfill.load.moneytxns import (
    POSTING_ENTITIES,
    Difference,
    changed_months,
    copy_table_exists,
    differences,
    month_counts,
    months_changed_since,
    shown,
)
from qbo_backfill.load.reportruns import ReportFigures, ReportRuns
from qbo_backfill.load.reportstore import ReportStore
from qbo_backfill.load.reportview import sections_not_adding_up_async
from qbo_backfill.run.reportcopy import ReportCopier
from qbo_backfill.run.reportplan import Month, covered, month_of, months_between, open_from
from qbo_backfill.run.reports import first_txn_day
from qbo_backfill.run.session import Session

__all__ = [
    "MONEY_REPORTS",
    "MoneyMonth",
    "MoneyOptions",
    "MoneyResult",
    "touched_since_last_check",
    "verify_money",
]

# The reports the checks read: the transactions, the postings (residue), the open items.
MONEY_REPORTS = ("TransactionList", "GeneralLedger", "AgedReceivables", "AgedPayables")
_DETAIL = ("TransactionList", "GeneralLedger")


@dataclass(frozen=True)
class MoneyOptions:
    """The days to check (`end` exclusive; None: the company's first transaction, today)
    and the basis (`Accrual` or `Cash`)."""

    start: date | None = None
    end: date | None = None
    basis: str = "Accrual"
    refresh_open: bool = True  # ask again for the open months (a sync just did: no need)


async def verify_money(session: Session, options: MoneyOptions) -> MoneyResult:
    """Copy the reports the checks need (what is missing or may have changed), run every
    check, record the run; the result says what disagrees."""
    async with await psycopg.AsyncConnection.connect(session.url, autocommit=True) as conn:
        today = datetime.now(UTC).date()
        first = await first_txn_day(conn, session.client, session.schema, session.realm_id)
        first = max(first, options.start) if options.start else first
        last = options.end - timedelta(days=1) if options.end else today
        result = MoneyResult(uuid.uuid4().hex, session.realm_id, options.basis, first, last)
        before = session.client.stats.requests
        if first <= last:
            months = months_between(first, last)
            await _fetch(conn, session, result, months, today, options.refresh_open)
        result.calls = session.client.stats.requests - before
        await _check(conn, session.schema, result)
        await MoneyRecord(session.schema).record(conn, result)
        return result


async def _fetch(
    conn: psycopg.AsyncConnection,
    session: Session,
    result: MoneyResult,
    months: list[Month],
    today: date,
    refresh_open: bool,
) -> None:
    """The reports the checks read, copied where missing, asked again where stale."""
    store = ReportStore(session.schema, session.realm_id)
    await store.create(conn)
    runs = ReportRuns(session.schema)
    await runs.create(conn)
    copied = await _copied(conn, session.schema)
    open_start = open_from(today, 2)
    for name in MONEY_REPORTS:
        if result.basis != "Accrual" and name not in _DETAIL:
            continue  # open balances are checked on the accrual basis only
        figures = ReportFigures(name, result.basis)
        copier = ReportCopier(
            session.client, conn, store, result.run_id, figures, open_start, today
        )
        record = (result.run_id, session.realm_id, "verify", (months[0][0], months[-1][1]), False)
        await runs.record(conn, *record, figures)
        try:
            where = (session.schema, session.realm_id)
            await _fetch_one(conn, copier, months, copied, where, refresh_open)
            figures.status = "done"
        except ReauthorizeError:
            raise
        except (ApiError, RunFailedError) as exc:
            figures.status, figures.error = "failed", str(exc)
            result.reports_failed.append(f"{name}: {exc}")
        await runs.record(conn, *record, figures)


async def _fetch_one(
    conn: psycopg.AsyncConnection,
    copier: ReportCopier,
    months: list[Month],
    copied: list[str],
    where: tuple[str, str],
    refresh_open: bool,
) -> None:
    name, basis = copier.figures.report, copier.figures.basis
    if name not in _DETAIL:
        await _fetch_aging(conn, copier, copied, where)
        return
    stored_pieces = await copier.store.pieces(conn, name, basis, payloads=False)
    pieces = [p for p in stored_pieces if _plain(p.params)]
    stored = covered(months, pieces)
    changed = await changed_months(conn, where[0], copied, (where[1], basis, name))
    reopen = refresh_open and copier.open_start
    stale = [m for m in months if m in stored and ((reopen and m[1] >= reopen) or m[0] in changed)]
    await copier.copy(months)
    if stale:
        await copier.refresh(stale)


async def _fetch_aging(
    conn: psycopg.AsyncConnection, copier: ReportCopier, copied: list[str], where: tuple[str, str]
) -> None:
    """Today's aging, once a day; again when the copy changed since it was stored (its
    open items would otherwise be compared with an older answer)."""
    schema, realm = where
    which = (realm, copier.figures.report, copier.figures.basis)
    fetched = await aging_fetched_at(conn, schema, which, copier.today)
    if fetched is None:
        await copier.copy([])
    elif await months_changed_since(conn, schema, copied, realm, fetched):
        await copier.copy_span(copier.request((copier.today, copier.today)))


def _plain(params: dict[str, Any]) -> bool:
    return set(params) <= {"start_date", "end_date", "accounting_method"}


async def _copied(conn: psycopg.AsyncConnection, schema: str) -> list[str]:
    return [e for e in POSTING_ENTITIES if await copy_table_exists(conn, schema, e)]


async def _check(conn: psycopg.AsyncConnection, schema: str, result: MoneyResult) -> None:
    """Every check, each a difference set; the months' table from the transactions'."""
    copied = await _copied(conn, schema)
    result.not_copied = [e for e in POSTING_ENTITIES if e not in copied]
    scope = (result.realm_id, result.basis, result.first, result.last)
    if result.first <= result.last:
        result.differences = await differences(conn, schema, copied, scope)
        result.residue = await residue(conn, schema, scope)
        counts = await month_counts(conn, schema, copied, scope)
        result.months = _months(result, counts)
    result.not_adding_up = [
        row
        for row in await sections_not_adding_up_async(conn, schema)
        if row["realm_id"] == result.realm_id
    ] + await balances_not_equal(conn, schema, result.realm_id)
    if result.basis == "Accrual":
        for report, parts in OPEN_ITEMS.items():
            if all(entity in copied for entity, _ in parts):  # else not checked
                result.open_balances += await open_balance_differences(
                    conn, schema, result.realm_id, report
                )


def _months(
    result: MoneyResult, counts: dict[date, tuple[int, int, Decimal, Decimal]]
) -> list[MoneyMonth]:
    table = {m[0]: MoneyMonth(m[0]) for m in months_between(result.first, result.last)}
    for month, (source, copy, source_total, copy_total) in counts.items():
        row = table[month]
        row.source_count, row.copy_count = source, copy
        row.source_total, row.copy_total = _cents(source_total), _cents(copy_total)
    for diff in result.differences:
        row = table[month_of(diff.month_day)[0]]
        _count(row, diff)
        if diff.kind == "date" and diff.copy_date is not None:
            # The copy's month shows it too: one transaction in two months.
            other = table.get(month_of(diff.copy_date)[0])
            if other is not None and other is not row:
                other.dates_differing += 1
    for line in result.residue:
        if not line.counterpart:
            table[line.month].residue += line.amount
    return list(table.values())


def _cents(amount: Decimal) -> Decimal:
    """Two decimals when that is exact (`12.5` -> `12.50`); never rounded."""
    return Decimal(shown(amount) or "0")


def _count(row: MoneyMonth, diff: Difference) -> None:
    fields = {
        "missing": "missing",
        "extra": "extra",
        "amount": "amounts_differing",
        "date": "dates_differing",
    }
    name = fields[diff.kind]
    setattr(row, name, getattr(row, name) + 1)


async def touched_since_last_check(session: Session) -> tuple[bool, date | None]:
    """Whether the company was checked before, and the first day of the earliest month the
    copy changed in since (None: nothing changed, or never checked)."""
    async with await psycopg.AsyncConnection.connect(session.url, autocommit=True) as conn:
        since = await MoneyRecord(session.schema).last_checked(conn, session.realm_id)
        if since is None:
            return False, None
        copied = await _copied(conn, session.schema)
        months = await months_changed_since(conn, session.schema, copied, session.realm_id, since)
        return True, months[0] if months else None
