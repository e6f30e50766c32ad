"""Putting a fleet's work in the queue: a plan job per (company, entity) for `fleet
backfill`, sync jobs of a few companies each for `fleet sync`. Enqueueing is pure database
work (no API call), idempotent (queueing locks, and runs already done are skipped), and
quick enough for thousands of companies."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import psycopg
from psycopg import sql

from qbo_backfill.errors import ConfigError
from qbo_backfill.fleet import COMPANIES_PER_SYNC_JOB
from qbo_backfill.fleet.app import build_app, ensure_job_schema
from qbo_backfill.fleet.budget import BudgetReached, CallBudget
from qbo_backfill.fleet.jobs import (
    COPY_REPORTS,
    PLAN_RUN,
    SYNC_COMPANIES,
    SYNC_COMPANY,
    defer_once,
    plan_queueing_lock,
)
from qbo_backfill.fleet.reauth import ReauthMarks
from qbo_backfill.fleet.work import PlanJob
from qbo_backfill.load.db import database_url
from qbo_backfill.load.ledger import RUNS, Ledger
from qbo_backfill.load.rawtable import RawTable
from qbo_backfill.run.engine import BackfillOptions
from qbo_backfill.run.session import token_store
from qbo_backfill.settings import Settings
from qbo_backfill.views.keep import keep_views

__all__ = [
    "EnqueueResult",
    "enqueue_backfill",
    "enqueue_sync",
    "fleet_realms",
    "prepare_database",
]


@dataclass(frozen=True)
class EnqueueResult:
    """What an enqueue did: jobs added, jobs already waiting, runs already complete."""

    realms: int
    enqueued: int
    already_queued: int
    already_done: int
    budget_reached: str | None = None  # the line saying no new work starts this month


def fleet_realms(settings: Settings, url: str, realms: Sequence[str] = ()) -> list[str]:
    """The companies asked for, or every company in the token store."""
    stored = [status.realm_id for status in token_store(settings, url).status()]
    if not realms:
        if not stored:
            raise ConfigError(
                "no companies in the token store: store their refresh tokens first with "
                "`qbo-backfill auth import --from-json FILE`"
            )
        return stored
    unknown = sorted(set(realms) - set(stored))
    if unknown:
        raise ConfigError(
            f"no refresh token stored for realm {', '.join(unknown)}: "
            "`qbo-backfill auth import --from-json FILE` first"
        )
    return list(dict.fromkeys(realms))


async def prepare_database(settings: Settings, url: str, entities: Sequence[RawTable] = ()) -> None:
    """The queue's, the ledger's, the fleet's and the raw tables, each created once."""
    await asyncio.to_thread(ensure_job_schema, url, settings.schema)
    async with await psycopg.AsyncConnection.connect(url) as conn:
        await Ledger(settings.schema).create(conn)
        await ReauthMarks(settings.schema).create(conn)
        await CallBudget(settings.schema, "", None).create(conn)
        await conn.commit()
        for table in entities:
            await table.create(conn)
            await conn.commit()


async def enqueue_backfill(
    settings: Settings,
    options: BackfillOptions,
    realms: Sequence[str] = (),
    reports: Sequence[str] | None = None,
) -> EnqueueResult:
    """A plan job per company and entity, unless waiting already or its run is done; with
    `reports` (empty: the default set), a reports job per company too."""
    url = await asyncio.to_thread(database_url, settings)
    chosen = await asyncio.to_thread(fleet_realms, settings, url, realms)
    tables = [RawTable(settings.schema, entity) for entity in options.entities]
    await prepare_database(settings, url, tables)
    # The typed views over the new tables (plain views then follow the workers' rows; a
    # materialized form is refreshed by the companies' syncs).
    await keep_views(url, settings.schema, settings.views_schema)
    plans = [
        PlanJob.of(realm, entity, options.window, options.chunk_days, options.page_size)
        for realm in chosen
        for entity in options.entities
    ]
    done = await _done_keys(url, settings.schema, [p.request.key for p in plans])
    todo = [p for p in plans if p.request.key not in done]
    report_jobs: list[tuple[str, dict[str, Any]]] = (
        [(f"reports:{r}", {"realm": r, "reports": list(reports)}) for r in chosen]
        if reports is not None
        else []
    )
    app = build_app(url, settings.schema, pool_size=2)
    async with app.open_async():
        enqueued = await defer_once(
            app, PLAN_RUN, [(plan_queueing_lock(p), asdict(p)) for p in todo]
        )
        enqueued += await defer_once(app, COPY_REPORTS, report_jobs)
    reached = await _budget_line(settings, url)
    return EnqueueResult(
        len(chosen),
        enqueued,
        len(todo) + len(report_jobs) - enqueued,
        len(plans) - len(todo),
        reached,
    )


async def enqueue_sync(
    settings: Settings,
    entities: Sequence[str],
    realms: Sequence[str] = (),
    per_job: int = COMPANIES_PER_SYNC_JOB,
) -> EnqueueResult:
    """Sync jobs for the companies (their copied entities, or `entities`), `per_job`
    companies a job, unless the same job is waiting. One company a job takes the queueing
    lock webhooks use (`sync:<realm>`); several share a job's fetch, finish and checks
    (an idle company's sync is mostly such overhead, docs/webhooks.md)."""
    url = await asyncio.to_thread(database_url, settings)
    chosen = await asyncio.to_thread(fleet_realms, settings, url, realms)
    await prepare_database(settings, url)
    names = list(entities)
    if per_job == 1:
        task = SYNC_COMPANY
        jobs = [(f"sync:{realm}", {"realm": realm, "entities": names}) for realm in chosen]
    else:
        task = SYNC_COMPANIES
        groups = [chosen[i : i + per_job] for i in range(0, len(chosen), per_job)]
        jobs = [
            (_group_lock(group, names), {"realms": group, "entities": names}) for group in groups
        ]
    app = build_app(url, settings.schema, pool_size=2)
    async with app.open_async():
        enqueued = await defer_once(app, task, jobs)
    reached = await _budget_line(settings, url)
    return EnqueueResult(len(chosen), enqueued, len(jobs) - enqueued, 0, reached)


def _group_lock(realms: list[str], entities: list[str]) -> str:
    """A queueing lock naming the group: enqueueing the same companies again adds nothing
    while their job waits."""
    digest = hashlib.sha256(json.dumps([realms, entities]).encode()).hexdigest()[:16]
    return f"syncs:{realms[0]}:{len(realms)}:{digest}"


async def _budget_line(settings: Settings, url: str) -> str | None:
    budget = CallBudget(settings.schema, settings.client_id or "", settings.monthly_call_budget)
    async with await psycopg.AsyncConnection.connect(url) as conn:
        try:
            await budget.check(conn)
        except BudgetReached as exc:
            return str(exc)
    return None


async def _done_keys(url: str, schema: str, keys: list[str]) -> set[str]:
    """The run keys whose newest run is done: nothing left to enqueue for them."""
    query = sql.SQL(
        "SELECT run_key FROM (SELECT DISTINCT ON (run_key) run_key, status FROM {} "
        "WHERE run_key = ANY(%s) ORDER BY run_key, run_id DESC) latest WHERE status = 'done'"
    ).format(sql.Identifier(schema, RUNS))
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cursor = await conn.execute(query, (keys,))
        return {row[0] for row in await cursor.fetchall()}
