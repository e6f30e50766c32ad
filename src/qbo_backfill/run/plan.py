"""A run's plan: the windows (chunks) an entity's range is cut into, each with its source
count when planning already asked for it, so that a chunk does not ask again."""

from __future__ import annotations

import math

from qbo_backfill.entities import Entity
from qbo_backfill.qbo import query
from qbo_backfill.qbo.client import BATCH_MAX_ITEMS, QboClient
from qbo_backfill.windows import ExtractWindow

__all__ = ["AUTO_MAX_PAGES", "PlannedWindow", "plan_windows"]

# `auto` chunking keeps a window under this many pages, so a window's paging stays short
# enough that records rarely move under it, while pages still come back full.
AUTO_MAX_PAGES = 100

# A window and its source count (None: not counted while planning).
PlannedWindow = tuple[ExtractWindow, int | None]


async def plan_windows(
    client: QboClient,
    entity: Entity,
    window: ExtractWindow,
    chunk_days: int | None,
    page_size: int,
) -> list[PlannedWindow]:
    """The windows of one entity's run: whole, fixed `chunk_days`, or sized (None)."""
    if window.is_whole:
        return [(window, None)]
    if chunk_days is None:
        return await _sized_windows(client, entity, window, page_size * AUTO_MAX_PAGES)
    return [(part, None) for part in window.split(chunk_days)]


async def _sized_windows(
    client: QboClient, entity: Entity, window: ExtractWindow, max_rows: int
) -> list[PlannedWindow]:
    """Windows of at most `max_rows` each (a single day may hold more), with their counts.

    The window is cut into up to 30 slices counted in one batch call; a slice still too
    large is cut and counted again; then neighbouring slices are joined while their sum
    stays within `max_rows`, so pages come back full and windows are few.
    """
    slices: list[tuple[ExtractWindow, int]] = []
    pending = [window]
    while pending:
        current = pending.pop()
        parts = current.split(math.ceil(current.days / BATCH_MAX_ITEMS))
        counts = await client.count_many([query.count_query(entity, p) for p in parts])
        for part, count in zip(parts, counts, strict=True):
            if count > max_rows and part.days >= 2:
                pending.append(part)
            else:
                slices.append((part, count))
    return join_slices(sorted(slices), max_rows)


def join_slices(slices: list[tuple[ExtractWindow, int]], max_rows: int) -> list[PlannedWindow]:
    """Neighbouring slices joined into windows of at most `max_rows` (ordered, no gaps)."""
    joined: list[PlannedWindow] = []
    start, end, total = slices[0][0].start, slices[0][0].end, slices[0][1]
    for part, count in slices[1:]:
        if total + count <= max_rows:
            end, total = part.end, total + count
            continue
        joined.append((ExtractWindow(start, end), total))
        start, end, total = part.start, part.end, count
    joined.append((ExtractWindow(start, end), total))
    return joined
