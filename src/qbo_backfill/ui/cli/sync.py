"""`sync`: keep the copy true after the backfill (changes, deletes, voids), and what it
prints: one row per entity."""

from __future__ import annotations

from collections.abc import Iterable

import click
from rich.table import Table

from qbo_backfill.entities import resolve_entity
from qbo_backfill.errors import EXIT_OK, EXIT_RUN_FAILED
from qbo_backfill.load import db
from qbo_backfill.load.syncruns import SyncRecord
from qbo_backfill.run.sync import SyncOptions, sync
from qbo_backfill.ui import progress
from qbo_backfill.ui.cli.shared import (
    configure_logging,
    console,
    echo_error,
    err_console,
    json_logs_option,
    load_settings,
    realm_option,
)

__all__ = ["sync_command", "sync_table"]

_COLUMNS = ("entity", "path", "inserted", "updated", "deleted", "reactivated", "calls", "cursor")


@click.command("sync", short_help="Bring copied entities up to date: changes and deletes.")
@click.argument("entities", nargs=-1)
@realm_option
@json_logs_option
def sync_command(entities: tuple[str, ...], realm: str | None, json_logs: bool) -> int:
    """Bring ENTITIES (default: every entity already copied for the company) up to date
    since their last sync or backfill: new and changed records, voids, deactivations, and
    deletes (marked in deleted_at_utc). Exit 1 if an entity failed; run it again to resume."""
    options = SyncOptions(tuple(resolve_entity(name) for name in entities))
    settings = load_settings(realm_id=realm)
    display = configure_logging(json_logs)
    console.print(f"[dim]database: {db.describe(settings)}[/dim]", highlight=False)
    with progress.progress_display(display, err_console) as observer:
        result = sync(settings, options, observer)
    console.print(sync_table(result.records))
    console.print(f"API calls this sync: {result.api_calls}", highlight=False)
    failed = [r for r in result.records if r.status != "done"]
    if failed:
        names = ", ".join(r.entity for r in failed)
        echo_error(f"sync failed for {names}: {failed[-1].error}; run the same command again")
        return EXIT_RUN_FAILED
    return EXIT_OK


def sync_table(records: Iterable[SyncRecord]) -> Table:
    """One row per entity synced: what changed, the path taken, the new cursor."""
    table = Table(title="sync", title_justify="left")
    for column in _COLUMNS:
        table.add_column(column, justify="right" if column not in ("entity", "path") else "left")
    for r in records:
        f = r.figures
        table.add_row(
            r.entity,
            r.path,
            str(f.inserted),
            str(f.updated),
            str(f.deleted),
            str(f.reactivated),
            str(f.api_calls),
            f"{r.cursor_after:%Y-%m-%d %H:%M:%S}Z",
        )
    return table
