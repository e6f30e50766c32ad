"""`sync`: keep the copy true after the backfill (changes, deletes, voids), and what it
prints: one row per entity."""

from __future__ import annotations

import asyncio

import click

from qbo_backfill.entities import resolve_entities
from qbo_backfill.errors import EXIT_OK, EXIT_RUN_FAILED, ConfigError
from qbo_backfill.run.reports import ReportsOptions, ReportsResult, copy_reports
from qbo_backfill.run.sync import SyncOptions, sync
from qbo_backfill.ui.cli.reports import figures_table
from qbo_backfill.ui.cli.shared import (
    console,
    echo_error,
    json_logs_option,
    load_settings,
    realm_option,
    with_progress,
)
from qbo_backfill.ui.render import sync_table

__all__ = ["sync_command"]


@click.command("sync", short_help="Bring copied entities up to date: changes and deletes.")
@click.argument("entities", nargs=-1)
@click.option(
    "--report-months",
    default=2,
    show_default=True,
    type=click.IntRange(1, 120),
    help="Months (the current one counted) whose copied reports are asked for again.",
)
@realm_option
@json_logs_option
def sync_command(
    entities: tuple[str, ...], report_months: int, realm: str | None, json_logs: bool
) -> int:
    """Bring ENTITIES (`all`: every queryable entity; default: every entity already copied
    for the company) up to date since their last sync or backfill: new and changed records,
    voids, deactivations, and deletes (marked in deleted_at_utc); then ask again for the
    months of the copied reports that can still change. Exit 1 if an entity or report
    failed; run it again to resume."""
    options = SyncOptions(resolve_entities(entities))
    settings = load_settings(realm_id=realm)
    refresh = ReportsOptions((), refresh=True, open_months=report_months)
    try:
        result = with_progress(
            settings, json_logs, lambda observer: sync(settings, options, observer)
        )
    except ConfigError:
        if entities:
            raise
        # No entity copied: a company whose reports alone were copied still syncs them.
        reports = asyncio.run(copy_reports(settings, refresh))
        if not reports.figures:
            raise
        return _print_reports(reports, 0)
    console.print(sync_table(result.records))
    failed = [r for r in result.records if r.status != "done"]
    if failed:
        console.print(f"API calls this sync: {result.api_calls}", highlight=False)
        names = ", ".join(r.entity for r in failed)
        echo_error(f"sync failed for {names}: {failed[-1].error}; run the same command again")
        return EXIT_RUN_FAILED
    return _print_reports(asyncio.run(copy_reports(settings, refresh)), result.api_calls)


def _print_reports(reports: ReportsResult, entity_calls: int) -> int:
    """The reports' table and the sync's calls; the exit code."""
    if reports.figures:
        console.print(figures_table(reports.figures, f"reports {reports.start}..{reports.end}"))
    console.print(f"API calls this sync: {entity_calls + reports.calls}", highlight=False)
    if reports.failed:
        last = reports.failed[-1]
        echo_error(f"report {last.report} {last.basis} failed: {last.error}; run sync again")
        return EXIT_RUN_FAILED
    return EXIT_OK
