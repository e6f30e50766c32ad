"""Columns several tables share, declared once and spliced into their DDL.

Cursors, quarantined records, sync runs, backfill runs and verifications each belong to
one realm and one entity (`SCOPE`); backfill runs, their chunks and verifications cover
local dates `[window_start, window_end)` (`DATE_WINDOW`). Each fragment stands where the
table has always had those columns, so no table's column order changes.
"""

from __future__ import annotations

from psycopg import sql

__all__ = ["DATE_WINDOW", "SCOPE"]

SCOPE = sql.SQL("realm_id TEXT NOT NULL,\n    entity TEXT NOT NULL")
DATE_WINDOW = sql.SQL("window_start DATE NOT NULL,\n    window_end DATE NOT NULL")
