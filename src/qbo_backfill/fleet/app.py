"""The job queue: a procrastinate App on the destination PostgreSQL.

Its tables and functions live in the configured schema (`QBO_SCHEMA`), next to the raw
tables and the ledger: every connection of the queue sets `search_path` to that schema, so
two schemas of one database hold two independent fleets. The schema is applied by our code,
once, under the same advisory lock as every other `CREATE .. IF NOT EXISTS` of ours.
"""

from __future__ import annotations

import psycopg
from procrastinate import App, PsycopgConnector
from psycopg import sql

from qbo_backfill.fleet import jobs
from qbo_backfill.load.db import DDL_LOCK

__all__ = ["QUEUE", "build_app", "ensure_job_schema"]

QUEUE = jobs.QUEUE
JOBS_TABLE = "procrastinate_jobs"


def build_app(url: str, schema: str, *, pool_size: int = 4) -> App:
    """An App whose connections use `schema`, with the fleet's tasks registered."""

    async def use_schema(conn: psycopg.AsyncConnection) -> None:
        await conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        await conn.commit()

    connector = PsycopgConnector(
        conninfo=url,
        min_size=1,
        max_size=pool_size,
        timeout=10.0,
        configure=use_schema,
        kwargs={"connect_timeout": 10},
    )
    app = App(connector=connector)
    jobs.register(app)
    return app


def ensure_job_schema(url: str, schema: str) -> bool:
    """Create procrastinate's tables in `schema` unless there; True if they were created."""
    with psycopg.connect(url, connect_timeout=10) as conn:
        if _has_jobs_table(conn, schema):
            return False
        conn.execute(DDL_LOCK)
        if _has_jobs_table(conn, schema):  # another process made them while we waited
            return False
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema)))
        from procrastinate.schema import SchemaManager

        conn.execute(SchemaManager.get_schema())
        return True


def _has_jobs_table(conn: psycopg.Connection, schema: str) -> bool:
    row = conn.execute(
        "SELECT to_regclass(%s)", (sql.Identifier(schema, JOBS_TABLE).as_string(conn),)
    ).fetchone()
    return row is not None and row[0] is not None
