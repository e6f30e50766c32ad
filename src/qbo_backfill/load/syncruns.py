"""Sync runs: one ledger row per entity per sync, the evidence `report` shows (what changed,
which path, how far the copy had fallen behind, what it cost in calls).

A sync run's id is drawn from the backfill runs' sequence, so the `run_id` of a raw row
names exactly one run: a backfill run or a sync run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime

import psycopg
from psycopg import sql

from qbo_backfill.load.columns import SCOPE
from qbo_backfill.load.db import DDL_LOCK, values_rows
from qbo_backfill.load.ledger import RUNS

__all__ = ["QUIET", "SYNC_RUNS", "SyncFigures", "SyncRecord", "SyncRuns"]

SYNC_RUNS = "qbo_backfill_sync_runs"
# A sync run that wrote nothing to the raw table (most of a fleet's hourly syncs): the rows
# the worker prunes after `worker --keep-quiet-syncs-days` (load/quietsyncs.py), indexed
# alone by age.
QUIET = (
    "status = 'done' AND inserted = 0 AND updated = 0 AND deleted = 0 AND reactivated = 0 "
    "AND quarantined = 0"
)


@dataclass(frozen=True)
class SyncFigures:
    """What a sync did to one entity's raw table, and what it cost."""

    inserted: int = 0
    """Records new to the raw table: created at the source, or never copied before."""
    updated: int = 0
    """Rows changed in place, reactivations left out."""
    unchanged: int = 0
    """Changed records the table already held as sent (or newer), left as they were."""
    deleted: int = 0
    """Rows marked deleted (kept, with the time), for a delete CDC reported or a record
    gone from a window read whole."""
    reactivated: int = 0
    """Rows marked deleted that came back at the source (not counted in `updated`)."""
    quarantined: int = 0
    """Records kept aside with the reason instead of loaded."""
    answers: int = 0
    """CDC answers and query pages read for this entity."""
    windows_read: int = 0
    """Windows read whole to find records deleted out of CDC's reach."""
    api_calls: int = 0
    """Calls this entity took part in (a shared call counts on each)."""

    def plus(self, other: SyncFigures) -> SyncFigures:
        """Both added up, field by field."""
        return SyncFigures(*(a + b for a, b in zip(self.values(), other.values(), strict=True)))

    def values(self) -> tuple[int, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))

    def with_calls(self, calls: int) -> SyncFigures:
        return replace(self, api_calls=self.api_calls + calls)

    @property
    def rows_written(self) -> int:
        return self.inserted + self.updated + self.deleted + self.reactivated


@dataclass(frozen=True)
class SyncRecord:
    """One entity's sync: the row of the sync runs table."""

    sync_run_id: int
    session_id: str
    realm_id: str
    entity: str
    path: str  # cdc | cdc-per-entity | cdc+last-updated | last-updated
    cursor_before: datetime
    cursor_after: datetime
    lag_seconds: float  # how far behind the source the copy was when the sync began
    figures: SyncFigures
    status: str = "done"
    error: str | None = None


class SyncRuns:
    """The sync runs table of one schema (identifiers quoted)."""

    def __init__(self, schema: str) -> None:
        self.table = sql.Identifier(schema, SYNC_RUNS)
        self.runs = sql.Identifier(schema, RUNS)

    async def create(self, conn: psycopg.AsyncConnection) -> None:
        await conn.execute(DDL_LOCK)
        await conn.execute(
            sql.SQL(_DDL).format(table=self.table, scope=SCOPE, quiet=sql.SQL(QUIET))
        )

    async def next_ids(self, conn: psycopg.AsyncConnection, count: int) -> list[int]:
        """`count` fresh ids from the backfill runs' sequence (outside any transaction's
        reach), in one statement."""
        cursor = await conn.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'run_id')) FROM generate_series(1, %s)",
            (self.runs.as_string(conn), count),
        )
        return [int(row[0]) for row in await cursor.fetchall()]

    async def record(self, conn: psycopg.AsyncConnection, records: Sequence[SyncRecord]) -> None:
        """Insert the rows, in the caller's transaction (with the rows and the cursors)."""
        rows = [_row(record) for record in records]
        query = sql.SQL(_INSERT).format(
            table=self.table, rows=values_rows(len(_COLUMNS), len(rows))
        )
        await conn.execute(query, [value for row in rows for value in row])


def _row(record: SyncRecord) -> tuple[object, ...]:
    """The record's values in `_COLUMNS`' order."""
    r = record
    head = (r.sync_run_id, r.session_id, r.realm_id, r.entity, r.path, r.status)
    return (*head, r.cursor_before, r.cursor_after, r.lag_seconds, *r.figures.values(), r.error)


_DDL = """
CREATE TABLE IF NOT EXISTS {table} (
    sync_run_id BIGINT PRIMARY KEY,
    session_id TEXT NOT NULL,
    {scope},
    path TEXT NOT NULL,
    status TEXT NOT NULL,
    cursor_before TIMESTAMPTZ NOT NULL,
    cursor_after TIMESTAMPTZ NOT NULL,
    lag_seconds DOUBLE PRECISION NOT NULL,
    inserted BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    unchanged BIGINT NOT NULL,
    deleted BIGINT NOT NULL,
    reactivated BIGINT NOT NULL,
    quarantined BIGINT NOT NULL,
    answers INT NOT NULL,
    windows_read INT NOT NULL,
    api_calls INT NOT NULL,
    error TEXT,
    finished_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS qbo_backfill_sync_runs_entity_idx ON {table} (realm_id, entity);
CREATE INDEX IF NOT EXISTS qbo_backfill_sync_runs_quiet_idx ON {table} (finished_at)
    WHERE {quiet}
"""
_COLUMNS = (
    "sync_run_id",
    "session_id",
    "realm_id",
    "entity",
    "path",
    "status",
    "cursor_before",
    "cursor_after",
    "lag_seconds",
    *(f.name for f in fields(SyncFigures)),
    "error",
)
_INSERT = f"""
INSERT INTO {{table}} ({", ".join(_COLUMNS)})
VALUES {{rows}}
"""
