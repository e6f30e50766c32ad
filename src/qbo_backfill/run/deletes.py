"""Finding records deleted at the source where CDC cannot tell (older than its 30 days, or
an entity it does not serve): per-window counts of the source against live rows.

The table is first brought up to date with every change since the cursor, so a window
where the source counts fewer records than the table holds live ones has lost records.
Counts are asked coarse first, 30 windows per batch call, and refined only where they
differ (as `plan` sizes windows); a differing window small enough to read (one page, or
one day) is read whole (QBO has no column lists: `SELECT *`), its records written, and the
table's live Ids it no longer holds are marked deleted at the time the source was counted.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime

from qbo_backfill.entities import Entity
from qbo_backfill.load.rawtable import DeleteMark
from qbo_backfill.qbo import query
from qbo_backfill.qbo.client import BATCH_MAX_ITEMS, ClientStats
from qbo_backfill.qbo.lastupdated import read_page
from qbo_backfill.run.changes import PAGE_SIZE, ChangeWriter
from qbo_backfill.run.session import Session
from qbo_backfill.windows import ExtractWindow

__all__ = ["find_vanished"]

log = logging.getLogger(__name__)

# A window whose count moves while it is read is read again, at most this many times in all.
MAX_READS = 3


async def find_vanished(
    session: Session,
    writer: ChangeWriter,
    entity: Entity,
    stats: ClientStats,
    source_total: int | None,
) -> None:
    """Mark the table's live rows the source no longer holds. `source_total`, the entity's
    whole count when already asked (in the same batch as its changes): equal to the live
    rows, nothing vanished and no further call is made."""
    conn, realm = writer.conn, session.realm_id
    if source_total is not None:
        live = await writer.table.rows_in_window(conn, realm, ExtractWindow.whole(), live=True)
        if live == source_total:
            return
    span = await writer.table.live_span(conn, realm)
    pending = [span] if span is not None else []
    while pending:
        current = pending.pop()
        for part, count in await _counted_parts(session, entity, current, stats):
            live = await writer.table.rows_in_window(conn, realm, part, live=True)
            if live == count:
                continue
            if count <= PAGE_SIZE or part.days == 1:
                await _read_window(session, writer, entity, part, stats)
            else:
                pending.append(part)


async def _counted_parts(
    session: Session,
    entity: Entity,
    window: ExtractWindow,
    stats: ClientStats,
) -> list[tuple[ExtractWindow, int]]:
    parts = window.split(math.ceil(window.days / BATCH_MAX_ITEMS))
    answers, _ = await session.client.query_many(
        [query.count_query(entity, p) for p in parts], stats
    )
    return [(p, int(a.get("totalCount", 0))) for p, a in zip(parts, answers, strict=True)]


async def _read_window(
    session: Session,
    writer: ChangeWriter,
    entity: Entity,
    window: ExtractWindow,
    stats: ClientStats,
) -> None:
    """Read the window whole, write it, and mark the live Ids it lacks as deleted.

    Offset pages are no snapshot: a delete while paging shifts a record past the reader.
    A window of several pages is counted again after them, and read again when the count
    moved.
    """
    for _ in range(MAX_READS):
        seen, noticed, pages = await _read_ids(session, writer, entity, window, stats)
        # One page is one answer, a snapshot; several are not, unless the count held.
        after = len(seen)
        if pages > 1:
            after = await session.client.count(query.count_query(entity, window), stats)
        if after == len(seen):
            live = await writer.table.live_ids_in_window(writer.conn, session.realm_id, window)
            gone = sorted(live - seen)
            await writer.mark_deleted([DeleteMark(i, noticed) for i in gone])
            log.info("%s %s: %d records gone from the source", entity.name, window, len(gone))
            break
    writer.note(windows_read=1)


async def _read_ids(
    session: Session,
    writer: ChangeWriter,
    entity: Entity,
    window: ExtractWindow,
    stats: ClientStats,
) -> tuple[set[int], datetime, int]:
    seen: set[int] = set()
    noticed: datetime | None = None
    number = 1
    while True:
        text = query.page_query(entity, window, (number - 1) * PAGE_SIZE + 1, PAGE_SIZE)
        records, when = await read_page(session.client, text, entity, stats)
        noticed = noticed or when
        await writer.write(records, text)
        seen.update(int(r["Id"]) for r in records if str(r.get("Id", "")).isdigit())
        if len(records) < PAGE_SIZE:
            return seen, noticed, number
        number += 1
