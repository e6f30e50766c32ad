"""A run's plan: the windows (chunks) an entity's range is cut into, each with its source
count, so that a chunk does not ask again and a window counted 0 is never paged.

Both ways of cutting count the range in coarse slices first (`run.slices`) and refine only
where rows are, so planning costs a few batch calls however wide the range. The windows
tile the range exactly: an empty stretch is one window counted 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qbo_backfill.entities import Entity
from qbo_backfill.qbo import query
from qbo_backfill.qbo.client import BATCH_MAX_ITEMS, QboClient
from qbo_backfill.run.slices import (
    CountedSlice,
    count_slices,
    grid_split,
    join_empty,
    refine_slices,
)
from qbo_backfill.windows import ExtractWindow

__all__ = ["AUTO_MAX_PAGES", "FirstPage", "Plan", "PlannedWindow", "join_slices", "plan_windows"]

# `auto` chunking keeps a window under this many pages, so a window's paging stays short
# enough that records rarely move under it, while pages still come back full.
AUTO_MAX_PAGES = 100

# A window and its source count (None: not counted while planning).
PlannedWindow = tuple[ExtractWindow, int | None]


@dataclass(frozen=True)
class FirstPage:
    """The first page of a range planned as one window, read by the planning call itself,
    next to the counts that sized the range (`count`: its records at that instant)."""

    text: str  # the page query (its window, start and size), exactly as a chunk sends it
    records: list[Any]
    count: int

    @property
    def is_whole_window(self) -> bool:
        """Whether the page holds every record counted: the whole window at one instant."""
        return len(self.records) == self.count


@dataclass(frozen=True)
class Plan:
    """The windows of a run, and the page already read when the whole range fits one."""

    windows: list[PlannedWindow]
    first_page: FirstPage | None = None


async def plan_windows(
    client: QboClient,
    entity: Entity,
    window: ExtractWindow,
    chunk_days: int | None,
    page_size: int,
) -> Plan:
    """The windows of one entity's run: whole, fixed `chunk_days`, or sized (None)."""
    if window.is_whole:
        return Plan([(window, None)])
    if chunk_days is None:
        return await _plan_sized(client, entity, window, page_size)
    # Only slices that hold rows are refined into the fixed windows; the rest stay whole.
    slices = await count_slices(client, entity, window, chunk_days, lambda _, n: n > 0)
    return Plan(list(join_empty(slices)))


async def _plan_sized(
    client: QboClient, entity: Entity, window: ExtractWindow, page_size: int
) -> Plan:
    """Count the range in up to 29 coarse slices and, in the same batch call, read its
    first page: a range that fits one page is planned and read with that one call, and a
    range planned as one window (up to 100 pages) keeps that page as the window's first.
    A larger range wastes it (one page's bytes, no call) and is planned as before: a
    slice still too large is cut again, down to single days (a day may hold more)."""
    max_rows = page_size * AUTO_MAX_PAGES
    parts = grid_split(window, 1, BATCH_MAX_ITEMS - 1)
    text = query.page_query(entity, window, 1, page_size)
    answers, _ = await client.query_many([text, *(query.count_query(entity, p) for p in parts)])
    counts = [int(answer.get("totalCount", 0)) for answer in answers[1:]]
    records = answers[0].get(entity.name) or []
    read = FirstPage(text, records if isinstance(records, list) else [], sum(counts))
    if 0 < read.count <= page_size and read.is_whole_window:
        return Plan([(window, read.count)], read)
    counted = list(zip(parts, counts, strict=True))
    slices = await refine_slices(client, entity, counted, 1, lambda _, n: n > max_rows)
    windows: list[PlannedWindow] = list(join_slices(slices, max_rows))
    full_first_page = len(read.records) == page_size < read.count
    return Plan(windows, read if len(windows) == 1 and full_first_page else None)


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
