"""Sync runs in the report: the newest rows of the sync runs table (per entity: what changed,
the cursor, how far behind the source the copy was)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from qbo_backfill.load.syncruns import SYNC_RUNS, SyncFigures, SyncRecord
from qbo_backfill.report.checks import table_exists

__all__ = ["MAX_SYNC_ROWS", "sync_runs"]

# The report shows the newest sync rows, not a company's whole history.
MAX_SYNC_ROWS = 50
_FIGURES = [f.name for f in fields(SyncFigures)]


def sync_runs(conn: psycopg.Connection, schema: str) -> list[SyncRecord]:
    """The newest sync rows, newest first; none when no sync has run in the schema."""
    if not table_exists(conn, schema, SYNC_RUNS):
        return []
    query = sql.SQL("SELECT * FROM {} ORDER BY sync_run_id DESC LIMIT %s").format(
        sql.Identifier(schema, SYNC_RUNS)
    )
    rows = conn.cursor(row_factory=dict_row).execute(query, (MAX_SYNC_ROWS,)).fetchall()
    return [_record(row) for row in rows]


def _record(row: dict[str, Any]) -> SyncRecord:
    figures = SyncFigures(**{name: int(row[name]) for name in _FIGURES})
    return SyncRecord(
        int(row["sync_run_id"]),
        row["session_id"],
        row["realm_id"],
        row["entity"],
        row["path"],
        row["cursor_before"],
        row["cursor_after"],
        float(row["lag_seconds"]),
        figures,
        row["status"],
        row["error"],
    )
