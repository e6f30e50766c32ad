"""Copied reports in the evidence: per company, report and basis, the periods stored, the
months shown empty, the answers split (cut short, 504), the calls spent; and every closed
period whose report changed when it was asked for again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from qbo_backfill.load.db import table_exists
from qbo_backfill.load.reportruns import REPORT_RUNS
from qbo_backfill.load.reportstore import CHANGES, REPORTS

__all__ = ["ReportChange", "ReportCopy", "report_changes", "report_copies"]

MAX_CHANGE_ROWS = 50


@dataclass(frozen=True)
class ReportCopy:
    """One report in one basis of one company, as copied so far."""

    realm_id: str
    report_name: str
    accounting_method: str
    periods: int
    first_day: date | None
    last_day: date | None
    months_empty: int
    truncations_split: int
    dense_split: int
    calls: int
    runs: int
    changes: int


@dataclass(frozen=True)
class ReportChange:
    """A closed period whose report differed when asked for again."""

    realm_id: str
    report_name: str
    accounting_method: str
    period_start: date
    period_end: date
    detected_at_utc: datetime
    difference: dict[str, Any]


_COPIES = """
WITH stored AS (
    SELECT realm_id, report_name, accounting_method, count(*) AS periods,
           min(period_start) AS first_day, max(period_end) AS last_day
    FROM {reports} GROUP BY 1, 2, 3
), runs AS (
    SELECT realm_id, report_name, accounting_method, sum(months_empty) AS months_empty,
           sum(truncations_split) AS truncations_split, sum(dense_split) AS dense_split,
           sum(calls) AS calls, count(DISTINCT run_id) AS runs
    FROM {runs} GROUP BY 1, 2, 3
), changed AS (
    SELECT realm_id, report_name, accounting_method, count(*) AS changes
    FROM {changes} GROUP BY 1, 2, 3
)
SELECT realm_id, report_name, accounting_method, coalesce(periods, 0) AS periods,
       first_day, last_day, coalesce(months_empty, 0) AS months_empty,
       coalesce(truncations_split, 0) AS truncations_split,
       coalesce(dense_split, 0) AS dense_split, coalesce(calls, 0) AS calls,
       coalesce(runs.runs, 0) AS runs, coalesce(changes, 0) AS changes
FROM stored FULL JOIN runs USING (realm_id, report_name, accounting_method)
LEFT JOIN changed USING (realm_id, report_name, accounting_method)
ORDER BY 1, 2, 3
"""


def report_copies(conn: psycopg.Connection, schema: str) -> list[ReportCopy]:
    """Every copied report and basis; none when no report was ever copied in the schema."""
    if not table_exists(conn, schema, REPORT_RUNS) or not table_exists(conn, schema, REPORTS):
        return []
    query = sql.SQL(_COPIES).format(
        reports=sql.Identifier(schema, REPORTS),
        runs=sql.Identifier(schema, REPORT_RUNS),
        changes=sql.Identifier(schema, CHANGES),
    )
    rows = conn.cursor(row_factory=dict_row).execute(query).fetchall()
    return [ReportCopy(**{k: _plain(v) for k, v in row.items()}) for row in rows]


def report_changes(conn: psycopg.Connection, schema: str) -> list[ReportChange]:
    """The newest changes found in closed periods, newest first."""
    if not table_exists(conn, schema, CHANGES):
        return []
    query = sql.SQL(
        "SELECT realm_id, report_name, accounting_method, period_start, period_end,"
        " detected_at_utc, difference FROM {} ORDER BY id DESC LIMIT %s"
    ).format(sql.Identifier(schema, CHANGES))
    rows = conn.cursor(row_factory=dict_row).execute(query, (MAX_CHANGE_ROWS,)).fetchall()
    return [ReportChange(**row) for row in rows]


def _plain(value: Any) -> Any:
    """Sums come back as numeric: counts are whole numbers."""
    return (
        int(value) if hasattr(value, "as_integer_ratio") and not isinstance(value, int) else value
    )
