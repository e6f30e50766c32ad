"""`verify`: per window, the source's COUNT(*) against rows loaded and rows in the table.

The source is counted in coarse slices (30 to a batch call) and the table per slice in SQL;
only slices where the two disagree are cut and counted again, down to the chunk window (or
a single day with `auto`), so a clean verify of decades costs a call or two per entity and
a mismatch is still named down to its window. The figures are written to the ledger table
`qbo_backfill_verifications`, so the evidence of a complete copy outlives the terminal.
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from qbo_backfill.entities import Entity, EntityKind
from qbo_backfill.load.columns import DATE_WINDOW, SCOPE
from qbo_backfill.load.ledger import CHUNKS
from qbo_backfill.load.rawtable import RawTable
from qbo_backfill.qbo import query
from qbo_backfill.run.session import Session
from qbo_backfill.run.slices import CountedSlice, count_slices, join_empty
from qbo_backfill.windows import ExtractWindow

VERIFICATIONS = "qbo_backfill_verifications"


@dataclass(frozen=True)
class WindowCheck:
    entity: str
    window: ExtractWindow
    source_count: int
    rows_in_table: int
    rows_loaded: int | None

    @property
    def matched(self) -> bool:
        return self.source_count == self.rows_in_table

    def as_dict(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "window": str(self.window),
            "source_count": self.source_count,
            "rows_in_table": self.rows_in_table,
            "rows_loaded": self.rows_loaded,
            "matched": self.matched,
        }


async def verify(
    session: Session,
    entities: tuple[Entity, ...],
    window: ExtractWindow,
    chunk_days: int | None,
) -> list[WindowCheck]:
    """Check every entity over the window (mismatches narrowed down to `chunk_days`, or a
    day when None); record the figures; return them."""
    checks = []
    async with await psycopg.AsyncConnection.connect(session.url) as conn:
        for entity in entities:
            table = RawTable(session.schema, entity)
            await table.create(conn)
            if entity.kind is EntityKind.TRANSACTION:
                checks += await _check_slices(session, conn, table, window, chunk_days or 1)
            else:
                checks.append(await _check_whole(session, conn, table))
        await _record(conn, session.schema, session.realm_id, checks)
    return checks


async def _check_whole(
    session: Session, conn: psycopg.AsyncConnection, table: RawTable
) -> WindowCheck:
    """A list entity, taken whole: one COUNT(*)."""
    window = ExtractWindow.whole()
    source = await session.client.count(query.count_query(table.entity, window))
    in_table = await table.rows_in_window(conn, session.realm_id, window, live=True)
    loaded = await _rows_loaded(conn, session.schema, table.entity, window)
    return WindowCheck(table.entity.name, window, source, in_table, loaded)


async def _check_slices(
    session: Session,
    conn: psycopg.AsyncConnection,
    table: RawTable,
    window: ExtractWindow,
    unit_days: int,
) -> list[WindowCheck]:
    """A transaction entity: slices counted at the source, narrowed where the table differs;
    neighbouring slices empty on both sides shown as one."""
    in_table = DayCounts(await table.rows_by_date(conn, session.realm_id, window))
    slices = await count_slices(
        session.client,
        table.entity,
        window,
        unit_days,
        lambda part, count: count != in_table.within(part),
    )
    checks = []
    for part, source in _join_matched_empty(slices, in_table):
        loaded = await _rows_loaded(conn, session.schema, table.entity, part)
        checks.append(WindowCheck(table.entity.name, part, source, in_table.within(part), loaded))
    return checks


def _join_matched_empty(slices: list[CountedSlice], in_table: DayCounts) -> list[CountedSlice]:
    """Runs of slices empty at the source and in the table joined; every other kept."""

    def empty(counted: CountedSlice) -> bool:
        return counted[1] == 0 and in_table.within(counted[0]) == 0

    joined: list[CountedSlice] = []
    for is_empty, group in itertools.groupby(slices, key=empty):
        run = list(group)
        joined += join_empty(run) if is_empty else run
    return joined


class DayCounts:
    """The table's rows per date (ISO text), answering any window's count by bisection."""

    def __init__(self, per_day: dict[str, int]) -> None:
        self.days = sorted(per_day)
        self.running = list(itertools.accumulate(per_day[d] for d in self.days))

    def within(self, window: ExtractWindow) -> int:
        """Rows whose date is in `[start, end)` (compared as text, as the SQL filter does)."""
        low = bisect.bisect_left(self.days, window.start.isoformat())
        high = bisect.bisect_left(self.days, window.end.isoformat())
        below = self.running[low - 1] if low else 0
        return (self.running[high - 1] if high else 0) - below


async def _rows_loaded(
    conn: psycopg.AsyncConnection, schema: str, entity: Entity, window: ExtractWindow
) -> int | None:
    """Rows the newest done chunks inside this window extracted, per the ledger."""
    cursor = await conn.execute(
        sql.SQL(
            "SELECT sum(rows_extracted) FROM ("
            " SELECT DISTINCT ON (window_start, window_end) rows_extracted FROM {}"
            " WHERE entity = %s AND status = 'done' AND window_start >= %s AND window_end <= %s"
            " ORDER BY window_start, window_end, chunk_id DESC) newest"
        ).format(sql.Identifier(schema, CHUNKS)),
        (entity.name, window.start, window.end),
    )
    row = await cursor.fetchone()
    return int(row[0]) if row and row[0] is not None else None


async def _record(
    conn: psycopg.AsyncConnection, schema: str, realm_id: str, checks: list[WindowCheck]
) -> None:
    table = sql.Identifier(schema, VERIFICATIONS)
    await conn.execute(sql.SQL(_DDL).format(table=table, scope=SCOPE, date_window=DATE_WINDOW))
    async with conn.cursor() as cursor:
        await cursor.executemany(
            sql.SQL(_INSERT).format(table=table),
            [
                (
                    realm_id,
                    c.entity,
                    c.window.start,
                    c.window.end,
                    c.source_count,
                    c.rows_in_table,
                    c.rows_loaded,
                    c.matched,
                )
                for c in checks
            ],
        )
    await conn.commit()


_DDL = """
CREATE TABLE IF NOT EXISTS {table} (
    verification_id BIGSERIAL PRIMARY KEY,
    {scope},
    {date_window},
    source_count BIGINT NOT NULL,
    rows_in_table BIGINT NOT NULL,
    rows_loaded BIGINT,
    matched BOOLEAN NOT NULL,
    verified_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""
_INSERT = """
INSERT INTO {table} (realm_id, entity, window_start, window_end, source_count, rows_in_table,
    rows_loaded, matched) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
"""
