"""The body of a fleet reports job: one company's reports copied (`fleet backfill
--reports`), through the same library function as the `reports` command. Its calls count
against the month's budget. (Their open months are asked for again by each `fleet sync`
job, `fleet/syncjob.py`.)"""

from __future__ import annotations

from collections.abc import Sequence

from qbo_backfill.errors import ReauthorizeError, RunFailedError
from qbo_backfill.fleet.reauth import ReauthMarks
from qbo_backfill.fleet.work import FleetContext, guard
from qbo_backfill.qbo.reports import DEFAULT_REPORTS
from qbo_backfill.run.reports import ReportsOptions, ReportsResult, copy_reports

__all__ = ["copy_company_reports"]


async def copy_company_reports(ctx: FleetContext, realm: str, reports: Sequence[str]) -> str:
    """Copy `realm`'s reports (default: the default set) in the accrual basis."""
    options = ReportsOptions(tuple(reports) or DEFAULT_REPORTS)
    ctx.prepared.forget()  # the reports table may be made: the next syncs refresh it
    result = await _run(ctx, realm, options)
    return f"reports of {realm}: {len(result.figures)} copied, {result.calls} calls"


async def _run(ctx: FleetContext, realm: str, options: ReportsOptions) -> ReportsResult:
    async with ctx.pools.jobs.connection() as conn:
        await guard(ctx, conn, realm)
        try:
            result = await copy_reports(ctx.for_realm(realm), options)
        except ReauthorizeError as exc:
            await ReauthMarks(ctx.settings.schema).mark(conn, realm, str(exc))
            raise
        async with conn.transaction():
            await ctx.budget().add(conn, result.calls)
    if result.failed:  # the job fails, so the queue tries it again; stored months are kept
        first = result.failed[0]
        raise RunFailedError(f"reports of {realm} failed: {first.report}: {first.error}")
    return result
