"""`reports` and the reports step of `sync`: every report asked for, in every basis asked
for, over whole months, through one session with the company (docs/reports.md)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import psycopg
from psycopg import sql

from qbo_backfill.entities import CATALOG, EntityKind
from qbo_backfill.errors import ApiError, ReauthorizeError, RunFailedError
from qbo_backfill.load.reportruns import ReportFigures, ReportRuns
from qbo_backfill.load.reportstore import REPORTS, ReportStore
from qbo_backfill.qbo.client import QboClient
from qbo_backfill.qbo.reports import ReportKind, report_kind
from qbo_backfill.run.reportcopy import MONTH_SUMMARY, ReportCopier
from qbo_backfill.run.reportplan import months_between, open_from
from qbo_backfill.run.session import Session, open_session
from qbo_backfill.settings import Settings

__all__ = [
    "ReportsOptions",
    "ReportsResult",
    "copied_reports",
    "copy_reports",
    "copy_reports_on",
    "first_txn_day",
]

Extra = tuple[tuple[str, str], ...]

# Transactions that post (estimates and purchase orders post nothing).
_POSTING = tuple(
    e.name
    for e in CATALOG.values()
    if e.kind is EntityKind.TRANSACTION and e.name not in ("Estimate", "PurchaseOrder")
)


@dataclass(frozen=True)
class ReportsOptions:
    """What to copy: reports, bases (`Accrual`/`Cash`), days (closed; None: the company's
    first transaction, today), and how many months count as still open."""

    reports: tuple[str, ...]
    bases: tuple[str, ...] = ("Accrual",)
    start: date | None = None
    end: date | None = None
    open_months: int = 2
    refresh: bool = False  # sync: ask again for the open months
    extra: Extra = ()  # further parameters sent with every request


@dataclass
class ReportsResult:
    """One run's figures, per report and basis."""

    run_id: str
    start: date
    end: date
    figures: list[ReportFigures] = field(default_factory=list)
    requests: int = 0  # every call of the session: the reports' and finding the first day
    start_found: bool = False  # the start is the company's first transaction day, found

    @property
    def calls(self) -> int:
        return max(self.requests, sum(f.calls for f in self.figures))

    @property
    def failed(self) -> list[ReportFigures]:
        return [f for f in self.figures if f.status != "done"]


async def copy_reports(settings: Settings, options: ReportsOptions) -> ReportsResult:
    """Copy (or, with `refresh`, refresh) the reports; a failed report is recorded and the
    others go on; re-authorization stops everything."""
    async with (
        open_session(settings) as session,
        await psycopg.AsyncConnection.connect(session.url, autocommit=True) as conn,
    ):
        return await copy_reports_on(session, conn, options)


async def copy_reports_on(
    session: Session, conn: psycopg.AsyncConnection, options: ReportsOptions
) -> ReportsResult:
    """`copy_reports` over a session and an autocommit connection already open (a fleet
    sync job's, which refreshes the reports after the entities)."""
    calls_before = session.client.stats.requests
    store = ReportStore(session.schema, session.realm_id)
    today = datetime.now(UTC).date()
    start, pairs = await _series(conn, session, options, today)
    result = ReportsResult(uuid.uuid4().hex, start, options.end or today)
    result.start_found = not options.start and not options.refresh
    if not pairs:  # a sync with no report copied: no call, no table made
        return result
    for name, basis, extra in pairs:
        copier = ReportCopier(
            session.client,
            conn,
            store,
            result.run_id,
            ReportFigures(name, basis),
            open_from(today, 2),
            today,
            extra,
        )
        result.figures.append(copier.figures)
        await _run_one(copier, session.realm_id, result, options.refresh)
    result.requests = session.client.stats.requests - calls_before
    return result


async def _series(
    conn: psycopg.AsyncConnection, session: Session, options: ReportsOptions, today: date
) -> tuple[date, list[tuple[str, str, Extra]]]:
    """The first day and the (report, basis, parameters) series to copy; the tables made
    when there is any."""
    if options.refresh:
        start = options.start or open_from(today, options.open_months)
        pairs = await copied_reports(conn, session.schema, session.realm_id)
    else:
        start = options.start or await first_txn_day(
            conn, session.client, session.schema, session.realm_id
        )
        pairs = [(n, b, options.extra) for n in options.reports for b in options.bases]
    if pairs:
        await ReportStore(session.schema, session.realm_id).create(conn)
        await ReportRuns(session.schema).create(conn)
    return start, pairs


async def _run_one(
    copier: ReportCopier, realm_id: str, result: ReportsResult, refresh: bool
) -> None:
    runs = ReportRuns(copier.store.schema)
    figures = copier.figures
    span = (result.start, result.end)
    command = "sync" if refresh else "reports"
    record = (result.run_id, realm_id, command, span, result.start_found)
    await runs.record(copier.conn, *record, figures)
    months = months_between(*span) if span[0] <= span[1] else []
    try:
        await (copier.refresh(months) if refresh else copier.copy(months))
        figures.status = "done"
    except ReauthorizeError:
        raise
    except (ApiError, RunFailedError) as exc:
        figures.status, figures.error = "failed", str(exc)
    await runs.record(copier.conn, *record, figures)


async def copied_reports(
    conn: psycopg.AsyncConnection, schema: str, realm_id: str
) -> list[tuple[str, str, Extra]]:
    """(report, basis, further parameters) of every series copied for the company: what
    `sync` refreshes (the month-summarized answers that found empty months aside)."""
    found = await (
        await conn.execute("SELECT to_regclass(%s)", (f'"{schema}"."{REPORTS}"',))
    ).fetchone()
    if found is None or found[0] is None:
        return []
    cursor = await conn.execute(
        sql.SQL(
            "SELECT DISTINCT report_name, accounting_method,"
            " params - 'start_date' - 'end_date' - 'report_date' - 'accounting_method'"
            " FROM {} WHERE realm_id = %s ORDER BY 1, 2"
        ).format(sql.Identifier(schema, REPORTS)),
        (realm_id,),
    )
    series = []
    for name, basis, shape in await cursor.fetchall():
        extra = tuple(sorted((str(k), str(v)) for k, v in shape.items()))
        if extra == MONTH_SUMMARY and report_kind(name) is ReportKind.SUMMARY:
            continue
        series.append((str(name), str(basis), extra))
    return series


async def first_txn_day(
    conn: psycopg.AsyncConnection, client: QboClient, schema: str, realm_id: str
) -> date:
    """The company's first transaction day: the earliest `TxnDate` among the copied
    transactions, else the day an earlier `reports` run found (no call either way), else
    one batch call asking each posting entity for its earliest; today when it has none."""
    earliest = await _copied_earliest(conn, schema, realm_id)
    if earliest is None:
        earliest = await ReportRuns(schema).found_start(conn, realm_id)
    if earliest is None:
        texts = [f"SELECT * FROM {name} ORDERBY TxnDate MAXRESULTS 1" for name in _POSTING]
        answers, _ = await client.query_many(texts)
        days = [
            date.fromisoformat(str(record["TxnDate"]))
            for answer, name in zip(answers, _POSTING, strict=True)
            for record in answer.get(name) or []
            if isinstance(record, dict) and record.get("TxnDate")
        ]
        earliest = min(days, default=None)
    return earliest or datetime.now(UTC).date()


async def _copied_earliest(
    conn: psycopg.AsyncConnection, schema: str, realm_id: str
) -> date | None:
    found: list[date] = []
    for name in _POSTING:
        table = f"qb_{name.lower()}"
        exists = await (
            await conn.execute("SELECT to_regclass(%s)", (f'"{schema}"."{table}"',))
        ).fetchone()
        if exists is None or exists[0] is None:
            continue
        cursor = await conn.execute(
            sql.SQL(
                "SELECT min(payload->>'TxnDate') FROM {} WHERE realm_id = %s"
                " AND deleted_at_utc IS NULL"
            ).format(sql.Identifier(schema, table)),
            (realm_id,),
        )
        row = await cursor.fetchone()
        if row and row[0]:
            found.append(date.fromisoformat(str(row[0])[:10]))
    return min(found, default=None)


def last_day(end_exclusive: date) -> date:
    """The closed end of a half-open `--end`."""
    return end_exclusive - timedelta(days=1)


def bases_of(choice: str) -> Sequence[str]:
    """`--basis accrual|cash|both` as QBO's `accounting_method` values."""
    return {"accrual": ("Accrual",), "cash": ("Cash",), "both": ("Accrual", "Cash")}[choice]
