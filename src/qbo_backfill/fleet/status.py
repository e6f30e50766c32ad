"""`fleet status`: the queue's jobs by status, each company's progress from the ledger, the
companies that must re-authorize, and the month's API calls against the budget. One read."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from qbo_backfill.fleet.app import JOBS_TABLE, ensure_job_schema
from qbo_backfill.fleet.budget import CALLS_TABLE, month_of
from qbo_backfill.fleet.jobs import QUEUE
from qbo_backfill.fleet.reauth import REAUTH_TABLE
from qbo_backfill.load.db import connect, database_url
from qbo_backfill.load.ledger import CHUNKS, RUNS
from qbo_backfill.run.session import token_store
from qbo_backfill.settings import Settings
from qbo_backfill.webhooks.activity import WebhookActivity, webhook_activity

__all__ = ["CompanyProgress", "FleetStatus", "fleet_status"]

JOB_STATES = ("todo", "doing", "succeeded", "failed")


@dataclass(frozen=True)
class CompanyProgress:
    realm_id: str
    chunks_done: int = 0
    chunks_total: int = 0
    chunks_failed: int = 0
    rows: int = 0
    needs_reauthorization: bool = False
    reason: str | None = None


@dataclass(frozen=True)
class FleetStatus:
    realms: int
    jobs: dict[str, int]
    month: str
    api_calls: int
    budget: int | None
    companies: list[CompanyProgress] = field(default_factory=list)
    webhooks: WebhookActivity = field(default_factory=lambda: WebhookActivity(24))

    @property
    def budget_reached(self) -> bool:
        return self.budget is not None and self.api_calls >= self.budget

    @property
    def needs_reauthorization(self) -> list[str]:
        return [c.realm_id for c in self.companies if c.needs_reauthorization]

    def as_dict(self) -> dict[str, Any]:
        return {
            "realms": self.realms,
            "jobs": self.jobs,
            "month": self.month,
            "api_calls": self.api_calls,
            "budget": self.budget,
            "budget_reached": self.budget_reached,
            "needs_reauthorization": self.needs_reauthorization,
            "companies": [asdict(c) for c in self.companies],
            "webhooks": self.webhooks.as_dict(),
        }


def fleet_status(settings: Settings) -> FleetStatus:
    """The fleet as the database holds it now."""
    url = database_url(settings)
    ensure_job_schema(url, settings.schema)
    stored = {s.realm_id for s in token_store(settings, url).status()}
    with connect(url) as conn, conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        jobs = _jobs(conn, settings.schema)
        progress = _progress(conn, settings.schema)
        marks = _marks(conn, settings.schema)
        calls = _calls(conn, settings.schema, settings.client_id or "")
        webhooks = webhook_activity(conn, settings.schema)
    realms = sorted(stored | set(progress) | set(marks))
    companies = [
        CompanyProgress(
            realm,
            *progress.get(realm, (0, 0, 0, 0)),
            needs_reauthorization=realm in marks,
            reason=marks.get(realm),
        )
        for realm in realms
    ]
    month = f"{month_of():%Y-%m}"
    budget = settings.monthly_call_budget
    return FleetStatus(len(realms), jobs, month, calls, budget, companies, webhooks)


def _exists(conn: psycopg.Connection, schema: str, table: str) -> bool:
    row = conn.execute(
        "SELECT to_regclass(%s)", (sql.Identifier(schema, table).as_string(conn),)
    ).fetchone()
    return row is not None and row[0] is not None


def _jobs(conn: psycopg.Connection, schema: str) -> dict[str, int]:
    counts = dict.fromkeys(JOB_STATES, 0)
    rows = conn.execute(
        sql.SQL(
            "SELECT status::text, count(*) FROM {} WHERE queue_name = %s GROUP BY status"
        ).format(sql.Identifier(schema, JOBS_TABLE)),
        (QUEUE,),
    ).fetchall()
    for status, number in rows:
        counts[status] = int(number)
    return counts


def _progress(conn: psycopg.Connection, schema: str) -> dict[str, tuple[int, int, int, int]]:
    """realm -> (chunks done, chunks total, chunks failed, rows) over each request's newest run."""
    if not _exists(conn, schema, RUNS):
        return {}
    rows = conn.execute(
        sql.SQL(_PROGRESS).format(
            runs=sql.Identifier(schema, RUNS), chunks=sql.Identifier(schema, CHUNKS)
        )
    ).fetchall()
    return {r[0]: (int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows}


def _marks(conn: psycopg.Connection, schema: str) -> dict[str, str]:
    if not _exists(conn, schema, REAUTH_TABLE):
        return {}
    table = sql.Identifier(schema, REAUTH_TABLE)
    rows = conn.execute(sql.SQL("SELECT realm_id, reason FROM {}").format(table)).fetchall()
    return {r[0]: r[1] for r in rows}


def _calls(conn: psycopg.Connection, schema: str, app: str) -> int:
    if not _exists(conn, schema, CALLS_TABLE):
        return 0
    row = conn.execute(
        sql.SQL("SELECT calls FROM {} WHERE month = %s AND app = %s").format(
            sql.Identifier(schema, CALLS_TABLE)
        ),
        (month_of(), app),
    ).fetchone()
    return int(row[0]) if row else 0


_PROGRESS = """
WITH latest AS (
    SELECT DISTINCT ON (run_key) run_id, realm_id FROM {runs} ORDER BY run_key, run_id DESC
)
SELECT l.realm_id,
       count(c.chunk_id) FILTER (WHERE c.status = 'done'),
       count(c.chunk_id),
       count(c.chunk_id) FILTER (WHERE c.status = 'failed'),
       coalesce(sum(c.rows_extracted) FILTER (WHERE c.status = 'done'), 0)
FROM latest l LEFT JOIN {chunks} c ON c.run_id = l.run_id
GROUP BY l.realm_id
"""
