"""Sync cursors: per (realm, entity), the source time before which every change is in the
raw table. A cursor advances in the same transaction as the rows it covers, so a sync
killed at any instant starts again from where its last commit left the table.

Before the first sync an entity has no cursor: it starts from when its backfill read the
source (the earliest start of its done chunks), so nothing changed since then is missed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql

from qbo_backfill.load.columns import SCOPE
from qbo_backfill.load.db import DDL_LOCK, values_rows
from qbo_backfill.load.ledger import CHUNKS, RUNS

__all__ = ["CURSORS", "CursorMove", "SyncCursors"]

CURSORS = "qbo_backfill_sync_cursors"


class SyncCursors:
    """The cursor table of one schema (identifiers quoted)."""

    def __init__(self, schema: str) -> None:
        self.table = sql.Identifier(schema, CURSORS)
        self.runs = sql.Identifier(schema, RUNS)
        self.chunks = sql.Identifier(schema, CHUNKS)

    async def create(self, conn: psycopg.AsyncConnection) -> None:
        await conn.execute(DDL_LOCK)
        await conn.execute(sql.SQL(_DDL).format(table=self.table, scope=SCOPE))

    async def starting_points(
        self, conn: psycopg.AsyncConnection, realm_id: str
    ) -> dict[str, datetime]:
        """Entity -> where its next sync starts: its cursor, or else when its backfill first
        read the source. Entities never copied for the realm are absent."""
        cursor = await conn.execute(
            sql.SQL(_STARTING_POINTS).format(
                cursors=self.table, runs=self.runs, chunks=self.chunks
            ),
            {"realm_id": realm_id},
        )
        return {str(entity): start for entity, start in await cursor.fetchall()}

    async def lock(
        self, conn: psycopg.AsyncConnection, realm_id: str, entities: Sequence[str]
    ) -> None:
        """Serialise syncs of each (realm, entity) until the caller's transaction ends; one
        statement, the locks taken in one order whatever the caller's (no deadlock)."""
        keys = sorted(f"{realm_id}:{entity}" for entity in entities)
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext('qbo_backfill_sync'), hashtext(k))"
            " FROM unnest(%s::text[]) AS k",
            (keys,),
        )

    async def advance(
        self, conn: psycopg.AsyncConnection, realm_id: str, moves: Sequence[CursorMove]
    ) -> None:
        """Move cursors forward (never back), in the caller's transaction."""
        query = sql.SQL(_ADVANCE).format(table=self.table, rows=values_rows(4, len(moves)))
        rows = [(realm_id, m.entity, m.cursor_utc, m.sync_run_id) for m in moves]
        await conn.execute(query, [value for row in rows for value in row])


@dataclass(frozen=True)
class CursorMove:
    """An entity's cursor, and the sync run that moved it there."""

    entity: str
    cursor_utc: datetime
    sync_run_id: int


_DDL = """
CREATE TABLE IF NOT EXISTS {table} (
    {scope},
    cursor_utc TIMESTAMPTZ NOT NULL,
    sync_run_id BIGINT NOT NULL,
    updated_at_utc TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (realm_id, entity)
)
"""
_STARTING_POINTS = """
SELECT entity, coalesce(max(cursor_utc), min(first_read)) FROM (
    SELECT entity, cursor_utc, NULL::timestamptz AS first_read FROM {cursors}
    WHERE realm_id = %(realm_id)s
    UNION ALL
    SELECT c.entity, NULL, c.started_at FROM {chunks} c JOIN {runs} r USING (run_id)
    WHERE r.realm_id = %(realm_id)s AND c.status = 'done'
) known
GROUP BY entity
"""
_ADVANCE = """
INSERT INTO {table} AS t (realm_id, entity, cursor_utc, sync_run_id) VALUES {rows}
ON CONFLICT (realm_id, entity) DO UPDATE SET
    cursor_utc = greatest(t.cursor_utc, EXCLUDED.cursor_utc),
    sync_run_id = EXCLUDED.sync_run_id,
    updated_at_utc = now()
"""
