"""A run's plan: the windows (chunks) an entity's range is cut into, each with its source
count, so that a chunk does not ask again and a window counted 0 is never paged.

Both ways of cutting count the range in coarse slices first (`run.slices`) and refine only
where rows are, so planning costs a few batch calls however wide the range. The windows
tile the range exactly: an empty stretch is one window counted 0.
"""

from __future__ import annotations

from qbo_backfill.entities import Entity
from qbo_backfill.qbo.client import QboClient
from qbo_backfill.run.slices import CountedSlice, count_slices, join_empty
from qbo_backfill.windows import ExtractWindow

__all__ = ["AUTO_MAX_PAGES", "PlannedWindow", "join_slices", "plan_windows"]

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
        max_rows = page_size * AUTO_MAX_PAGES
        # A slice still too large is cut again, down to single days (a day may hold more).
        slices = await count_slices(client, entity, window, 1, lambda _, n: n > max_rows)
        return list(join_slices(slices, max_rows))
    # Only slices that hold rows are refined into the fixed windows; the rest stay whole.
    slices = await count_slices(client, entity, window, chunk_days, lambda _, n: n > 0)
    return list(join_empty(slices))


def join_slices(slices: list[CountedSlice], max_rows: int) -> list[CountedSlice]:
    """Neighbouring slices joined into windows of at most `max_rows` (ordered, no gaps)."""
    joined: list[CountedSlice] = []
    start, end, total = slices[0][0].start, slices[0][0].end, slices[0][1]
    for part, count in slices[1:]:
        if total + count <= max_rows:
            end, total = part.end, total + count
            continue
        joined.append((ExtractWindow(start, end), total))
        start, end, total = part.start, part.end, count
    joined.append((ExtractWindow(start, end), total))
    return joined
