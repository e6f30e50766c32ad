"""Counting a range at the source in coarse slices first, and finer only where it matters.

Planning and `verify` both need a range's source counts, but only where there are rows (or
where the table disagrees): a range is cut into up to 30 slices counted in one batch call,
and only the slices a caller wants refined are cut and counted again, so the calls follow
the rows, not the width of the range. Slices stay on a grid of `unit_days` anchored at the
range's start, so the finest slices are exactly the range's fixed windows.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable

from qbo_backfill.entities import Entity
from qbo_backfill.qbo import query
from qbo_backfill.qbo.client import BATCH_MAX_ITEMS, QboClient
from qbo_backfill.windows import ExtractWindow

__all__ = [
    "CountedSlice",
    "count_slices",
    "count_windows",
    "grid_split",
    "join_empty",
    "refine_slices",
]

# A slice of a range and its source count.
CountedSlice = tuple[ExtractWindow, int]
# Whether a counted slice is to be cut and counted again.
NeedsSplit = Callable[[ExtractWindow, int], bool]


def grid_split(
    window: ExtractWindow, unit_days: int, parts: int = BATCH_MAX_ITEMS
) -> list[ExtractWindow]:
    """`window` cut into at most `parts` slices of whole grid units (the last may be short)."""
    units = math.ceil(window.days / unit_days)
    return window.split(math.ceil(units / parts) * unit_days)


async def count_windows(
    client: QboClient, entity: Entity, windows: list[ExtractWindow]
) -> list[int]:
    """The source count of every window, 30 to a batch call, the batch calls at once."""
    groups = [windows[i : i + BATCH_MAX_ITEMS] for i in range(0, len(windows), BATCH_MAX_ITEMS)]
    answers = await asyncio.gather(
        *(client.count_many([query.count_query(entity, w) for w in group]) for group in groups)
    )
    return [count for answer in answers for count in answer]


async def count_slices(
    client: QboClient,
    entity: Entity,
    window: ExtractWindow,
    unit_days: int,
    needs_split: NeedsSplit,
) -> list[CountedSlice]:
    """Counted slices that tile `window` in order: up to 30 coarse ones first; a slice wider
    than one grid unit for which `needs_split` holds is cut and counted again."""
    parts = _next_parts([window], unit_days)
    return await refine_slices(
        client, entity, await _counted(client, entity, parts), unit_days, needs_split
    )


async def refine_slices(
    client: QboClient,
    entity: Entity,
    counted: list[CountedSlice],
    unit_days: int,
    needs_split: NeedsSplit,
) -> list[CountedSlice]:
    """Counted slices that tile a range, in order: each of `counted` wider than one grid
    unit for which `needs_split` holds is cut and counted again, down to the grid."""
    leaves: list[CountedSlice] = []
    while counted:
        pending = []
        for part, count in counted:
            if part.days > unit_days and needs_split(part, count):
                pending.append(part)
            else:
                leaves.append((part, count))
        counted = await _counted(client, entity, _next_parts(pending, unit_days)) if pending else []
    return sorted(leaves)


async def _counted(
    client: QboClient, entity: Entity, parts: list[ExtractWindow]
) -> list[CountedSlice]:
    return list(zip(parts, await count_windows(client, entity, parts), strict=True))


def _next_parts(pending: list[ExtractWindow], unit_days: int) -> list[ExtractWindow]:
    """The slices to count next: each pending slice cut in up to 30, or straight into its
    grid units when that costs at most twice the batch calls (dense rows: cutting in 30
    would only be cut again; sparse rows: 30 coarse slices find the few that hold them)."""
    coarse = [part for each in pending for part in grid_split(each, unit_days)]
    units = sum(math.ceil(each.days / unit_days) for each in pending)
    if _batches(units) <= 2 * _batches(len(coarse)):
        return [part for each in pending for part in each.split(unit_days)]
    return coarse


def _batches(queries: int) -> int:
    return math.ceil(queries / BATCH_MAX_ITEMS)


def join_empty(slices: list[CountedSlice]) -> list[CountedSlice]:
    """Neighbouring slices counted 0 joined into one (ordered, no gaps kept as they were)."""
    joined: list[CountedSlice] = []
    for part, count in slices:
        if joined and count == 0 and joined[-1][1] == 0 and joined[-1][0].end == part.start:
            joined[-1] = (ExtractWindow(joined[-1][0].start, part.end), 0)
        else:
            joined.append((part, count))
    return joined
