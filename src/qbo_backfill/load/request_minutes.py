"""The ledger's requests per minute: how many API requests each company was sent in each
wall-clock minute (UTC), added to by every process that serves it. The report's request
rate chart plots these; runs recorded before the table existed fall back to an estimate."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import psycopg
from psycopg import sql

__all__ = ["REQUEST_MINUTES", "add", "create", "read"]

REQUEST_MINUTES = "qbo_backfill_request_minutes"

_DDL = """
CREATE TABLE IF NOT EXISTS {table} (realm_id TEXT NOT NULL, minute TIMESTAMPTZ NOT NULL,
    requests INT NOT NULL, PRIMARY KEY (realm_id, minute))
"""
# Additive: several processes (and several writes of one) add to the same minute.
_ADD = """
INSERT INTO {table} AS t (realm_id, minute, requests) VALUES (%s, %s, %s)
ON CONFLICT (realm_id, minute) DO UPDATE SET requests = t.requests + EXCLUDED.requests
"""
_READ = """
SELECT minute, sum(requests)::int FROM {table}
WHERE realm_id = ANY(%s) AND minute >= %s AND minute <= %s
GROUP BY minute ORDER BY minute
"""


def _table(schema: str) -> sql.Identifier:
    return sql.Identifier(schema, REQUEST_MINUTES)


async def create(conn: psycopg.AsyncConnection, schema: str) -> None:
    """The table, if missing (call under the ledger's DDL lock)."""
    await conn.execute(sql.SQL(_DDL).format(table=_table(schema)))


async def add(
    conn: psycopg.AsyncConnection, schema: str, realm_id: str, counts: Mapping[datetime, int]
) -> None:
    """Add requests to their minutes, in one statement batch."""
    rows = [(realm_id, minute, requests) for minute, requests in sorted(counts.items())]
    if rows:
        async with conn.cursor() as cursor:
            await cursor.executemany(sql.SQL(_ADD).format(table=_table(schema)), rows)


def read(
    conn: psycopg.Connection, schema: str, realm_ids: Sequence[str], start: datetime, end: datetime
) -> list[tuple[datetime, int]]:
    """(minute, requests) of the companies from `start` to `end`, both minutes included."""
    query = sql.SQL(_READ).format(table=_table(schema))
    return [(row[0], int(row[1])) for row in conn.execute(query, (list(realm_ids), start, end))]
