"""The ledger: runs and chunks, so a backfill is resumable and its evidence is kept.

A run is identified by what it asks for (realm, entity, window, options): asking again
resumes the newest run with that key, skipping done chunks; `force` starts a new run.
A chunk is claimed with a session-level advisory lock, so a crashed worker's chunks are
free again the moment its connection drops, and two workers never process one at once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from qbo_backfill.figures import ChunkFigures, ChunkRow, EntityTotals, RequestFigures
from qbo_backfill.load.columns import DATE_WINDOW, SCOPE
from qbo_backfill.load.db import DDL_LOCK
from qbo_backfill.load.pools import note_session_lock
from qbo_backfill.windows import ExtractWindow

RUNS = "qbo_backfill_runs"
CHUNKS = "qbo_backfill_chunks"


def lock_namespace(schema: str) -> sql.Composable:
    """First key of our advisory locks. Advisory locks span the whole database, so the key
    names the schema: runs in two schemas of one database never take each other's locks."""
    return sql.SQL("hashtext({})").format(sql.Literal(f"qbo_backfill:{schema}"))


@dataclass(frozen=True)
class RunRequest:
    """What a run asks for; its key makes a second identical request resume the first."""

    realm_id: str
    entity: str
    window: ExtractWindow
    chunk_days: int | None  # None: auto, sized from COUNT(*)
    page_size: int

    @property
    def key(self) -> str:
        text = json.dumps(
            self.options
            | {
                "realm_id": self.realm_id,
                "entity": self.entity,
                "start": str(self.window.start),
                "end": str(self.window.end),
            },
            sort_keys=True,
        )
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def options(self) -> dict[str, Any]:
        return {"chunk_days": self.chunk_days or "auto", "page_size": self.page_size}


@dataclass(frozen=True)
class Run:
    """A ledger run: planned once, then its chunks are claimed one by one."""

    run_id: int
    planned: bool
    status: str


@dataclass(frozen=True)
class Chunk:
    """A chunk to claim: its window, status, and the source count planning found."""

    chunk_id: int
    run_id: int
    entity: str
    window: ExtractWindow
    status: str
    planned_count: int | None


class Ledger:
    """Ledger tables in one schema (identifiers quoted)."""

    def __init__(self, schema: str) -> None:
        self.schema = schema
        self.runs = sql.Identifier(schema, RUNS)
        self.chunks = sql.Identifier(schema, CHUNKS)
        self.lock_namespace = lock_namespace(schema)

    async def create(self, conn: psycopg.AsyncConnection) -> None:
        await conn.execute(DDL_LOCK)
        await conn.execute(
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema))
        )
        await conn.execute(
            sql.SQL(_RUNS_DDL).format(runs=self.runs, scope=SCOPE, date_window=DATE_WINDOW)
        )
        await conn.execute(
            sql.SQL(_CHUNKS_DDL).format(chunks=self.chunks, runs=self.runs, date_window=DATE_WINDOW)
        )

    async def open_run(
        self, conn: psycopg.AsyncConnection, request: RunRequest, *, force: bool, session_id: str
    ) -> Run:
        """The newest run with this request's key, or a new one (always new with `force`)."""
        async with conn.transaction():
            # Serialise concurrent openers of the same key, so both resume one run.
            await conn.execute(
                sql.SQL("SELECT pg_advisory_xact_lock({}, hashtext(%s))").format(
                    self.lock_namespace
                ),
                (request.key,),
            )
            existing = None if force else await self._latest_run(conn, request.key)
            if existing is not None:
                await conn.execute(
                    sql.SQL(
                        "UPDATE {} SET session_id = %s, finished_at = NULL "
                        "WHERE run_id = %s AND status <> 'done'"
                    ).format(self.runs),
                    (session_id, existing.run_id),
                )
                return existing
            cursor = await conn.execute(
                sql.SQL(_INSERT_RUN).format(runs=self.runs),
                {
                    "key": request.key,
                    "realm_id": request.realm_id,
                    "entity": request.entity,
                    "start": request.window.start,
                    "end": request.window.end,
                    "options": json.dumps(request.options),
                    "session_id": session_id,
                },
            )
            (run_id,) = await cursor.fetchone() or (None,)
            return Run(int(run_id), planned=False, status="running")

    async def _latest_run(self, conn: psycopg.AsyncConnection, key: str) -> Run | None:
        cursor = await conn.execute(
            sql.SQL(
                "SELECT run_id, planned, status FROM {} WHERE run_key = %s "
                "ORDER BY run_id DESC LIMIT 1"
            ).format(self.runs),
            (key,),
        )
        row = await cursor.fetchone()
        return Run(row[0], row[1], row[2]) if row else None

    async def plan(
        self,
        conn: psycopg.AsyncConnection,
        run: Run,
        entity: str,
        windows: list[tuple[ExtractWindow, int | None]],  # with their counts, when known
    ) -> None:
        """Insert the run's chunks (once: a second planner finds them there)."""
        async with conn.transaction():
            await conn.execute(
                sql.SQL("SELECT 1 FROM {} WHERE run_id = %s FOR UPDATE").format(self.runs),
                (run.run_id,),
            )
            async with conn.cursor() as cursor:
                await cursor.executemany(
                    sql.SQL(_INSERT_CHUNK).format(chunks=self.chunks),
                    [(run.run_id, entity, w.start, w.end, count) for w, count in windows],
                )
            await conn.execute(
                sql.SQL("UPDATE {} SET planned = true WHERE run_id = %s").format(self.runs),
                (run.run_id,),
            )

    async def chunks_of(self, conn: psycopg.AsyncConnection, run_id: int) -> list[Chunk]:
        cursor = await conn.execute(
            sql.SQL(
                "SELECT chunk_id, run_id, entity, window_start, window_end, status, planned_count "
                "FROM {} WHERE run_id = %s ORDER BY window_start"
            ).format(self.chunks),
            (run_id,),
        )
        return [
            Chunk(r[0], r[1], r[2], ExtractWindow(r[3], r[4]), r[5], r[6])
            for r in await cursor.fetchall()
        ]

    async def try_claim(
        self, conn: psycopg.AsyncConnection, chunk: Chunk, *, wait: bool = False
    ) -> bool:
        """Lock the chunk for this connection's session; False if another worker has it or
        it is already done. Marks it running and counts the attempt (committed at once).
        With `wait`, block until another worker holding it lets go, then decide."""
        # pg_advisory_lock returns nothing (void) once it holds the lock: select true then.
        claim = "SELECT true FROM pg_advisory_lock({}, %s)"
        note_session_lock(conn)
        if not wait:
            claim = "SELECT pg_try_advisory_lock({}, %s)"
        cursor = await conn.execute(sql.SQL(claim).format(self.lock_namespace), (chunk.chunk_id,))
        row = await cursor.fetchone()
        if not row or not row[0]:
            await conn.commit()
            return False
        cursor = await conn.execute(
            sql.SQL(
                "UPDATE {} SET status = 'running', attempts = attempts + 1, started_at = now(), "
                "last_error = NULL WHERE chunk_id = %s AND status <> 'done' RETURNING chunk_id"
            ).format(self.chunks),
            (chunk.chunk_id,),
        )
        claimed = await cursor.fetchone() is not None
        await conn.commit()
        if not claimed:
            await self.release(conn, chunk)
        return claimed

    async def release(self, conn: psycopg.AsyncConnection, chunk: Chunk) -> None:
        await conn.execute(
            sql.SQL("SELECT pg_advisory_unlock({}, %s)").format(self.lock_namespace),
            (chunk.chunk_id,),
        )
        await conn.commit()

    async def mark_done(
        self, conn: psycopg.AsyncConnection, chunk: Chunk, figures: ChunkFigures
    ) -> None:
        """Record a chunk's figures and 'done' — in the caller's transaction with its rows."""
        await conn.execute(
            sql.SQL(_MARK_DONE).format(chunks=self.chunks),
            figures.as_params() | {"chunk_id": chunk.chunk_id},
        )

    async def mark_failed(
        self, conn: psycopg.AsyncConnection, chunk: Chunk, error: str, spent: RequestFigures
    ) -> None:
        await conn.execute(
            sql.SQL(_MARK_FAILED).format(chunks=self.chunks),
            asdict(spent) | {"chunk_id": chunk.chunk_id, "error": error[:2000]},
        )
        await conn.commit()

    async def finish_run(self, conn: psycopg.AsyncConnection, run: Run) -> EntityTotals:
        """Set the run's status from its chunks; return the run's totals."""
        cursor = await conn.cursor(row_factory=dict_row).execute(
            sql.SQL(_FINISH_RUN).format(runs=self.runs, chunks=self.chunks), {"run_id": run.run_id}
        )
        row = await cursor.fetchone()
        await conn.commit()
        return EntityTotals.from_record(row or {})

    async def finish_if_complete(self, conn: psycopg.AsyncConnection, run_id: int) -> None:
        """`finish_run`, in one statement, once every chunk of the run is done."""
        await conn.execute(
            sql.SQL(_FINISH_RUN_IF_COMPLETE).format(runs=self.runs, chunks=self.chunks),
            {"run_id": run_id},
        )
        await conn.commit()

    async def chunk_rows(self, conn: psycopg.AsyncConnection, run_id: int) -> list[ChunkRow]:
        """Every chunk of a run with all its figures, in window order."""
        cursor = await conn.cursor(row_factory=dict_row).execute(
            sql.SQL("SELECT * FROM {} WHERE run_id = %s ORDER BY window_start").format(self.chunks),
            (run_id,),
        )
        return [ChunkRow.from_record(row) for row in await cursor.fetchall()]


_RUNS_DDL = """
CREATE TABLE IF NOT EXISTS {runs} (
    run_id BIGSERIAL PRIMARY KEY,
    run_key TEXT NOT NULL,
    {scope},
    {date_window},
    options JSONB NOT NULL,
    session_id TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'running',
    planned BOOLEAN NOT NULL DEFAULT false,
    chunks_total INT NOT NULL DEFAULT 0,
    chunks_done INT NOT NULL DEFAULT 0,
    rows_extracted BIGINT NOT NULL DEFAULT 0,
    source_count BIGINT NOT NULL DEFAULT 0,
    rows_in_table BIGINT NOT NULL DEFAULT 0,
    mismatches INT NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS qbo_backfill_runs_key_idx ON {runs} (run_key, run_id);
-- A sync finds a company's runs by realm (where each entity starts): without it, every
-- company's sync read every company's runs.
CREATE INDEX IF NOT EXISTS qbo_backfill_runs_realm_idx ON {runs} (realm_id, entity)
"""
_CHUNKS_DDL = """
CREATE TABLE IF NOT EXISTS {chunks} (
    chunk_id BIGSERIAL PRIMARY KEY,
    run_id BIGINT NOT NULL REFERENCES {runs} (run_id),
    entity TEXT NOT NULL,
    {date_window},
    status TEXT NOT NULL DEFAULT 'pending',
    planned_count BIGINT,
    pages INT NOT NULL DEFAULT 0,
    rows_extracted BIGINT NOT NULL DEFAULT 0,
    rows_inserted BIGINT NOT NULL DEFAULT 0,
    rows_updated BIGINT NOT NULL DEFAULT 0,
    rows_unchanged BIGINT NOT NULL DEFAULT 0,
    rows_quarantined BIGINT NOT NULL DEFAULT 0,
    source_duplicates BIGINT NOT NULL DEFAULT 0,
    source_count BIGINT,
    source_count_after BIGINT,
    rows_in_table BIGINT,
    matched BOOLEAN,
    refetches INT NOT NULL DEFAULT 0,
    attempts INT NOT NULL DEFAULT 0,
    api_calls INT NOT NULL DEFAULT 0,
    throttled INT NOT NULL DEFAULT 0,
    retries INT NOT NULL DEFAULT 0,
    last_error TEXT,
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    duration_ms BIGINT,
    UNIQUE (run_id, entity, window_start, window_end)
)
"""
_INSERT_RUN = """
INSERT INTO {runs} (run_key, realm_id, entity, window_start, window_end, options, session_id)
VALUES (%(key)s, %(realm_id)s, %(entity)s, %(start)s, %(end)s, %(options)s, %(session_id)s)
RETURNING run_id
"""
_INSERT_CHUNK = """
INSERT INTO {chunks} (run_id, entity, window_start, window_end, planned_count)
VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING
"""
_MARK_DONE = """
UPDATE {chunks} SET status = 'done', pages = %(pages)s, rows_extracted = %(rows_extracted)s,
    rows_inserted = %(rows_inserted)s, rows_updated = %(rows_updated)s,
    rows_unchanged = %(rows_unchanged)s, rows_quarantined = %(rows_quarantined)s,
    source_duplicates = %(source_duplicates)s, source_count = %(source_count)s,
    source_count_after = %(source_count_after)s, rows_in_table = %(rows_in_table)s,
    matched = %(matched)s, refetches = %(refetches)s, api_calls = api_calls + %(api_calls)s,
    throttled = throttled + %(throttled)s, retries = retries + %(retries)s, last_error = NULL,
    finished_at = clock_timestamp(),
    duration_ms = (extract(epoch FROM clock_timestamp() - started_at) * 1000)::bigint
WHERE chunk_id = %(chunk_id)s
"""
_MARK_FAILED = """
UPDATE {chunks} SET status = 'failed', last_error = %(error)s,
    api_calls = api_calls + %(api_calls)s, throttled = throttled + %(throttled)s,
    retries = retries + %(retries)s, finished_at = clock_timestamp(),
    duration_ms = (extract(epoch FROM clock_timestamp() - started_at) * 1000)::bigint
WHERE chunk_id = %(chunk_id)s AND status <> 'done'
"""
_FINISH_RUN_UPDATE = """
UPDATE {runs} r SET
    chunks_total = c.total, chunks_done = c.done, rows_extracted = c.rows_extracted,
    source_count = c.source_count, rows_in_table = c.rows_in_table, mismatches = c.mismatches,
    status = CASE WHEN c.done = c.total AND c.mismatches = 0 THEN 'done'
                  WHEN c.done = c.total THEN 'mismatch' ELSE 'failed' END,
    finished_at = clock_timestamp()
FROM (SELECT count(*) AS total,
             count(*) FILTER (WHERE status = 'done') AS done,
             coalesce(sum(rows_extracted), 0) AS rows_extracted,
             coalesce(sum(source_count_after), 0) AS source_count,
             coalesce(sum(rows_in_table), 0) AS rows_in_table,
             count(*) FILTER (WHERE matched IS false) AS mismatches
      FROM {chunks} WHERE run_id = %(run_id)s) c
WHERE r.run_id = %(run_id)s
"""
_FINISH_RUN = _FINISH_RUN_UPDATE + "RETURNING r.*"
_FINISH_RUN_IF_COMPLETE = _FINISH_RUN_UPDATE + "AND c.done = c.total"
