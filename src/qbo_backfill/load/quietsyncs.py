"""How long quiet sync runs are kept: the fleet worker's hourly prune deletes the sync runs
that wrote nothing (`syncruns.QUIET`) finished over `keep_days` ago
(`worker --keep-quiet-syncs-days`, default 30; 0 keeps them all).

A sync writes one row per entity, changed or not: a fleet of 10,000 companies synced
hourly adds 240,000 rows a day for each entity, nearly all of them saying that nothing
changed. Those are what a prune removes, so the table holds a month of them, not years:

- a run that changed a row, quarantined a record or failed is kept whatever its age (the
  raw rows it wrote name it by `run_id`);
- the run each cursor names (its entity's last sync) is kept, so every entity's last sync
  stays on record however long ago it ran;
- the webhook activity of `fleet status` and `report` covers the last 24 hours, younger
  than any run pruned.
"""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
from psycopg import sql

from qbo_backfill.load.batches import PRUNE_BATCH_ROWS, PRUNE_MAX_BATCHES, delete_in_batches
from qbo_backfill.load.cursors import CURSORS
from qbo_backfill.load.db import has_table
from qbo_backfill.load.syncruns import QUIET, SYNC_RUNS

__all__ = ["KEEP_QUIET_SYNCS_DAYS", "prune_quiet_syncs"]

KEEP_QUIET_SYNCS_DAYS = 30


async def prune_quiet_syncs(
    conn: psycopg.AsyncConnection[Any],
    schema: str,
    keep_days: int,
    *,
    batch: int = PRUNE_BATCH_ROWS,
    max_batches: int = PRUNE_MAX_BATCHES,
    stop: asyncio.Event | None = None,
) -> int:
    """Delete the quiet sync runs of `schema` finished over `keep_days` ago (none when it is
    0), `batch` rows a statement; how many were deleted. `conn` must be autocommit."""
    if keep_days < 0:
        raise ValueError("keep_days must be 0 (keep them all) or more")
    if keep_days == 0 or not await has_table(conn, schema, SYNC_RUNS):
        return 0
    delete = sql.SQL(_DELETE).format(
        table=sql.Identifier(schema, SYNC_RUNS),
        cursors=sql.Identifier(schema, CURSORS),
        quiet=sql.SQL(QUIET),
    )
    return await delete_in_batches(
        conn, delete, {"days": keep_days}, batch=batch, max_batches=max_batches, stop=stop
    )


# The oldest `batch` quiet runs past the limit, found by the partial index of quiet runs,
# less the ones a cursor names; deleted by their key (an array, so by the primary key
# rather than by a join that would read the whole table).
_DELETE = """
DELETE FROM {table} WHERE sync_run_id = ANY(ARRAY(
    SELECT s.sync_run_id FROM {table} s
    WHERE {quiet} AND finished_at < now() - make_interval(days => %(days)s)
      AND NOT EXISTS (SELECT 1 FROM {cursors} c WHERE c.realm_id = s.realm_id
                      AND c.entity = s.entity AND c.sync_run_id = s.sync_run_id)
    ORDER BY finished_at
    LIMIT %(batch)s
))
"""
