"""The body of a `fleet sync` job: one company's sync, through the sync engine's library
function (`run.sync.run_sync`). Its calls are counted against the month's budget."""

from __future__ import annotations

from collections.abc import Sequence

from qbo_backfill.entities import resolve_entity
from qbo_backfill.errors import ReauthorizeError, RunFailedError
from qbo_backfill.fleet.reauth import ReauthMarks
from qbo_backfill.fleet.work import FleetContext, guard
from qbo_backfill.run.sync import SyncOptions, run_sync

__all__ = ["sync_company"]


async def sync_company(ctx: FleetContext, realm: str, entities: Sequence[str]) -> str:
    """Bring `realm`'s copied entities (or only `entities`) up to date."""
    async with ctx.pools.jobs.connection() as conn:
        await guard(ctx, conn, realm)
        options = SyncOptions(entities=tuple(resolve_entity(name) for name in entities))
        try:
            result = await run_sync(ctx.for_realm(realm), options, pools=ctx.pools)
        except ReauthorizeError as exc:
            await ReauthMarks(ctx.settings.schema).mark(conn, realm, str(exc))
            raise
        async with conn.transaction():
            await ctx.budget().add(conn, int(result.api_calls))
    failed = [r for r in result.records if r.status != "done"]
    if failed:  # the job fails, so the queue tries it again (the cursors stayed put)
        raise RunFailedError(f"sync of {realm} failed: {failed[0].entity}: {failed[0].error}")
    from qbo_backfill.fleet.reportsjob import refresh_company_reports

    reports = await refresh_company_reports(ctx, realm)
    calls = result.api_calls + reports.calls
    return f"synced {len(result.records)} entities, {len(reports.figures)} reports, {calls} calls"
