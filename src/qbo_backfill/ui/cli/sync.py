"""`sync`: keep the copy true after the backfill (changes, deletes, voids), and what it
prints: one row per entity."""

from __future__ import annotations

import click

from qbo_backfill.entities import resolve_entities
from qbo_backfill.errors import EXIT_OK, EXIT_RUN_FAILED
from qbo_backfill.run.sync import SyncOptions, sync
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
@realm_option
@json_logs_option
def sync_command(entities: tuple[str, ...], realm: str | None, json_logs: bool) -> int:
    """Bring ENTITIES (`all`: every queryable entity; default: every entity already copied
    for the company) up to date since their last sync or backfill: new and changed records,
    voids, deactivations, and deletes (marked in deleted_at_utc). Exit 1 if an entity
    failed; run it again to resume."""
    options = SyncOptions(resolve_entities(entities))
    settings = load_settings(realm_id=realm)
    result = with_progress(settings, json_logs, lambda observer: sync(settings, options, observer))
    console.print(sync_table(result.records))
    console.print(f"API calls this sync: {result.api_calls}", highlight=False)
    failed = [r for r in result.records if r.status != "done"]
    if failed:
        names = ", ".join(r.entity for r in failed)
        echo_error(f"sync failed for {names}: {failed[-1].error}; run the same command again")
        return EXIT_RUN_FAILED
    return EXIT_OK
