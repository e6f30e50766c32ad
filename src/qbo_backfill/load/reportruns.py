"""`qbo_backfill_report_runs`: what each `reports` or `sync` run did per report and basis
(calls, periods stored, empty months skipped, splits), the evidence `report` shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import psycopg
from psycopg import sql

from qbo_backfill.load.db import DDL_LOCK

__all__ = ["REPORT_RUNS", "ReportFigures", "ReportRuns"]

REPORT_RUNS = "qbo_backfill_report_runs"

_DDL = """
CREATE TABLE IF NOT EXISTS {runs} (
    run_id text NOT NULL,
    realm_id text NOT NULL,
    command text NOT NULL,
    report_name text NOT NULL,
    accounting_method text NOT NULL,
    period_start date,
    period_end date,
    started_at_utc timestamptz NOT NULL DEFAULT now(),
    finished_at_utc timestamptz,
    status text NOT NULL,
    calls integer NOT NULL DEFAULT 0,
    periods_stored integer NOT NULL DEFAULT 0,
    months_empty integer NOT NULL DEFAULT 0,
    truncations_split integer NOT NULL DEFAULT 0,
    dense_split integer NOT NULL DEFAULT 0,
    changes_found integer NOT NULL DEFAULT 0,
    error text,
    start_found boolean NOT NULL DEFAULT false,
    PRIMARY KEY (run_id, report_name, accounting_method)
)
"""


@dataclass
class ReportFigures:
    """What copying one report in one basis did in one run."""

    report: str
    basis: str
    status: str = "running"
    calls: int = 0
    periods_stored: int = 0
    months_empty: int = 0
    truncations_split: int = 0
    dense_split: int = 0
    changes_found: int = 0
    error: str | None = None


class ReportRuns:
    """The report runs table of one schema."""

    def __init__(self, schema: str) -> None:
        self.table = sql.Identifier(schema, REPORT_RUNS)
        self.regclass = f'"{schema}"."{REPORT_RUNS}"'

    async def create(self, conn: psycopg.AsyncConnection) -> None:
        """The table, once (idempotent); the lock held to the end of the transaction, so
        two companies' first runs never create it at once."""
        async with conn.transaction():
            await conn.execute(DDL_LOCK)
            await conn.execute(sql.SQL(_DDL).format(runs=self.table))

    async def record(
        self,
        conn: psycopg.AsyncConnection,
        run_id: str,
        realm_id: str,
        command: str,
        span: tuple[object, object],
        start_found: bool,
        figures: ReportFigures,
    ) -> None:
        """Write the figures as they stand (a run killed midway keeps `running`)."""
        await conn.execute(
            sql.SQL(
                "INSERT INTO {} (run_id, realm_id, command, report_name, accounting_method,"
                " period_start, period_end, status, calls, periods_stored, months_empty,"
                " truncations_split, dense_split, changes_found, error, start_found)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (run_id, report_name, accounting_method) DO UPDATE SET"
                " status = EXCLUDED.status, calls = EXCLUDED.calls,"
                " periods_stored = EXCLUDED.periods_stored, months_empty = EXCLUDED.months_empty,"
                " truncations_split = EXCLUDED.truncations_split,"
                " dense_split = EXCLUDED.dense_split, changes_found = EXCLUDED.changes_found,"
                " error = EXCLUDED.error,"
                " finished_at_utc = CASE WHEN EXCLUDED.status = 'running' THEN NULL ELSE now() END"
            ).format(self.table),
            (
                run_id,
                realm_id,
                command,
                figures.report,
                figures.basis,
                span[0],
                span[1],
                figures.status,
                figures.calls,
                figures.periods_stored,
                figures.months_empty,
                figures.truncations_split,
                figures.dense_split,
                figures.changes_found,
                figures.error,
                start_found,
            ),
        )

    async def found_start(self, conn: psycopg.AsyncConnection, realm_id: str) -> date | None:
        """The first transaction day an earlier run found for the company, if any."""
        found = await (await conn.execute("SELECT to_regclass(%s)", (self.regclass,))).fetchone()
        if found is None or found[0] is None:
            return None
        cursor = await conn.execute(
            sql.SQL("SELECT min(period_start) FROM {} WHERE realm_id = %s AND start_found").format(
                self.table
            ),
            (realm_id,),
        )
        row = await cursor.fetchone()
        return row[0] if row else None
