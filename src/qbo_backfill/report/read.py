"""Reading the evidence: runs, chunks and checks from the ledger, in one read-only
snapshot."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from qbo_backfill.entities import resolve_entity
from qbo_backfill.errors import ConfigError
from qbo_backfill.figures import ChunkRow
from qbo_backfill.fleet.reauth import REAUTH_TABLE
from qbo_backfill.load import db
from qbo_backfill.load.db import table_exists
from qbo_backfill.load.ledger import CHUNKS, RUNS
from qbo_backfill.load.reportruns import REPORT_RUNS
from qbo_backfill.report.checks import run_checks
from qbo_backfill.report.model import INTUIT_REQUESTS_PER_MINUTE, Report, RunReport, Selection
from qbo_backfill.report.money import money_checks
from qbo_backfill.report.rate import read_measured
from qbo_backfill.report.reportcopies import report_changes, report_copies
from qbo_backfill.report.syncs import sync_runs
from qbo_backfill.report.views import view_counts
from qbo_backfill.settings import Settings
from qbo_backfill.webhooks.activity import webhook_activity

__all__ = ["build_report", "load_report"]


def build_report(settings: Settings, selection: Selection) -> Report:
    """The report of the selected runs, read from the settings' database and schema."""
    with db.connect(db.database_url(settings)) as conn:
        return load_report(
            conn,
            settings.schema,
            selection,
            database=db.describe(settings),
            configured_per_minute=settings.requests_per_minute,
            views_schema=settings.views_schema,
        )


def load_report(
    conn: psycopg.Connection,
    schema: str,
    selection: Selection,
    *,
    database: str = "",
    configured_per_minute: int = INTUIT_REQUESTS_PER_MINUTE,
    views_schema: str | None = None,
) -> Report:
    """Read runs, chunks and checks in one read-only snapshot."""
    # One snapshot, so the checks and the figures describe the same moment even while a
    # backfill is writing; read-only, so a report can never change the evidence.
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    with conn.transaction():
        conn.execute("SET LOCAL TIME ZONE 'UTC'")
        runs = _runs(conn, schema, selection)
        for run in runs:
            run.checks = run_checks(conn, schema, run)
        syncs = sync_runs(conn, schema)
        copies, changes = report_copies(conn, schema), report_changes(conn, schema)
        views = view_counts(conn, views_schema) if views_schema else []
        money = money_checks(conn, schema)
        reauthorize = _needs_reauthorization(conn, schema)
        webhooks = webhook_activity(conn, schema)
        now = datetime.now(UTC)
        minutes = read_measured(conn, schema, [r.run for r in runs], now)
    return Report(
        now,
        selection,
        database,
        schema,
        runs,
        configured_per_minute,
        request_minutes=minutes,
        syncs=syncs,
        needs_reauthorization=reauthorize,
        reports=copies,
        report_changes=changes,
        views_schema=views_schema or "",
        views=views,
        money=money,
        webhooks=webhooks,
    )


def _needs_reauthorization(conn: psycopg.Connection, schema: str) -> dict[str, str]:
    """Companies a fleet marked after Intuit refused their refresh token: realm -> why."""
    if not table_exists(conn, schema, REAUTH_TABLE):
        return {}
    rows = conn.execute(
        sql.SQL("SELECT realm_id, reason FROM {} ORDER BY realm_id").format(
            sql.Identifier(schema, REAUTH_TABLE)
        )
    ).fetchall()
    return {str(realm): str(reason) for realm, reason in rows}


def _runs(conn: psycopg.Connection, schema: str, selection: Selection) -> list[RunReport]:
    """The selected backfill runs; none when only reports were copied and no run was named
    (the evidence is then theirs alone)."""
    reports_only = table_exists(conn, schema, REPORT_RUNS) and not (
        selection.run_ids or selection.entity
    )
    if reports_only and not table_exists(conn, schema, RUNS):
        return []
    ledger = _LedgerReader(conn, schema)
    try:
        selected = ledger.runs(selection)
    except ConfigError:
        if reports_only:
            return []
        raise
    return [RunReport(r, ledger.chunks(r["run_id"])) for r in selected]


class _LedgerReader:
    def __init__(self, conn: psycopg.Connection, schema: str) -> None:
        self.conn = conn
        self.runs_table = sql.Identifier(schema, RUNS)
        self.chunks_table = sql.Identifier(schema, CHUNKS)
        if not table_exists(conn, schema, RUNS):
            raise ConfigError(
                f"no backfill has run in schema {schema!r} yet (no {RUNS} table): "
                "run `qbo-backfill backfill ...` first, or set QBO_SCHEMA"
            )

    def runs(self, selection: Selection) -> list[dict[str, Any]]:
        where: sql.Composable
        params: tuple[Any, ...]
        if selection.run_ids:
            where, params = sql.SQL("run_id = ANY(%s)"), (list(selection.run_ids),)
        elif selection.entity is not None:
            where, params = sql.SQL("entity = %s"), (resolve_entity(selection.entity).name,)
        else:
            where = sql.SQL(
                "session_id = (SELECT session_id FROM {} "
                "ORDER BY coalesce(finished_at, created_at) DESC, run_id DESC LIMIT 1)"
            ).format(self.runs_table)
            params = ()
        query = sql.SQL("SELECT * FROM {} WHERE {} ORDER BY run_id").format(self.runs_table, where)
        rows = self.conn.cursor(row_factory=dict_row).execute(query, params).fetchall()
        missing = set(selection.run_ids) - {row["run_id"] for row in rows}
        if missing:
            raise ConfigError(f"no such run: {', '.join(str(r) for r in sorted(missing))}")
        if not rows:
            raise ConfigError(f"no runs match ({selection.describe()})")
        return [_public_run(row) for row in rows]

    def chunks(self, run_id: int) -> list[ChunkRow]:
        query = sql.SQL(
            "SELECT * FROM {} WHERE run_id = %s ORDER BY window_start, window_end"
        ).format(self.chunks_table)
        rows = self.conn.cursor(row_factory=dict_row).execute(query, (run_id,))
        return [ChunkRow.from_record(row) for row in rows]


def _public_run(row: dict[str, Any]) -> dict[str, Any]:
    """The run row without the lookup key (a hash: not evidence, only noise)."""
    return {k: v for k, v in row.items() if k != "run_key"}
