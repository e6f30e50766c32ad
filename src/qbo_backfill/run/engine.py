"""The backfill: plan windows, extract their pages concurrently, load each page, reconcile,
and commit a chunk's rows together with its 'done' mark."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field

import psycopg

from qbo_backfill.entities import Entity, EntityKind
from qbo_backfill.errors import ApiError, BackfillError, ConfigError, ReauthorizeError
from qbo_backfill.figures import ChunkRow, EntityTotals, RequestFigures
from qbo_backfill.load import request_minutes
from qbo_backfill.load.ledger import Chunk, Ledger, RunRequest
from qbo_backfill.load.rawtable import RawTable
from qbo_backfill.run.chunk import ChunkWork
from qbo_backfill.run.observer import NullObserver, RunObserver
from qbo_backfill.run.plan import FirstPage, plan_windows
from qbo_backfill.run.session import Session, open_session
from qbo_backfill.settings import Settings
from qbo_backfill.views.keep import keep_views, refresh_views
from qbo_backfill.windows import ExtractWindow

log = logging.getLogger(__name__)

# After this many chunks in a row fail (each after its own retries), the API is taken to be
# down for this run: no further chunk is started, so the run stops in bounded time, and the
# next run resumes where this one stopped.
MAX_FAILED_CHUNKS_IN_A_ROW = 3


@dataclass(frozen=True)
class BackfillOptions:
    """What to copy. `chunk_days=None` (the default) means auto: windows sized from the
    source's counts; a number means fixed windows of that many days."""

    entities: tuple[Entity, ...]
    window: ExtractWindow
    chunk_days: int | None = None
    page_size: int = 1000
    force: bool = False
    window_lists: bool = False  # window list entities on MetaData.LastUpdatedTime
    chunk_concurrency: int = 4

    def __post_init__(self) -> None:
        if not 1 <= self.page_size <= 1000:
            raise ConfigError(f"--page-size must be between 1 and 1000, not {self.page_size}")
        if self.chunk_days is not None and self.chunk_days < 1:
            raise ConfigError(f"--chunk-days must be at least 1 or 'auto', not {self.chunk_days}")
        if not self.entities:
            raise ConfigError("name at least one entity, e.g. `qbo-backfill backfill Invoice`")


@dataclass
class EntityResult:
    entity: str
    run_id: int
    status: str
    totals: EntityTotals
    chunks: list[ChunkRow]  # every chunk of the run, done earlier or now, in window order
    not_planned: str | None = None  # why planning failed (the API); the next run plans again

    def failed_chunks(self) -> list[ChunkRow]:
        return [c for c in self.chunks if c.status != "done"]


@dataclass
class BackfillResult:
    session_id: str
    entities: list[EntityResult] = field(default_factory=list)
    api_calls: int = 0
    throttled: int = 0
    stopped_early: str | None = None

    @property
    def ok(self) -> bool:
        return all(e.status == "done" for e in self.entities)


def backfill(
    settings: Settings, options: BackfillOptions, observer: RunObserver | None = None
) -> BackfillResult:
    """Run a backfill to the end (blocking); see `run_backfill`."""
    return asyncio.run(run_backfill(settings, options, observer))


async def run_backfill(
    settings: Settings, options: BackfillOptions, observer: RunObserver | None = None
) -> BackfillResult:
    """Copy every requested entity; resumable, idempotent, reconciled per window."""
    watcher = observer or NullObserver()
    async with open_session(settings, watcher.retrying) as session:
        return await Backfill(session, watcher).run(options)


class Backfill:
    """One process's backfill of one company, over an open session."""

    def __init__(self, session: Session, observer: RunObserver) -> None:
        self.session = session
        self.ledger = Ledger(session.schema)
        self.observer = observer
        self.session_id = uuid.uuid4().hex
        # Pages held in memory (fetching, parsed, or waiting for their chunk's connection),
        # across every chunk and entity: memory stays flat however large the backfill.
        self.page_gate = asyncio.Semaphore(session.settings.max_in_flight)
        self.failed_in_a_row = 0
        self.stopped_early: str | None = None
        # An entity's only page, read by its planning call: its chunk loads it, no call.
        self.first_pages: dict[str, FirstPage] = {}

    async def run(self, options: BackfillOptions) -> BackfillResult:
        async with await self._connect() as conn:
            await self.ledger.create(conn)
            await request_minutes.create(conn, self.session.schema)
            # One after the other: concurrent CREATE .. IF NOT EXISTS of one name can collide.
            for entity in options.entities:
                await RawTable(self.session.schema, entity).create(conn)
            await conn.commit()
        await keep_views(self.session.url, self.session.schema, self.session.settings.views_schema)
        gate = asyncio.Semaphore(options.chunk_concurrency)
        # Entities run together, so a small entity's few round trips hide under the pages
        # of a large one instead of adding to the wall time.
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [
                    group.create_task(self._run_entity(e, options, gate)) for e in options.entities
                ]
        except BaseExceptionGroup as failed:
            # The first error says what to do next (e.g. re-authorize); the rest were
            # cancelled with it or are the same.
            raise failed.exceptions[0] from None
        finally:
            async with await self._connect() as conn:
                await self._save_request_minutes(conn)  # planning's, and any left
        views = self.session.settings.views_schema
        await refresh_views(self.session.url, views, [e.name for e in options.entities])
        stats = self.session.client.stats
        return BackfillResult(
            self.session_id,
            [task.result() for task in tasks],
            api_calls=stats.requests,
            throttled=stats.throttled,
            stopped_early=self.stopped_early,
        )

    async def _run_entity(
        self, entity: Entity, options: BackfillOptions, gate: asyncio.Semaphore
    ) -> EntityResult:
        async with await self._connect() as ledger_conn:  # entities run concurrently
            return await self._run_entity_on(ledger_conn, entity, options, gate)

    async def _run_entity_on(
        self,
        ledger_conn: psycopg.AsyncConnection,
        entity: Entity,
        options: BackfillOptions,
        gate: asyncio.Semaphore,
    ) -> EntityResult:
        window = self._entity_window(entity, options)
        request = RunRequest(
            self.session.realm_id, entity.name, window, options.chunk_days, options.page_size
        )
        run = await self.ledger.open_run(
            ledger_conn, request, force=options.force, session_id=self.session_id
        )
        if not run.planned:
            try:
                planned = await plan_windows(
                    self.session.client, entity, window, options.chunk_days, options.page_size
                )
            except ApiError as exc:
                return self._not_planned(entity, run.run_id, window, exc)
            await self.ledger.plan(ledger_conn, run, entity.name, planned.windows)
            if planned.first_page is not None:
                self.first_pages[entity.name] = planned.first_page
        chunks = await self.ledger.chunks_of(ledger_conn, run.run_id)
        await ledger_conn.commit()  # no transaction left open while the chunks run
        todo = [c for c in chunks if c.status != "done"]
        self.observer.entity_started(entity.name, run.run_id, len(chunks), len(chunks) - len(todo))
        held: list[Chunk] = []
        await asyncio.gather(*(self._guarded(gate, entity, c, options, held) for c in todo))
        # Chunks another worker held: wait until it lets go; it finished them, or (if it
        # failed or died) they are processed here, so the run does not end with them open.
        await asyncio.gather(*(self._guarded(gate, entity, c, options, None) for c in held))
        totals = await self.ledger.finish_run(ledger_conn, run)
        self.observer.entity_finished(entity.name, totals)
        rows = await self.ledger.chunk_rows(ledger_conn, run.run_id)
        return EntityResult(entity.name, run.run_id, totals.status, totals, rows)

    def _not_planned(
        self, entity: Entity, run_id: int, window: ExtractWindow, exc: ApiError
    ) -> EntityResult:
        """Planning's counts failed after their retries: the run stays unplanned (no chunk
        is paged blind), and asking again plans it. Displays see the whole window fail."""
        message = f"{type(exc).__name__}: {exc}"
        log.error("%s could not be planned: %s", entity.name, message)
        self.observer.chunk_failed(entity.name, window, f"not planned: {message}")
        totals = EntityTotals("failed", 0, 0, 0, 0, 0, 0)
        self.observer.entity_finished(entity.name, totals)
        return EntityResult(entity.name, run_id, "failed", totals, [], not_planned=message)

    def _entity_window(self, entity: Entity, options: BackfillOptions) -> ExtractWindow:
        if entity.kind is EntityKind.TRANSACTION or options.window_lists:
            return options.window
        return ExtractWindow.whole()

    async def _guarded(
        self,
        gate: asyncio.Semaphore,
        entity: Entity,
        chunk: Chunk,
        options: BackfillOptions,
        held: list[Chunk] | None,
    ) -> None:
        async with gate:
            await self._process_chunk(entity, chunk, options, held)

    async def _process_chunk(
        self, entity: Entity, chunk: Chunk, options: BackfillOptions, held: list[Chunk] | None
    ) -> None:
        """Claim and process a chunk. With `held`, a chunk another worker holds is put there
        for later; without, the claim waits for that worker."""
        if self.stopped_early:
            return  # left as it is, for the next run
        async with await self._connect() as conn:
            if not await self.ledger.try_claim(conn, chunk, wait=held is None):
                if held is not None:
                    held.append(chunk)
                return  # another worker has it, or finished it
            self.observer.chunk_started(entity.name, chunk.window)
            work = ChunkWork(
                self.session,
                conn,
                chunk,
                entity,
                options.page_size,
                self.page_gate,
                self.observer,
                self.first_pages.pop(entity.name, None),
            )
            try:
                async with conn.transaction():
                    figures = await work.extract_and_load()
                    await self.ledger.mark_done(conn, chunk, figures)
            except (ApiError, BackfillError, psycopg.Error) as exc:
                if isinstance(exc, ReauthorizeError):
                    raise
                await self._record_failure(conn, entity, chunk, exc, work.stats.spent())
                return
            finally:
                await self._release(conn, chunk)
                await self._save_request_minutes(conn)
            self.failed_in_a_row = 0
            self.observer.chunk_finished(entity.name, chunk.window, figures)

    async def _record_failure(
        self,
        conn: psycopg.AsyncConnection,
        entity: Entity,
        chunk: Chunk,
        exc: Exception,
        spent: RequestFigures,
    ) -> None:
        message = f"{type(exc).__name__}: {exc}"
        log.error("chunk %s %s failed: %s", entity.name, chunk.window, message)
        self.failed_in_a_row += 1
        if self.failed_in_a_row >= MAX_FAILED_CHUNKS_IN_A_ROW and not self.stopped_early:
            self.stopped_early = f"stopped after {self.failed_in_a_row} chunks in a row failed"
            log.error("%s; no further chunk is started; last: %s", self.stopped_early, message)
        self.observer.chunk_failed(entity.name, chunk.window, message)
        if conn.closed:
            return
        await self.ledger.mark_failed(conn, chunk, message, spent)

    async def _release(self, conn: psycopg.AsyncConnection, chunk: Chunk) -> None:
        if not conn.closed and not conn.broken:
            await self.ledger.release(conn, chunk)

    async def _save_request_minutes(self, conn: psycopg.AsyncConnection) -> None:
        """Add the requests counted per minute so far to the ledger: one write per chunk."""
        if conn.closed or conn.broken:
            return  # they stay counted for the next write
        minutes = self.session.client.minutes
        counts = minutes.take()
        try:
            async with conn.transaction():
                await request_minutes.add(conn, self.session.schema, self.session.realm_id, counts)
        except psycopg.Error as exc:
            minutes.give_back(counts)
            log.warning("requests per minute not recorded yet: %s", exc)

    async def _connect(self) -> psycopg.AsyncConnection:
        return await psycopg.AsyncConnection.connect(self.session.url)
