"""Old rows deleted in bounded batches, as the fleet worker's hourly prunes do (webhook
events, quiet sync runs).

- One statement and one transaction a batch (on an autocommit connection), so a large
  backlog never holds one long transaction or its locks.
- At most `max_batches` a prune: a backlog is cleared over several hourly runs rather than
  holding up the worker's stalled-job sweep, which runs on the same task.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import sql

__all__ = ["PRUNE_BATCH_ROWS", "PRUNE_MAX_BATCHES", "delete_in_batches"]

PRUNE_BATCH_ROWS = 10_000
PRUNE_MAX_BATCHES = 50


async def delete_in_batches(
    conn: psycopg.AsyncConnection[Any],
    delete: sql.Composed,
    params: Mapping[str, object],
    *,
    batch: int = PRUNE_BATCH_ROWS,
    max_batches: int = PRUNE_MAX_BATCHES,
    stop: asyncio.Event | None = None,
) -> int:
    """Run `delete` (which deletes at most `%(batch)s` rows) until it deletes fewer,
    `max_batches` ran or `stop` is set; how many rows it deleted."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    if not conn.autocommit:
        raise ValueError("deleting in batches needs an autocommit connection")
    deleted = 0
    for _ in range(max_batches):
        if stop is not None and stop.is_set():
            break
        cursor = await conn.execute(delete, {**params, "batch": batch})
        deleted += max(cursor.rowcount, 0)
        if cursor.rowcount < batch:
            break
    return deleted
