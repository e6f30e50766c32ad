"""Companies that need re-authorization: one company's `invalid_grant` marks it here, its
jobs stop at once, and every other company goes on. A new refresh token clears the mark."""

from __future__ import annotations

from collections.abc import Iterable

import psycopg
from psycopg import sql

__all__ = ["REAUTH_TABLE", "ReauthMarks"]

REAUTH_TABLE = "qbo_backfill_reauthorize"


class ReauthMarks:
    """The marks of one schema: realm id, why, since when."""

    def __init__(self, schema: str) -> None:
        self.table = sql.Identifier(schema, REAUTH_TABLE)

    async def create(self, conn: psycopg.AsyncConnection) -> None:
        await conn.execute(sql.SQL(_DDL).format(table=self.table))

    async def mark(self, conn: psycopg.AsyncConnection, realm_id: str, reason: str) -> None:
        """Mark `realm_id` (committed at once: the company's other jobs must see it)."""
        await conn.execute(sql.SQL(_MARK).format(table=self.table), (realm_id, reason[:500]))
        await conn.commit()

    async def reason(self, conn: psycopg.AsyncConnection, realm_id: str) -> str | None:
        cursor = await conn.execute(
            sql.SQL("SELECT reason FROM {} WHERE realm_id = %s").format(self.table), (realm_id,)
        )
        row = await cursor.fetchone()
        return str(row[0]) if row else None

    def clear(self, conn: psycopg.Connection, realm_ids: Iterable[str]) -> None:
        """Forget the marks of companies that were given a new refresh token."""
        exists = conn.execute("SELECT to_regclass(%s)", (self.table.as_string(conn),)).fetchone()
        if exists is None or exists[0] is None:
            return  # no fleet has run here: nothing is marked
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE realm_id = ANY(%s)").format(self.table),
            (list(realm_ids),),
        )


_DDL = """
CREATE TABLE IF NOT EXISTS {table} (
    realm_id TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    marked_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""
_MARK = """
INSERT INTO {table} (realm_id, reason) VALUES (%s, %s)
ON CONFLICT (realm_id) DO UPDATE SET reason = EXCLUDED.reason, marked_at = now()
"""
