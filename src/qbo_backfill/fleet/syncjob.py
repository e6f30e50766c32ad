"""The body of a `fleet sync` job: one company's sync, through the sync engine (`run.sync`),
then its copied reports' open months asked for again, both over one session and one
connection. Its calls are counted against the month's budget.

An idle company's sync is the fleet's commonest job (thousands an hour, most with nothing
to do), so it opens one session (one token read, one API client, the company's limiter
once), borrows one connection, and takes the schema's shape from what its worker already
checked (`run.prepared`)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

import psycopg
from psycopg import sql

from qbo_backfill.entities import resolve_entity
from qbo_backfill.errors import (
    ApiError,
    BackfillError,
    ConfigError,
    ReauthorizeError,
    RunFailedError,
)
from qbo_backfill.fleet.budget import BudgetReached
from qbo_backfill.fleet.reauth import ReauthMarks
from qbo_backfill.fleet.work import FleetContext, guard
from qbo_backfill.load.reportstore import REPORTS
from qbo_backfill.run.reports import ReportsOptions, ReportsResult, copy_reports_on
from qbo_backfill.run.session import Session
from qbo_backfill.run.sync import Sync, SyncOptions

__all__ = ["sync_companies", "sync_company"]

log = logging.getLogger(__name__)

# A company's sync failing in a group job: it gets a job of its own, retried as any.
_ALONE_AFTER = (RunFailedError, ApiError, BackfillError, psycopg.Error, OSError)


async def sync_companies(
    ctx: FleetContext,
    realms: Sequence[str],
    entities: Sequence[str],
    alone: Callable[[str], Awaitable[None]],
) -> str:
    """`sync_company` for each of `realms`, one after the other, in one job. A company
    whose sync fails is handed to `alone` (a job of its own, retried as any sync job) and
    the others go on; one that must re-authorize (marked) or has nothing copied yet is
    skipped; a reached budget ends the job, which waits for next month."""
    apart: list[str] = []
    skipped: list[str] = []
    for realm in realms:
        try:
            await sync_company(ctx, realm, entities)
        except BudgetReached:
            raise  # no company starts: the job waits for next month
        except (ReauthorizeError, ConfigError) as exc:  # marked, or nothing copied yet
            log.warning("sync of %s skipped: %s", realm, exc)
            skipped.append(realm)
        except _ALONE_AFTER as exc:
            log.warning("sync of %s failed (%s): it gets a job of its own", realm, exc)
            await alone(realm)
            apart.append(realm)
    synced = len(realms) - len(apart) - len(skipped)
    return (
        f"synced {synced} of {len(realms)} companies; {len(apart)} given a job of their own, "
        f"{len(skipped)} skipped (re-authorization, or nothing copied)"
    )


async def sync_company(ctx: FleetContext, realm: str, entities: Sequence[str]) -> str:
    """Bring `realm`'s copied entities (or only `entities`) and its reports up to date."""
    options = SyncOptions(entities=tuple(resolve_entity(name) for name in entities))
    async with ctx.pools.jobs.connection() as conn:
        await guard(ctx, conn, realm)
        try:
            async with ctx.session(realm) as session:
                result = await Sync(session, ctx.prepared).run(conn, options)
                reports = await _refresh_reports(ctx, session, conn) if result.ok else None
                calls = session.client.stats.requests
        except ReauthorizeError as exc:
            await ReauthMarks(ctx.settings.schema).mark(conn, realm, str(exc))
            raise
        except BaseException:
            ctx.prepared.forget()  # the retry checks the schema's shape again
            raise
        async with conn.transaction():
            await ctx.budget().add(conn, calls)
    if reports is None:  # the job fails, so the queue tries it again (the cursors stayed put)
        ctx.prepared.forget()
        failed = next(r for r in result.records if r.status != "done")
        raise RunFailedError(f"sync of {realm} failed: {failed.entity}: {failed.error}")
    if reports.failed:  # stored months are kept; the queue tries the job again
        first = reports.failed[0]
        raise RunFailedError(f"reports of {realm} failed: {first.report}: {first.error}")
    return f"synced {len(result.records)} entities, {len(reports.figures)} reports, {calls} calls"


async def _refresh_reports(
    ctx: FleetContext, session: Session, conn: psycopg.AsyncConnection
) -> ReportsResult:
    """The open months of the company's copied reports, asked for again (nothing to do, and
    no call, when none was copied)."""
    if not await _reports_copied(ctx, conn):
        today = datetime.now(UTC).date()
        return ReportsResult("", today, today)
    await conn.set_autocommit(True)  # the reports' statements commit alone
    return await copy_reports_on(session, conn, ReportsOptions((), refresh=True))


async def _reports_copied(ctx: FleetContext, conn: psycopg.AsyncConnection) -> bool:
    """Whether the schema holds copied reports (its reports table). A schema without any,
    the usual fleet, is known so for a minute with no statement."""
    schema = ctx.settings.schema
    if ctx.prepared.holds("no reports table", schema):
        return False
    table = sql.Identifier(schema, REPORTS).as_string(conn)
    row = await (await conn.execute("SELECT to_regclass(%s)", (table,))).fetchone()
    await conn.commit()
    if row is not None and row[0] is not None:
        return True
    ctx.prepared.note("no reports table", schema)
    return False
