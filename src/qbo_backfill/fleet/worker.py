"""`qbo-backfill worker`: run fleet jobs until SIGTERM, across database restarts.

- SIGTERM or SIGINT: no new job starts; the jobs running finish (their chunks commit), then
  the process exits 0.
- The database goes away (restart, fail-over): the worker stops taking jobs, lets its
  running jobs end (they fail on their broken connections and are retried), and connects
  again with bounded backoff (1 s doubling to 10 s), for as long as it takes.
- A worker killed with SIGKILL leaves its jobs `doing`: every worker sweeps jobs whose
  worker stopped sending heartbeats (`stall_after` seconds) back to `todo`, counting their
  attempts itself (procrastinate's `retry_job` does not), and fails them after `MAX_ATTEMPTS`.
  The ledger's advisory-lock claim makes the rerun of a chunk copy it once.
- Jobs queued behind a company's lane lock are found by polling every `poll_seconds`
  (procrastinate's NOTIFY only says a job was inserted, not that a lock was freed).
- When it starts and hourly after, it deletes succeeded jobs past `keep_finished_hours`,
  webhook events past `keep_events_days` (webhooks/retention.py) and sync runs that wrote
  nothing past `keep_quiet_syncs_days` (load/quietsyncs.py).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from dataclasses import dataclass
from typing import Any

import psycopg
import psycopg_pool
from procrastinate import App, exceptions
from procrastinate.jobs import Status
from procrastinate.worker import Worker

from qbo_backfill.fleet.app import build_app, ensure_job_schema
from qbo_backfill.fleet.jobs import CONTEXT_KEY, MAX_ATTEMPTS, QUEUE
from qbo_backfill.fleet.work import FleetContext
from qbo_backfill.load.db import database_url
from qbo_backfill.load.pools import ConnectionPools, autocommit_connection
from qbo_backfill.load.quietsyncs import KEEP_QUIET_SYNCS_DAYS, prune_quiet_syncs
from qbo_backfill.run.session import api_http_client
from qbo_backfill.settings import Settings
from qbo_backfill.webhooks.retention import prune_events

__all__ = ["WorkerOptions", "prune_finished", "prune_old_rows", "run_worker", "sweep_stalled"]

log = logging.getLogger(__name__)

MIN_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 10.0
HEALTHY_RUN_SECONDS = 60.0
PRUNE_EVERY_SECONDS = 3600.0
SIDE_TASK_END_SECONDS = 30  # a sweep in progress ends within the pool's 10 s timeout
_DATABASE_DOWN = (
    exceptions.ConnectorException,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    psycopg_pool.PoolTimeout,
    OSError,
)


@dataclass(frozen=True)
class WorkerOptions:
    """How a worker runs: jobs at once, and its timings (seconds)."""

    concurrency: int = 4
    """Jobs run at once by this process (`worker --concurrency`)."""
    poll_seconds: float = 0.5
    """How often the database is asked for a job: NOTIFY says only that a job was inserted,
    so a job queued behind a company's lane lock is found by polling once the lock is free."""
    heartbeat_seconds: float = 2.0
    """How often the worker tells the database it is alive."""
    stall_after: float = 6.0
    """Seconds without a heartbeat after which a worker counts as stopped and its jobs as
    stalled."""
    sweep_every: float = 2.0
    """How often this worker sends stalled jobs (of any worker) back to be retried."""
    listen_notify: bool = True
    """Wake at procrastinate's NOTIFY of a new job; off behind pgbouncer in transaction mode
    (`worker --no-listen-notify`), where polling alone finds the jobs."""
    keep_finished_hours: int = 24
    """Succeeded jobs finished longer ago are deleted (`worker --keep-finished-hours`)."""
    keep_events_days: int = 30
    """Webhook events received longer ago are deleted (`worker --keep-events-days`; at
    least 1, so the last 24 hours that `fleet status` and `report` show are kept)."""
    keep_quiet_syncs_days: int = KEEP_QUIET_SYNCS_DAYS
    """Sync runs that wrote nothing, finished longer ago, are deleted, but for each entity's
    last (`worker --keep-quiet-syncs-days`; 0 keeps them all)."""


class FleetWorker:
    """One worker process: procrastinate's worker, restarted whenever the database drops."""

    def __init__(self, settings: Settings, options: WorkerOptions) -> None:
        self.settings = settings
        self.options = options
        self.stopping = asyncio.Event()
        self.current: Worker | None = None

    def stop(self) -> None:
        """Finish the running jobs, start no new one, then return from `run`."""
        if not self.stopping.is_set():
            log.info("stop requested: finishing the running jobs, starting no new one")
        self.stopping.set()
        if self.current is not None:
            self.current.stop()

    async def run(self) -> None:
        url = await asyncio.to_thread(database_url, self.settings)
        backoff = MIN_BACKOFF_SECONDS
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                await asyncio.to_thread(ensure_job_schema, url, self.settings.schema)
                await self._run_once(url)
                reason = "the worker stopped by itself (its heartbeat or listener failed)"
            except _DATABASE_DOWN as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                reason = (
                    f"database unreachable ({type(exc).__name__}{': ' if first else ''}{first})"
                )
            if self.stopping.is_set():
                break
            if time.monotonic() - started > HEALTHY_RUN_SECONDS:
                backoff = MIN_BACKOFF_SECONDS  # it ran well for a while: start the backoff again
            log.warning("%s; connecting again in %.0f s", reason, backoff)
            await self._sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def _run_once(self, url: str) -> None:
        options = self.options
        app = build_app(url, self.settings.schema, pool_size=options.concurrency + 3)
        async with (
            app.open_async(),
            ConnectionPools.open(url, options.concurrency) as pools,
            api_http_client(self.settings, options.concurrency) as http,
        ):
            context = FleetContext.create(self.settings, url, pools, http)
            worker = Worker(
                app,
                queues=[QUEUE],
                concurrency=options.concurrency,
                fetch_job_polling_interval=options.poll_seconds,
                update_heartbeat_interval=options.heartbeat_seconds,
                stalled_worker_timeout=options.stall_after,
                listen_notify=options.listen_notify,
                install_signal_handlers=False,
                additional_context={CONTEXT_KEY: context},
                name="qbo-backfill",
            )
            self.current = worker
            done = asyncio.Event()
            sweeper = asyncio.create_task(
                self._sweep(app, pools, url, done), name="stalled-job sweep"
            )
            try:
                if self.stopping.is_set():
                    return
                await worker.run()
            finally:
                self.current = None
                await _end(sweeper, done)

    async def _sweep(self, app: App, pools: ConnectionPools, url: str, done: asyncio.Event) -> None:
        """Put back the jobs of workers that stopped beating; fail them past MAX_ATTEMPTS;
        hourly, prune old jobs and webhook events. Ends when `done` is set (not by
        cancellation, which a database call can lose)."""
        next_prune = time.monotonic()
        while not await _wait(done, self.options.sweep_every):
            try:
                await sweep_stalled(app, self.options.stall_after)
                if time.monotonic() >= next_prune:
                    await prune_finished(app, self.options.keep_finished_hours)
                    async with autocommit_connection(url, pools.jobs) as conn:
                        await prune_old_rows(conn, self.settings.schema, self.options, done)
                    next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
            except _DATABASE_DOWN as exc:
                log.debug("stalled-job sweep skipped: %s", type(exc).__name__)

    async def _sleep(self, seconds: float) -> None:
        await _wait(self.stopping, seconds)


async def _wait(event: asyncio.Event, seconds: float) -> bool:
    """Wait until `event` is set or `seconds` pass; whether it is set."""
    try:
        await asyncio.wait_for(event.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True


async def _end(task: asyncio.Task[None], done: asyncio.Event) -> None:
    """Let a side task end by itself (bounded by the pool's timeout), else abandon it."""
    done.set()
    finished, _ = await asyncio.wait({task}, timeout=SIDE_TASK_END_SECONDS)
    if not finished:
        task.cancel()
        log.warning("the stalled-job sweep did not end in %d s: abandoned", SIDE_TASK_END_SECONDS)


async def sweep_stalled(app: App, stall_after: float) -> int:
    """Retry (or, past MAX_ATTEMPTS, fail) the jobs of stalled workers; how many."""
    manager = app.job_manager
    stalled = list(await manager.get_stalled_jobs(queue=QUEUE, seconds_since_heartbeat=stall_after))
    for job in stalled:
        if job.attempts + 1 >= MAX_ATTEMPTS:
            log.error("job %s stalled %d times: failed", job.call_string, job.attempts + 1)
            await manager.finish_job(job, status=Status.FAILED, delete_job=False)
        else:
            log.warning("job %s: its worker stopped; retrying it", job.call_string)
            await manager.retry_job(job)
    return len(stalled)


async def prune_finished(app: App, keep_hours: int) -> None:
    """Delete the queue's succeeded jobs finished over `keep_hours` ago: the ledger keeps
    every run's and chunk's figures, and enqueueing skips runs already done, so the queue
    need not grow by a job per company and entity forever. Failed jobs stay for a look."""
    await app.job_manager.delete_old_jobs(nb_hours=keep_hours, queue=QUEUE)


async def prune_old_rows(
    conn: psycopg.AsyncConnection[Any],
    schema: str,
    options: WorkerOptions,
    stop: asyncio.Event | None = None,
) -> tuple[int, int]:
    """Delete the webhook events and the quiet sync runs past their days (each a bounded
    number of 10,000-row statements, ending early when `stop` is set); one log line for
    each when any were deleted. How many of each."""
    events = await prune_events(conn, schema, options.keep_events_days, stop=stop)
    syncs = await prune_quiet_syncs(conn, schema, options.keep_quiet_syncs_days, stop=stop)
    for count, what, days in (
        (events, "webhook events received", options.keep_events_days),
        (syncs, "sync runs that wrote nothing, finished", options.keep_quiet_syncs_days),
    ):
        if count:
            log.info("deleted %d %s over %d days ago", count, what, days)
    return events, syncs


def _log_tasks() -> None:
    """SIGUSR1: log where every task of the worker waits (for an operator's diagnosis)."""
    for task in asyncio.all_tasks():
        chain: list[str] = []
        awaited: Any = task.get_coro()
        while awaited is not None and len(chain) < 30:
            frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "ag_frame", None)
            if frame is not None:
                chain.append(f"{frame.f_code.co_name}:{frame.f_lineno}")
            awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "ag_await", None)
        log.warning("task %s waits in %s", task.get_name(), " -> ".join(chain) or "(done)")


def run_worker(settings: Settings, options: WorkerOptions) -> None:
    """Run a worker until SIGTERM or SIGINT (blocking)."""

    async def main() -> None:
        fleet = FleetWorker(settings, options)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, fleet.stop)
        loop.add_signal_handler(signal.SIGUSR1, _log_tasks)
        try:
            await fleet.run()
        finally:
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
                loop.remove_signal_handler(signum)

    asyncio.run(main())
