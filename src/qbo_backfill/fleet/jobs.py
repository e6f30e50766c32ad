"""The fleet's procrastinate tasks: how a job is keyed, ordered, locked and retried.

- Idempotent enqueueing: every job has a `queueing_lock` (a plan job per run request, a
  chunk job per chunk), so enqueueing twice adds nothing while the first is waiting.
- Fairness: a company's chunk jobs take `lock`s of its own lanes (at most `LANES` of its
  jobs run at once, whatever the number of workers), and the k-th chunk of every company
  has priority -k, so the first chunk of each of fifty small companies runs before the
  tenth chunk of a large one. Plan jobs come first (priority 0): every company gets planned.
- Retries: transient failures are retried (at most `MAX_ATTEMPTS` attempts, also counted by
  the stalled-job sweep, which procrastinate's `max_attempts` does not see); a company that
  must re-authorize fails at once; a reached budget waits for the next month.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

import psycopg
from procrastinate import App, BaseRetryStrategy, JobContext, RetryDecision, exceptions
from procrastinate.jobs import Job

from qbo_backfill.errors import ApiError, ConfigError, ReauthorizeError
from qbo_backfill.fleet.budget import BudgetReached, next_month
from qbo_backfill.fleet.work import ChunkBusy, ChunkJob, FleetContext, PlanJob, copy_chunk, plan_run

__all__ = [
    "COPY_CHUNK",
    "LANES",
    "MAX_ATTEMPTS",
    "PLAN_RUN",
    "QUEUE",
    "SYNC_COMPANIES",
    "SYNC_COMPANY",
    "defer_chunks",
    "defer_once",
    "plan_queueing_lock",
    "register",
]

log = logging.getLogger(__name__)

QUEUE = "qbo_backfill"
PLAN_RUN = "qbo_backfill.plan_run"
COPY_CHUNK = "qbo_backfill.copy_chunk"
SYNC_COMPANY = "qbo_backfill.sync_company"
SYNC_COMPANIES = "qbo_backfill.sync_companies"
COPY_REPORTS = "qbo_backfill.copy_reports"
LANES = 2  # chunk jobs of one company running at once
MAX_ATTEMPTS = 5
CONTEXT_KEY = "fleet"


class FleetRetry(BaseRetryStrategy):
    """Retry what may pass; never a re-authorization or a bad input; a budget next month."""

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if isinstance(exception, BudgetReached):
            return RetryDecision(retry_at=next_month())
        if isinstance(exception, ReauthorizeError | ConfigError):
            return None
        if isinstance(exception, ApiError) and not exception.retryable:
            return None
        retryable = ChunkBusy | ApiError | psycopg.Error | exceptions.ConnectorException | OSError
        if not isinstance(exception, retryable):
            return None
        if job.attempts + 1 >= MAX_ATTEMPTS:
            return None
        return RetryDecision(retry_in={"seconds": min(2 ** (job.attempts + 1), 30)})


def plan_queueing_lock(job: PlanJob) -> str:
    return f"plan:{job.request.key}"


def lane_lock(realm: str, index: int) -> str:
    return f"realm:{realm}:lane:{index % LANES}"


async def defer_chunks(app: App, chunks: list[ChunkJob]) -> int:
    """Defer a job per chunk (those already waiting are skipped); how many were deferred."""
    deferred = 0
    for chunk in chunks:
        deferrer = app.configure_task(
            COPY_CHUNK,
            queue=QUEUE,
            lock=lane_lock(chunk.realm, chunk.index),
            queueing_lock=f"chunk:{chunk.chunk_id}",
            priority=-(chunk.index + 1),
        )
        try:
            await deferrer.defer_async(**asdict(chunk))
        except exceptions.AlreadyEnqueued:
            continue
        deferred += 1
    return deferred


async def defer_once(app: App, task: str, jobs: list[tuple[str, dict[str, Any]]]) -> int:
    """Defer each job under its queueing lock (one already waiting is left as it is); how
    many were new."""
    enqueued = 0
    for queueing_lock, arguments in jobs:
        deferrer = app.configure_task(task, queue=QUEUE, queueing_lock=queueing_lock, priority=0)
        try:
            await deferrer.defer_async(**arguments)
        except exceptions.AlreadyEnqueued:
            continue
        enqueued += 1
    return enqueued


def _context(context: JobContext) -> FleetContext:
    fleet = context.additional_context.get(CONTEXT_KEY)
    if not isinstance(fleet, FleetContext):
        raise ConfigError("fleet jobs run in `qbo-backfill worker`, which gives their context")
    return fleet


def register(app: App) -> None:
    """Register the fleet's tasks on `app`."""
    retry = FleetRetry()

    @app.task(name=PLAN_RUN, queue=QUEUE, pass_context=True, retry=retry)
    async def plan_run_task(context: JobContext, **arguments: Any) -> str:
        return await plan_run(
            _context(context),
            PlanJob(**arguments),
            lambda chunks: defer_chunks(context.app, chunks),
        )

    @app.task(name=COPY_CHUNK, queue=QUEUE, pass_context=True, retry=retry)
    async def copy_chunk_task(context: JobContext, **arguments: Any) -> str:
        return await copy_chunk(_context(context), ChunkJob(**arguments))

    @app.task(name=SYNC_COMPANY, queue=QUEUE, pass_context=True, retry=retry)
    async def sync_company_task(context: JobContext, realm: str, entities: list[str]) -> str:
        from qbo_backfill.fleet.syncjob import sync_company

        return await sync_company(_context(context), realm, entities)

    @app.task(name=SYNC_COMPANIES, queue=QUEUE, pass_context=True, retry=retry)
    async def sync_companies_task(
        context: JobContext, realms: list[str], entities: list[str]
    ) -> str:
        from qbo_backfill.fleet.syncjob import sync_companies

        async def alone(realm: str) -> None:
            arguments = {"realm": realm, "entities": entities}
            await defer_once(context.app, SYNC_COMPANY, [(f"sync:{realm}", arguments)])

        return await sync_companies(_context(context), realms, entities, alone)

    @app.task(name=COPY_REPORTS, queue=QUEUE, pass_context=True, retry=retry)
    async def copy_reports_task(context: JobContext, realm: str, reports: list[str]) -> str:
        from qbo_backfill.fleet.reportsjob import copy_company_reports

        return await copy_company_reports(_context(context), realm, reports)
