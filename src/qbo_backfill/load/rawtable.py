"""Raw tables, one per entity (`qb_invoice`, ...): DDL and the set-based page upsert."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import psycopg
from psycopg import sql

from qbo_backfill.entities import Entity
from qbo_backfill.load.columns import SCOPE
from qbo_backfill.load.db import DDL_LOCK, fetch_int, has_column
from qbo_backfill.load.records import PreparedPage
from qbo_backfill.windows import ExtractWindow

QUARANTINE_TABLE = "qbo_backfill_quarantine"


@dataclass(frozen=True)
class PageMeta:
    """Where a page came from: recorded on every row it writes."""

    run_id: int
    chunk_id: int
    window: ExtractWindow
    page_number: int
    page_size: int
    request: str


@dataclass(frozen=True)
class UpsertCounts:
    inserted: int
    updated: int
    unchanged: int
    reactivated: int = 0  # rows marked deleted that came back (counted with `count_revivals`)


@dataclass(frozen=True)
class DeleteMark:
    """The source deleted record `id` at `deleted_at_utc` (CDC's tombstone, or when a sync
    found it gone)."""

    id: int
    deleted_at_utc: datetime


class RawTable:
    """One entity's raw table in one schema; every identifier quoted."""

    def __init__(self, schema: str, entity: Entity) -> None:
        self.schema = schema
        self.entity = entity
        self.table = sql.Identifier(schema, entity.table_name)
        self.quarantine = sql.Identifier(schema, QUARANTINE_TABLE)

    async def create(self, conn: psycopg.AsyncConnection) -> None:
        """Create the table, its window index and the quarantine table if missing.

        A table already complete (it has `deleted_at_utc`) is left alone without a statement
        that locks it: `ALTER TABLE` and `CREATE INDEX` lock the table even when they change
        nothing, and a lock taken here while another process writes it can deadlock."""
        table = self.entity.table_name
        if await has_column(conn, self.schema, table, "deleted_at_utc") and await has_column(
            conn, self.schema, QUARANTINE_TABLE, "reason"
        ):
            return
        await conn.execute(DDL_LOCK)
        await conn.execute(
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema))
        )
        await conn.execute(sql.SQL(_TABLE_DDL).format(table=self.table))
        # Tables made before the sync existed gain the column (NULL: every row lives).
        await conn.execute(sql.SQL(_ADD_DELETED_AT).format(table=self.table))
        if self.entity.date_field is not None:
            index = sql.Identifier(f"{self.entity.table_name}_txn_date_idx")
            await conn.execute(
                sql.SQL(_DATE_INDEX).format(
                    index=index, table=self.table, field=sql.Literal(self.entity.date_field)
                )
            )
        await conn.execute(sql.SQL(_QUARANTINE_DDL).format(table=self.quarantine, scope=SCOPE))

    async def upsert_page(
        self,
        conn: psycopg.AsyncConnection,
        realm_id: str,
        page: PreparedPage,
        meta: PageMeta,
        *,
        count_revivals: bool = False,
    ) -> UpsertCounts:
        """One INSERT .. ON CONFLICT of the whole page that only writes rows that are new,
        newer, or changed; an older version never overwrites a newer. A row marked deleted
        that is written again from a version at least as new as its deletion lives again
        (an undo at the source).

        The page goes as three binary arrays (ids, JSON texts, last changes), unnested by
        the statement itself: no staging table to fill, read and empty, and no text to
        escape on our side."""
        revived = sql.SQL(_REVIVED if count_revivals else "0").format(table=self.table)
        counts = (0, 0, 0)
        if page.rows:
            cursor = await conn.execute(
                sql.SQL(_UPSERT).format(table=self.table, revived=revived),
                {
                    "realm_id": realm_id,
                    "ids": [row.id for row in page.rows],
                    "payloads": [row.payload for row in page.rows],
                    "updated": [row.last_updated_utc for row in page.rows],
                    "window_start": meta.window.start_utc,
                    "window_end": meta.window.end_utc,
                    "page_number": meta.page_number,
                    "page_size": meta.page_size,
                    "request": meta.request,
                    "run_id": meta.run_id,
                },
            )
            counts = await cursor.fetchone() or counts
        inserted, written, reactivated = counts
        await self._quarantine(conn, realm_id, page, meta)
        return UpsertCounts(inserted, written - inserted, len(page.rows) - written, reactivated)

    async def _quarantine(
        self, conn: psycopg.AsyncConnection, realm_id: str, page: PreparedPage, meta: PageMeta
    ) -> None:
        if not page.quarantined:
            return
        async with conn.cursor() as cursor:
            await cursor.executemany(
                sql.SQL(_QUARANTINE_INSERT).format(table=self.quarantine),
                [
                    (
                        realm_id,
                        self.entity.name,
                        meta.run_id,
                        meta.chunk_id,
                        q.record_id,
                        q.reason,
                        q.payload,
                    )
                    for q in page.quarantined
                ],
            )

    async def clear_quarantine(self, conn: psycopg.AsyncConnection, chunk_id: int) -> None:
        """Forget what a chunk quarantined, before the chunk's window is paged again."""
        await conn.execute(
            sql.SQL("DELETE FROM {} WHERE chunk_id = %s").format(self.quarantine), (chunk_id,)
        )

    async def rows_in_window(
        self,
        conn: psycopg.AsyncConnection,
        realm_id: str,
        window: ExtractWindow,
        *,
        live: bool = False,
    ) -> int:
        """Rows of the realm that the window selects at the source, counted in the table;
        with `live`, only rows not marked deleted (what the source still holds)."""
        query, params = self._window_filter(realm_id, window)
        if live:
            query = query + sql.SQL(" AND deleted_at_utc IS NULL")
        count = sql.SQL("SELECT count(*) FROM {} WHERE ").format(self.table) + query
        return await fetch_int(conn, count, params)

    async def mark_deleted(
        self, conn: psycopg.AsyncConnection, realm_id: str, marks: list[DeleteMark]
    ) -> int:
        """Mark rows deleted (payload kept); a row already marked, or whose version is newer
        than the delete (it came back since), is left alone. The number marked."""
        if not marks:
            return 0
        cursor = await conn.execute(
            sql.SQL(_MARK_DELETED).format(table=self.table),
            ([m.id for m in marks], [m.deleted_at_utc for m in marks], realm_id),
        )
        return cursor.rowcount

    async def live_ids_in_window(
        self, conn: psycopg.AsyncConnection, realm_id: str, window: ExtractWindow
    ) -> set[int]:
        """Ids of the rows `rows_in_window(live=True)` counts."""
        query, params = self._window_filter(realm_id, window)
        cursor = await conn.execute(
            sql.SQL("SELECT id FROM {} WHERE ").format(self.table)
            + query
            + sql.SQL(" AND deleted_at_utc IS NULL"),
            params,
        )
        return {int(row[0]) for row in await cursor.fetchall()}

    async def live_span(self, conn: psycopg.AsyncConnection, realm_id: str) -> ExtractWindow | None:
        """The smallest window holding every live row of the realm (TxnDate for
        transactions, the last update's UTC date for others); None when there is none."""
        day: sql.Composable
        if self.entity.date_field is not None:
            day = sql.SQL("left(payload->>{}, 10)").format(sql.Literal(self.entity.date_field))
        else:
            day = sql.SQL("to_char(source_last_updated_utc AT TIME ZONE 'UTC', 'YYYY-MM-DD')")
        cursor = await conn.execute(
            sql.SQL(
                "SELECT min({day}), max({day}) FROM {table} "
                "WHERE realm_id = %s AND deleted_at_utc IS NULL"
            ).format(day=day, table=self.table),
            (realm_id,),
        )
        row = await cursor.fetchone()
        try:
            first, last = date.fromisoformat(row[0]), date.fromisoformat(row[1])  # type: ignore[index]
        except (TypeError, ValueError):
            return None  # no live row, or a date QBO would not have sent
        return ExtractWindow(first, date.fromordinal(last.toordinal() + 1))

    async def rows_by_date(
        self, conn: psycopg.AsyncConnection, realm_id: str, window: ExtractWindow
    ) -> dict[str, int]:
        """Live rows of the realm in the window, per value of the entity's date field (as the
        text QBO gave): one scan answers the table's count of any slice of the window."""
        if self.entity.date_field is None:
            raise ValueError(f"{self.entity.name} has no date field to count rows by")
        query, params = self._window_filter(realm_id, window)
        day = sql.SQL("payload->>{}").format(sql.Literal(self.entity.date_field))
        cursor = await conn.execute(
            sql.SQL("SELECT {day}, count(*) FROM {table} WHERE ").format(day=day, table=self.table)
            + query
            + sql.SQL(" AND deleted_at_utc IS NULL GROUP BY 1"),
            params,
        )
        return {str(row[0]): int(row[1]) for row in await cursor.fetchall()}

    def _window_filter(self, realm_id: str, window: ExtractWindow) -> tuple[sql.Composable, tuple]:
        if window.is_whole:
            return sql.SQL("realm_id = %s"), (realm_id,)
        if self.entity.date_field is not None:
            return (
                sql.SQL(
                    "realm_id = %s AND payload->>{field} >= %s AND payload->>{field} < %s"
                ).format(field=sql.Literal(self.entity.date_field)),
                (realm_id, window.start.isoformat(), window.end.isoformat()),
            )
        return (
            sql.SQL(
                "realm_id = %s AND source_last_updated_utc >= %s AND source_last_updated_utc < %s"
            ),
            (realm_id, window.start_utc, window.end_utc),
        )


_TABLE_DDL = """
CREATE TABLE IF NOT EXISTS {table} (
    realm_id TEXT NOT NULL,
    id BIGINT NOT NULL,
    payload JSONB NOT NULL,
    ingested_at_utc TIMESTAMPTZ NOT NULL,
    extract_window_start_utc TIMESTAMPTZ NOT NULL,
    extract_window_end_utc TIMESTAMPTZ NOT NULL,
    page_number INT NOT NULL,
    page_size INT NOT NULL,
    request_payload TEXT NOT NULL,
    source_last_updated_utc TIMESTAMPTZ NOT NULL,
    run_id BIGINT NOT NULL,
    deleted_at_utc TIMESTAMPTZ,
    PRIMARY KEY (realm_id, id)
)
"""
_ADD_DELETED_AT = "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS deleted_at_utc TIMESTAMPTZ"
_DATE_INDEX = "CREATE INDEX IF NOT EXISTS {index} ON {table} (realm_id, (payload->>{field}))"
_QUARANTINE_DDL = """
CREATE TABLE IF NOT EXISTS {table} (
    quarantine_id BIGSERIAL PRIMARY KEY,
    {scope},
    run_id BIGINT NOT NULL,
    chunk_id BIGINT NOT NULL,
    record_id TEXT,
    reason TEXT NOT NULL,
    payload TEXT NOT NULL,
    quarantined_at_utc TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""
_QUARANTINE_INSERT = """
INSERT INTO {table} (realm_id, entity, run_id, chunk_id, record_id, reason, payload)
VALUES (%s, %s, %s, %s, %s, %s, %s)
"""
# The page's rows, from the three arrays `upsert_page` sends.
_PAGE = """
SELECT %(realm_id)s::text AS realm_id, s.id, s.payload::jsonb AS payload,
    s.source_last_updated_utc
FROM unnest(%(ids)b::bigint[], %(payloads)b::text[], %(updated)b::timestamptz[])
    AS s (id, payload, source_last_updated_utc)
"""
_UPSERT = (
    "WITH page AS ("
    + _PAGE
    + """), written AS (
    INSERT INTO {table} AS t (realm_id, id, payload, ingested_at_utc, extract_window_start_utc,
        extract_window_end_utc, page_number, page_size, request_payload,
        source_last_updated_utc, run_id)
    SELECT realm_id, id, payload, now(), %(window_start)s, %(window_end)s, %(page_number)s,
        %(page_size)s, %(request)s, source_last_updated_utc, %(run_id)s
    FROM page
    ON CONFLICT (realm_id, id) DO UPDATE SET
        payload = EXCLUDED.payload,
        ingested_at_utc = EXCLUDED.ingested_at_utc,
        extract_window_start_utc = EXCLUDED.extract_window_start_utc,
        extract_window_end_utc = EXCLUDED.extract_window_end_utc,
        page_number = EXCLUDED.page_number,
        page_size = EXCLUDED.page_size,
        request_payload = EXCLUDED.request_payload,
        source_last_updated_utc = EXCLUDED.source_last_updated_utc,
        run_id = EXCLUDED.run_id,
        deleted_at_utc = CASE WHEN EXCLUDED.source_last_updated_utc < t.deleted_at_utc
                              THEN t.deleted_at_utc END
    WHERE t.source_last_updated_utc < EXCLUDED.source_last_updated_utc
       OR (t.source_last_updated_utc = EXCLUDED.source_last_updated_utc
           AND t.payload IS DISTINCT FROM EXCLUDED.payload)
    RETURNING (xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted), count(*), {revived} FROM written
"""
)
# Rows marked deleted that the upsert makes live again (same rule as there). Part of the
# same statement, it sees the table as it was before the upsert.
_REVIVED = """(
SELECT count(*) FROM page s JOIN {table} t ON t.realm_id = s.realm_id AND t.id = s.id
WHERE t.deleted_at_utc IS NOT NULL AND s.source_last_updated_utc >= t.deleted_at_utc
  AND (t.source_last_updated_utc < s.source_last_updated_utc
       OR (t.source_last_updated_utc = s.source_last_updated_utc
           AND t.payload IS DISTINCT FROM s.payload))
)"""
_MARK_DELETED = """
UPDATE {table} t SET deleted_at_utc = d.at
FROM unnest(%s::bigint[], %s::timestamptz[]) AS d (id, at)
WHERE t.realm_id = %s AND t.id = d.id AND t.deleted_at_utc IS NULL
  AND t.source_last_updated_utc <= d.at
"""
