"""The typed views in the report: each view present in the views schema and its rows,
counted in the report's snapshot (so they agree with the runs shown)."""

from __future__ import annotations

import psycopg
from psycopg import sql

from qbo_backfill.views.catalog import definitions

__all__ = ["view_counts"]


def view_counts(conn: psycopg.Connection, views_schema: str) -> list[tuple[str, int]]:
    """(view, rows) of every typed view (plain or materialized) in `views_schema`, in
    catalog order; none when the
    schema holds none (`qbo-backfill views` not run, no backfill since)."""
    present = {
        str(row[0])
        for row in conn.execute(
            "SELECT c.relname FROM pg_class AS c JOIN pg_namespace AS n "
            "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind IN ('v', 'm')",
            (views_schema,),
        ).fetchall()
    }
    counts: list[tuple[str, int]] = []
    for definition in definitions():
        if definition.name in present:
            view = sql.Identifier(views_schema, definition.name)
            row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(view)).fetchone()
            counts.append((definition.name, int(row[0]) if row else 0))
    return counts
