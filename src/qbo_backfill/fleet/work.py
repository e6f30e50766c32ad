"""What a fleet job does: plan one company's run of one entity, or copy one chunk of it.

Both reuse the single-company pieces (session, ledger, plan, chunk work), so a chunk copied
by the fleet is the same chunk a `backfill` would copy, claimed by the same advisory lock:
a chunk run twice (a retried job, a worker killed after its commit) is copied once.
Jobs carry realm ids, never tokens: each worker reads tokens from the encrypted store.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, replace
from datetime import date

import httpx
import psycopg

from qbo_backfill.entities import Entity, EntityKind, resolve_entity
from qbo_backfill.errors import ApiError, BackfillError, ReauthorizeError
from qbo_backfill.fleet.budget import BudgetReached, CallBudget
from qbo_backfill.fleet.reauth import ReauthMarks
from qbo_backfill.load.ledger import Chunk, Ledger, Run, RunRequest
from qbo_backfill.load.pools import ConnectionPools, autocommit_connection
from qbo_backfill.run.chunk import ChunkWork
from qbo_backfill.run.observer import NullObserver
from qbo_backfill.run.plan import FirstPage, plan_windows
from qbo_backfill.run.prepared import Prepared
from qbo_backfill.run.session import Session, open_session
from qbo_backfill.settings import Secret, Settings
from qbo_backfill.windows import ExtractWindow

__all__ = [
    "ChunkBusy",
    "ChunkJob",
    "FleetContext",
    "PlanJob",
    "copy_chunk",
    "guard",
    "plan_run",
]

log = logging.getLogger(__name__)


class ChunkBusy(BackfillError):
    """Another live session holds the chunk: try again shortly (it may finish it)."""


@dataclass(frozen=True)
class FleetContext:
    """What one worker process shares between its jobs."""

    settings: Settings  # with the database URL resolved, so no job starts a server
    url: str
    pools: ConnectionPools  # the process's connections, lent to its jobs
    page_gate: asyncio.Semaphore  # pages held in memory by all the process's jobs
    http: httpx.AsyncClient  # the API's kept-alive connections, shared by the jobs
    prepared: Prepared  # the schema's shape, checked once a minute, not per company

    @classmethod
    def create(
        cls, settings: Settings, url: str, pools: ConnectionPools, http: httpx.AsyncClient
    ) -> FleetContext:
        resolved = replace(settings, database_url=Secret(url), refresh_token=None)
        gate = asyncio.Semaphore(settings.max_in_flight * 2)
        return cls(resolved, url, pools, gate, http, Prepared())

    def for_realm(self, realm_id: str) -> Settings:
        return replace(self.settings, realm_id=realm_id)

    def session(self, realm_id: str) -> AbstractAsyncContextManager[Session]:
        """A session with the company over the worker's pools and HTTP client."""
        return open_session(self.for_realm(realm_id), pools=self.pools, http=self.http)

    def budget(self) -> CallBudget:
        s = self.settings
        return CallBudget(s.schema, s.client_id or "", s.monthly_call_budget)


@dataclass(frozen=True)
class PlanJob:
    """Plan one company's run of one entity (the arguments of a plan job)."""

    realm: str
    entity: str
    start: str  # ISO dates of the half-open window
    end: str
    chunk_days: int | None
    page_size: int

    @classmethod
    def of(
        cls, realm: str, entity: Entity, window: ExtractWindow, chunk_days: int | None, size: int
    ) -> PlanJob:
        if entity.kind is not EntityKind.TRANSACTION:
            window = ExtractWindow.whole()  # list entities are taken whole, as `backfill` does
        return cls(realm, entity.name, str(window.start), str(window.end), chunk_days, size)

    @property
    def request(self) -> RunRequest:
        window = ExtractWindow(date.fromisoformat(self.start), date.fromisoformat(self.end))
        return RunRequest(self.realm, self.entity, window, self.chunk_days, self.page_size)


@dataclass(frozen=True)
class ChunkJob:
    """Copy one chunk (the arguments of a chunk job); `index` is its place in its run."""

    realm: str
    entity: str
    run_id: int
    chunk_id: int
    index: int
    page_size: int


ChunkDeferrer = Callable[[list[ChunkJob]], Awaitable[int]]


@dataclass(frozen=True)
class _OpenJob:
    """What one company's job holds open: the worker's context, the company's session, the
    job's connection and the ledger."""

    ctx: FleetContext
    session: Session
    conn: psycopg.AsyncConnection
    ledger: Ledger


async def plan_run(ctx: FleetContext, job: PlanJob, defer: ChunkDeferrer) -> str:
    """Open (or resume) the run and plan its chunks once; hand all open chunks but the
    first to `defer`, and copy the first here, on the session and connection already open:
    a small company's run then costs one job, not two."""
    ctx.prepared.forget()  # it may make a raw table, over which the views are made again
    async with _company_work(ctx, job.realm) as work:
        run, chunks, first_page = await _planned(work, job)
        calls = work.session.client.stats.requests
        await ctx.budget().add(work.conn, calls)  # one statement: atomic
        open_chunks = [(index, c) for index, c in enumerate(chunks) if c.status != "done"]
        if not open_chunks:
            await work.ledger.finish_run(work.conn, run)
            return f"planned {len(chunks)} chunks, all done"
        todo = [
            ChunkJob(job.realm, job.entity, run.run_id, c.chunk_id, index, job.page_size)
            for index, c in open_chunks
        ]
        deferred = await defer(todo[1:])
        first = await _copy_on(work, todo[0], open_chunks[0][1], defer, first_page)
    return f"planned {len(chunks)} chunks, {deferred} jobs deferred; first chunk {first}"


@asynccontextmanager
async def _company_work(ctx: FleetContext, realm: str) -> AsyncIterator[_OpenJob]:
    """A connection and a session for one company's job, once `guard` lets it start; a
    refused token marks the company on the way out. The connection is in autocommit: a
    lone statement needs no BEGIN and COMMIT of its own, and what must be atomic (the
    ledger's steps, a chunk's rows with its done mark) runs in explicit transactions."""
    async with autocommit_connection(ctx.url, ctx.pools.jobs) as conn:
        await guard(ctx, conn, realm)
        async with (
            _marking_reauthorization(ctx, conn, realm),
            ctx.session(realm) as session,
        ):
            yield _OpenJob(ctx, session, conn, Ledger(ctx.settings.schema))


async def _planned(work: _OpenJob, job: PlanJob) -> tuple[Run, list[Chunk], FirstPage | None]:
    """The run of this request (resumed if it exists) and its chunks, planned once; and
    the page planning read when the whole range fits one."""
    ledger, conn = work.ledger, work.conn
    run = await ledger.open_run(conn, job.request, force=False, session_id=uuid.uuid4().hex)
    first_page = None
    if not run.planned:
        entity = resolve_entity(job.entity)
        window = job.request.window
        client = work.session.client
        planned = await plan_windows(client, entity, window, job.chunk_days, job.page_size)
        await ledger.plan(conn, run, entity.name, planned.windows)
        first_page = planned.first_page
    return run, await ledger.chunks_of(conn, run.run_id), first_page


async def copy_chunk(ctx: FleetContext, job: ChunkJob) -> str:
    """Claim the chunk, copy it, commit its rows with its 'done' mark and its calls."""
    async with _company_work(ctx, job.realm) as work:
        chunk = await _chunk(work.ledger, work.conn, job)
        return await _copy_on(work, job, chunk, None, None)


async def _copy_on(
    work: _OpenJob,
    job: ChunkJob,
    chunk: Chunk,
    defer: ChunkDeferrer | None,
    first_page: FirstPage | None,
) -> str:
    """Copy one chunk on an open session and connection, unless done or held elsewhere."""
    ledger, conn = work.ledger, work.conn
    if chunk.status == "done":
        return "already done"
    if not await ledger.try_claim(conn, chunk):
        if (await _chunk(ledger, conn, job)).status == "done":
            return "already done"
        if defer is None:
            raise ChunkBusy(f"chunk {job.chunk_id} is held by another worker")
        await defer([job])  # its own job waits for the holder, not this plan job
        return "held by another worker: deferred"
    try:
        rows = await _copy_claimed(work, job, chunk, first_page)
    finally:
        if not conn.closed and not conn.broken:
            await ledger.release(conn, chunk)
    await ledger.finish_if_complete(conn, job.run_id)
    return f"copied {rows} rows"


async def _copy_claimed(
    work: _OpenJob, job: ChunkJob, chunk: Chunk, first_page: FirstPage | None
) -> int:
    ledger, conn, budget = work.ledger, work.conn, work.ctx.budget()
    entity = resolve_entity(job.entity)
    gate = work.ctx.page_gate
    chunk_work = ChunkWork(
        work.session, conn, chunk, entity, job.page_size, gate, NullObserver(), first_page
    )
    try:
        async with conn.transaction():
            figures = await chunk_work.extract_and_load()
            await ledger.mark_done(conn, chunk, figures)
            await budget.add(conn, chunk_work.stats.requests)
    except ReauthorizeError:
        raise
    except (ApiError, BackfillError, psycopg.Error) as exc:
        if not conn.closed and not conn.broken:
            error = f"{type(exc).__name__}: {exc}"
            await ledger.mark_failed(conn, chunk, error, chunk_work.stats.spent())
            await budget.add(conn, chunk_work.stats.requests)
        raise
    return figures.rows_extracted


@asynccontextmanager
async def _marking_reauthorization(
    ctx: FleetContext, conn: psycopg.AsyncConnection, realm: str
) -> AsyncIterator[None]:
    """Mark the company when Intuit refuses its token, so its other jobs stop at once."""
    try:
        yield
    except ReauthorizeError as exc:
        if not conn.closed and not conn.broken:
            await ReauthMarks(ctx.settings.schema).mark(conn, realm, str(exc))
        raise


async def guard(ctx: FleetContext, conn: psycopg.AsyncConnection, realm: str) -> None:
    """Refuse to start work for a company that must re-authorize, or past the budget."""
    marks = ReauthMarks(ctx.settings.schema)
    reason = await marks.reason(conn, realm)
    if reason is not None:
        raise ReauthorizeError(f"realm {realm} needs re-authorization: {reason}")
    try:
        await ctx.budget().check(conn)
    except BudgetReached as exc:
        log.warning("%s", exc)  # the job waits for next month; the line says why
        raise
    await conn.commit()


async def _chunk(ledger: Ledger, conn: psycopg.AsyncConnection, job: ChunkJob) -> Chunk:
    for chunk in await ledger.chunks_of(conn, job.run_id):
        if chunk.chunk_id == job.chunk_id:
            return chunk
    raise BackfillError(f"chunk {job.chunk_id} of run {job.run_id} is not in the ledger")
