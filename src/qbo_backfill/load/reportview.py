"""The `report_row` view (in the typed-views schema) over the stored reports, and the check
that every stored report adds up, stated as the SQL of its difference set.

The view reads the cells `load/reportflat.py` wrote at ingest (`qb_report_row`): the
flattening rules live in Python alone, where they are unit-tested on documented and odd
shapes; the view only joins each cell to its report's keys.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from qbo_backfill.load.reportstore import REPORTS, ROWS, ensure_report_tables

__all__ = [
    "REPORT_ROW_COLUMNS",
    "REPORT_ROW_KEYS",
    "REPORT_ROW_VIEW",
    "create_report_row_view",
    "report_row_select",
    "sections_not_adding_up",
    "sections_not_adding_up_async",
]

REPORT_ROW_VIEW = "report_row"

# The view's columns and their PostgreSQL types, in order (DESIGN.md, "Reports and money").
REPORT_ROW_COLUMNS: tuple[tuple[str, str], ...] = (
    ("realm_id", "text"),
    ("report_name", "text"),
    ("accounting_method", "text"),
    ("period_start", "date"),
    ("period_end", "date"),
    ("column_index", "integer"),
    ("column_key", "text"),
    ("column_title", "text"),
    ("column_start_date", "date"),
    ("column_end_date", "date"),
    ("section_id", "text"),
    ("row_path", "text[]"),
    ("row_kind", "text"),
    ("row_group", "text"),
    ("account_id", "text"),
    ("account_name", "text"),
    ("txn_type", "text"),
    ("txn_id", "text"),
    ("value", "text"),
    ("amount", "numeric"),
    ("report_id", "bigint"),
    ("ordinal", "integer"),
)
REPORT_ROW_KEYS = ("report_id", "ordinal")
_FROM_REPORT = ("realm_id", "report_name", "accounting_method", "period_start", "period_end")


# A section's summary, per column, against its parts: the header's own amount, the data
# rows directly in it, the summaries of the sections directly in it. Computed lines
# (a section holding only a summary) and running balances (`rbal_*`) are not sums.
_NOT_ADDING_UP = """
WITH cells AS (
    SELECT report_id, section_id, column_index, column_key, row_kind, amount
    FROM {rows} WHERE section_id IS NOT NULL
),
summaries AS (
    SELECT report_id, section_id, column_index, amount FROM cells
    WHERE row_kind = 'summary' AND amount IS NOT NULL
      AND coalesce(column_key, '') NOT LIKE 'rbal%%'
),
parts AS (
    SELECT report_id, section_id, column_index, amount FROM cells
    WHERE row_kind <> 'summary'
    UNION ALL
    SELECT report_id, regexp_replace(section_id, '\\.[0-9]+$', ''), column_index, amount
    FROM cells WHERE row_kind = 'summary' AND section_id LIKE '%%.%%'
)
SELECT r.realm_id, r.report_name, r.accounting_method, r.period_start, r.period_end,
       s.section_id, s.column_index, s.amount AS summary,
       coalesce(sum(p.amount), 0) AS parts
FROM summaries AS s
JOIN parts AS p USING (report_id, section_id, column_index)
JOIN {reports} AS r ON r.id = s.report_id
GROUP BY r.realm_id, r.report_name, r.accounting_method, r.period_start, r.period_end,
         s.report_id, s.section_id, s.column_index, s.amount
HAVING s.amount <> coalesce(sum(p.amount), 0)
ORDER BY 1, 2, 3, 4, 6, 7
"""


def report_row_select(
    reports: sql.Composable | None, rows: sql.Composable | None, realm: str | None = None
) -> sql.Composable:
    """The view's SELECT over the two tables (qualified), one company's rows when `realm` is
    given; with a table missing, the same typed columns and no row (so the typed-views
    installer can make it before any report is copied)."""
    if reports is None or rows is None:
        typed = sql.SQL(", ").join(
            sql.SQL("NULL::{} AS {}").format(sql.SQL(kind), sql.Identifier(name))
            for name, kind in REPORT_ROW_COLUMNS
        )
        return sql.SQL("SELECT {} WHERE false").format(typed)
    columns = sql.SQL(", ").join(_column(name) for name, _ in REPORT_ROW_COLUMNS)
    where = sql.SQL(" WHERE r.realm_id = {}").format(sql.Literal(realm)) if realm else sql.SQL("")
    return sql.SQL("SELECT {} FROM {} AS r JOIN {} AS c ON c.report_id = r.id{}").format(
        columns, reports, rows, where
    )


def _column(name: str) -> sql.Composable:
    """A column of the view: the report's keys from `r`, the cell's from `c`."""
    if name == "report_id":
        return sql.SQL("r.id AS report_id")
    return sql.SQL("{}.{}").format(
        sql.SQL("r" if name in _FROM_REPORT else "c"), sql.Identifier(name)
    )


def create_report_row_view(conn: psycopg.Connection, schema: str, raw_schema: str) -> None:
    """`schema.report_row` over the reports stored in `raw_schema` (both created if
    missing; the view replaced)."""
    for name in {schema, raw_schema}:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(name)))
    ensure_report_tables(conn, raw_schema)
    select = report_row_select(
        sql.Identifier(raw_schema, REPORTS), sql.Identifier(raw_schema, ROWS)
    )
    conn.execute(
        sql.SQL("CREATE OR REPLACE VIEW {} AS {}").format(
            sql.Identifier(schema, REPORT_ROW_VIEW), select
        )
    )


def sections_not_adding_up(conn: psycopg.Connection, raw_schema: str) -> list[dict[str, Any]]:
    """Every (stored report, section, column) whose summary is not the sum of its parts:
    no rows is the pass."""
    query = sql.SQL(_NOT_ADDING_UP).format(
        reports=sql.Identifier(raw_schema, REPORTS), rows=sql.Identifier(raw_schema, ROWS)
    )
    cursor = conn.execute(query)
    names = [d.name for d in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


async def sections_not_adding_up_async(
    conn: psycopg.AsyncConnection, raw_schema: str
) -> list[dict[str, Any]]:
    """`sections_not_adding_up` on an async connection (no rows when nothing is stored)."""
    found = await (
        await conn.execute("SELECT to_regclass(%s)", (f'"{raw_schema}"."{ROWS}"',))
    ).fetchone()
    if found is None or found[0] is None:
        return []
    query = sql.SQL(_NOT_ADDING_UP).format(
        reports=sql.Identifier(raw_schema, REPORTS), rows=sql.Identifier(raw_schema, ROWS)
    )
    cursor = await conn.execute(query)
    names = [d.name for d in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in await cursor.fetchall()]
