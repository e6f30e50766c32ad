"""How long webhook events are kept: the fleet worker's hourly prune deletes the events
received over `keep_days` ago (`worker --keep-events-days`).

- Only when the receiver made the table: a fleet without webhooks is left untouched (the
  table is neither needed nor created).
- In batches of `batch` rows, one statement and one transaction each (on an autocommit
  connection), so a large backlog never holds one long transaction or its locks.
- An event is recorded so that a replay leads to nothing; one re-delivered after its row
  was pruned is recorded again and may enqueue one more sync, which is harmless: a sync
  copies what changed since the company's cursor, whatever triggered it.
- The activity `fleet status` and `report` show covers the last 24 hours; `keep_days` is
  at least 1, so a prune never removes an event they count.
"""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
from psycopg import sql

from qbo_backfill.webhooks.activity import EVENTS_TABLE

__all__ = ["PRUNE_BATCH_ROWS", "PRUNE_MAX_BATCHES", "prune_events"]

PRUNE_BATCH_ROWS = 10_000
# Batches one prune deletes at most: a large backlog is cleared over several hourly runs
# rather than holding up the worker's stalled-job sweep, which runs on the same task.
PRUNE_MAX_BATCHES = 50


async def prune_events(
    conn: psycopg.AsyncConnection[Any],
    schema: str,
    keep_days: int,
    *,
    batch: int = PRUNE_BATCH_ROWS,
    max_batches: int = PRUNE_MAX_BATCHES,
    stop: asyncio.Event | None = None,
) -> int:
    """Delete the events of `schema` received over `keep_days` ago, `batch` rows a statement,
    until none is left, `max_batches` were deleted or `stop` is set; how many were deleted.
    `conn` must be autocommit: each batch is then its own transaction."""
    if keep_days < 1 or batch < 1:
        raise ValueError("keep_days and batch must be at least 1")
    if not conn.autocommit:
        raise ValueError("prune_events needs an autocommit connection")
    if not await _exists(conn, schema):
        return 0
    delete = sql.SQL(_DELETE).format(table=sql.Identifier(schema, EVENTS_TABLE))
    deleted = 0
    for _ in range(max_batches):
        if stop is not None and stop.is_set():
            break
        cursor = await conn.execute(delete, {"days": keep_days, "batch": batch})
        deleted += max(cursor.rowcount, 0)
        if cursor.rowcount < batch:
            break
    return deleted


async def _exists(conn: psycopg.AsyncConnection[Any], schema: str) -> bool:
    name = sql.Identifier(schema, EVENTS_TABLE).as_string(conn)
    cursor = await conn.execute("SELECT to_regclass(%s)", (name,))
    row = await cursor.fetchone()
    return row is not None and row[0] is not None


# The oldest `batch` events past the limit, found by the `received_at` index, deleted by
# their key.
_DELETE = """
DELETE FROM {table} WHERE event_key IN (
    SELECT event_key FROM {table}
    WHERE received_at < now() - make_interval(days => %(days)s)
    ORDER BY received_at
    LIMIT %(batch)s
)
"""
