"""`verify`: per window, the source's COUNT(*) against rows loaded and rows in the table.

The figures are written to the ledger table `qbo_backfill_verifications`, so the evidence
of a complete copy outlives the terminal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from qbo_backfill.entities import Entity, EntityKind
from qbo_backfill.load.ledger import CHUNKS
from qbo_backfill.load.rawtable import RawTable
from qbo_backfill.qbo import query
from qbo_backfill.run.session import Session
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
    session: Session, entities: tuple[Entity, ...], window: ExtractWindow, chunk_days: int
) -> list[WindowCheck]:
    """Check every window of every entity; record the figures; return them."""
    checks = []
    async with await psycopg.AsyncConnection.connect(session.url) as conn:
        for entity in entities:
            windows = (
                window.split(chunk_days)
                if entity.kind is EntityKind.TRANSACTION
                else [ExtractWindow.whole()]
            )
            for each in windows:
                checks.append(await _check(session, conn, entity, each))
        await _record(conn, session.schema, session.realm_id, checks)
    return checks


async def _check(
    session: Session, conn: psycopg.AsyncConnection, entity: Entity, window: ExtractWindow
) -> WindowCheck:
    table = RawTable(session.schema, entity)
    await table.create(conn)
    source = await session.client.count(query.count_query(entity, window))
    in_table = await table.rows_in_window(conn, session.realm_id, window, live=True)
    loaded = await _rows_loaded(conn, session.schema, entity, window)
    return WindowCheck(entity.name, window, source, in_table, loaded)


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
    await conn.execute(sql.SQL(_DDL).format(table=table))
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
    realm_id TEXT NOT NULL,
    entity TEXT NOT NULL,
    window_start DATE NOT NULL,
    window_end DATE NOT NULL,
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
