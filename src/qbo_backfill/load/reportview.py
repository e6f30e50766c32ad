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

__all__ = ["REPORT_ROW_VIEW", "create_report_row_view", "sections_not_adding_up"]

REPORT_ROW_VIEW = "report_row"

_VIEW = """
CREATE OR REPLACE VIEW {view} AS
SELECT r.realm_id, r.report_name, r.accounting_method, r.period_start, r.period_end,
       c.column_index, c.column_key, c.column_title, c.column_start_date, c.column_end_date,
       c.section_id, c.row_path, c.row_kind, c.row_group, c.account_id, c.account_name,
       c.txn_type, c.txn_id, c.value, c.amount,
       r.id AS report_id, c.ordinal
FROM {reports} AS r
JOIN {rows} AS c ON c.report_id = r.id
"""

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


def create_report_row_view(conn: psycopg.Connection, schema: str, raw_schema: str) -> None:
    """`schema.report_row` over the reports stored in `raw_schema` (both created if
    missing; the view replaced)."""
    for name in {schema, raw_schema}:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(name)))
    ensure_report_tables(conn, raw_schema)
    conn.execute(
        sql.SQL(_VIEW).format(
            view=sql.Identifier(schema, REPORT_ROW_VIEW),
            reports=sql.Identifier(raw_schema, REPORTS),
            rows=sql.Identifier(raw_schema, ROWS),
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
