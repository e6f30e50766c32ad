"""The backfill: plan windows, extract their pages concurrently, load each page, reconcile,
and commit a chunk's rows together with its 'done' mark."""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg

from qbo_backfill.auth.oauth import ClientCredentials
from qbo_backfill.auth.tokens import TokenCipher, TokenProvider, TokenStore
from qbo_backfill.entities import Entity, EntityKind
from qbo_backfill.errors import ApiError, BackfillError, ConfigError, ReauthorizeError
from qbo_backfill.load.db import database_url
from qbo_backfill.load.ledger import Chunk, Ledger, Run, RunRequest
from qbo_backfill.load.rawtable import PageMeta, RawTable
from qbo_backfill.load.records import prepare_page
from qbo_backfill.qbo import query
from qbo_backfill.qbo.client import BATCH_MAX_ITEMS, ClientStats, QboClient
from qbo_backfill.qbo.shared_limits import open_limiter
from qbo_backfill.run.observer import RunObserver, SilentObserver
from qbo_backfill.settings import Settings
from qbo_backfill.windows import ExtractWindow

log = logging.getLogger(__name__)

# `auto` chunking keeps a window under this many pages, so a window's paging stays short
# enough that records rarely move under it, while pages still come back full.
AUTO_MAX_PAGES = 100
# A window whose count moves while it is paged is fetched again, at most this many times.
MAX_REFETCHES = 3
# After this many chunks in a row fail (each after its own retries), the API is taken to be
# down for this run: no further chunk is started, so the run stops in bounded time, and the
# next run resumes where this one stopped.
MAX_FAILED_CHUNKS_IN_A_ROW = 3


@dataclass(frozen=True)
class BackfillOptions:
    """What to copy. `chunk_days=None` means auto: windows sized from COUNT(*)."""

    entities: tuple[Entity, ...]
    window: ExtractWindow
    chunk_days: int | None = 7
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
    totals: dict[str, Any]


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
    async with Backfill.open(settings, observer or SilentObserver()) as job:
        return await job.run(options)


class Backfill:
    """One process's backfill of one realm: shared client, limiter, tokens, database."""

    def __init__(
        self,
        settings: Settings,
        realm_id: str,
        url: str,
        client: QboClient,
        ledger_conn: psycopg.AsyncConnection,
        observer: RunObserver,
    ) -> None:
        self.settings = settings
        self.realm_id = realm_id
        self.url = url
        self.client = client
        self.ledger = Ledger(settings.schema)
        self.ledger_conn = ledger_conn
        self.observer = observer
        self.session_id = uuid.uuid4().hex
        # Pages held in memory (fetching, parsed, or waiting for their chunk's connection),
        # across every chunk and entity: memory stays flat however large the backfill.
        self.page_gate = asyncio.Semaphore(settings.max_in_flight)
        self.failed_in_a_row = 0
        self.stopped_early: str | None = None

    @classmethod
    def open(cls, settings: Settings, observer: RunObserver) -> _BackfillContext:
        return _BackfillContext(settings, observer)

    async def run(self, options: BackfillOptions) -> BackfillResult:
        await self.ledger.create(self.ledger_conn)
        await self.ledger_conn.commit()
        async with await self._connect() as conn:
            # One after the other: concurrent CREATE .. IF NOT EXISTS of one name can collide.
            for entity in options.entities:
                await RawTable(self.settings.schema, entity).create(conn)
            await conn.commit()
        result = BackfillResult(self.session_id)
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
        result.entities = [task.result() for task in tasks]
        result.api_calls = self.client.stats.requests
        result.throttled = self.client.stats.throttled
        result.stopped_early = self.stopped_early
        return result

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
            self.realm_id, entity.name, window, options.chunk_days, options.page_size
        )
        run = await self.ledger.open_run(
            ledger_conn, request, force=options.force, session_id=self.session_id
        )
        if not run.planned:
            await self._plan(ledger_conn, run, entity, window, options)
        chunks = await self.ledger.chunks_of(ledger_conn, run.run_id)
        todo = [c for c in chunks if c.status != "done"]
        self.observer.entity_started(entity.name, run.run_id, len(chunks), len(chunks) - len(todo))
        held: list[Chunk] = []
        await asyncio.gather(*(self._guarded(gate, entity, c, options, held) for c in todo))
        # Chunks another worker held: wait until it lets go; it finished them, or (if it
        # failed or died) they are processed here, so the run does not end with them open.
        await asyncio.gather(*(self._guarded(gate, entity, c, options, None) for c in held))
        totals = await self.ledger.finish_run(ledger_conn, run)
        self.observer.entity_finished(entity.name, totals)
        return EntityResult(entity.name, run.run_id, str(totals.get("status", "failed")), totals)

    def _entity_window(self, entity: Entity, options: BackfillOptions) -> ExtractWindow:
        if entity.kind is EntityKind.TRANSACTION or options.window_lists:
            return options.window
        return ExtractWindow.whole()

    async def _plan(
        self,
        ledger_conn: psycopg.AsyncConnection,
        run: Run,
        entity: Entity,
        window: ExtractWindow,
        options: BackfillOptions,
    ) -> None:
        if window.is_whole:
            planned: list[tuple[ExtractWindow, int | None]] = [(window, None)]
        elif options.chunk_days is None:
            planned = await self._plan_auto(entity, window, options.page_size * AUTO_MAX_PAGES)
        else:
            planned = [(w, None) for w in window.split(options.chunk_days)]
        await self.ledger.plan(ledger_conn, run, entity.name, planned)

    async def _plan_auto(
        self, entity: Entity, window: ExtractWindow, max_rows: int
    ) -> list[tuple[ExtractWindow, int | None]]:
        """Windows of at most `max_rows` each (a single day may hold more), with their counts
        kept so that a chunk does not ask for them again.

        The window is cut into up to 30 slices counted in one batch call; a slice still too
        large is cut and counted again; then neighbouring slices are joined while their sum
        stays within `max_rows`, so pages come back full and windows are few.
        """
        slices: list[tuple[ExtractWindow, int]] = []
        pending = [window]
        while pending:
            current = pending.pop()
            parts = current.split(math.ceil(current.days / BATCH_MAX_ITEMS))
            counts = await self.client.count_many([query.count_query(entity, p) for p in parts])
            for part, count in zip(parts, counts, strict=True):
                if count > max_rows and part.days >= 2:
                    pending.append(part)
                else:
                    slices.append((part, count))
        return _join_slices(sorted(slices), max_rows)

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
            self.observer.chunk_started(entity.name, str(chunk.window))
            work = ChunkWork(self, conn, entity, chunk, options)
            try:
                async with conn.transaction():
                    figures = await work.extract_and_load()
                    await self.ledger.mark_done(conn, chunk, figures)
            except (ApiError, BackfillError, psycopg.Error) as exc:
                if isinstance(exc, ReauthorizeError):
                    raise
                await self._record_failure(conn, entity, chunk, exc, work.stats)
                return
            finally:
                await self._release(conn, chunk)
            self.failed_in_a_row = 0
            self.observer.chunk_finished(entity.name, figures | {"window": str(chunk.window)})

    async def _record_failure(
        self,
        conn: psycopg.AsyncConnection,
        entity: Entity,
        chunk: Chunk,
        exc: Exception,
        stats: ClientStats,
    ) -> None:
        message = f"{type(exc).__name__}: {exc}"
        log.error("chunk %s %s failed: %s", entity.name, chunk.window, message)
        self.failed_in_a_row += 1
        if self.failed_in_a_row >= MAX_FAILED_CHUNKS_IN_A_ROW and not self.stopped_early:
            self.stopped_early = f"stopped after {self.failed_in_a_row} chunks in a row failed"
            log.error("%s; no further chunk is started; last: %s", self.stopped_early, message)
        self.observer.chunk_failed(entity.name, str(chunk.window), message)
        if conn.closed:
            return
        await self.ledger.mark_failed(conn, chunk, message, _stat_figures(stats))

    async def _release(self, conn: psycopg.AsyncConnection, chunk: Chunk) -> None:
        if not conn.closed and not conn.broken:
            await self.ledger.release(conn, chunk)

    async def _connect(self) -> psycopg.AsyncConnection:
        return await psycopg.AsyncConnection.connect(self.url)


class ChunkWork:
    """One chunk's extraction and load, inside the transaction that marks it done."""

    def __init__(
        self,
        job: Backfill,
        conn: psycopg.AsyncConnection,
        entity: Entity,
        chunk: Chunk,
        options: BackfillOptions,
    ) -> None:
        self.job = job
        self.conn = conn
        self.entity = entity
        self.chunk = chunk
        self.options = options
        self.table = RawTable(job.settings.schema, entity)
        self.stats = ClientStats()
        self.figures: dict[str, Any] = {}
        self._db_lock = asyncio.Lock()

    async def extract_and_load(self) -> dict[str, Any]:
        """Page the window until its count holds still; then count what the table holds."""
        count_query = query.count_query(self.entity, self.chunk.window)
        count = self.chunk.planned_count
        totals = {"rows_inserted": 0, "rows_updated": 0}
        await self.table.create_stage(self.conn)
        for refetches in range(MAX_REFETCHES + 1):
            self.figures = _empty_pass_figures() | {"refetches": refetches}
            if refetches:
                # The last pass's figures are the chunk's: so are its quarantined records.
                await self.table.clear_quarantine(self.conn, self.chunk.chunk_id)
            count = await self._fetch_all_pages(count, count_query)
            self.figures["source_count"] = count
            totals["rows_inserted"] += self.figures["rows_inserted"]
            totals["rows_updated"] += self.figures["rows_updated"]
            after = await self.job.client.count(count_query, self.stats)
            if after == count:
                break
            log.info(
                "%s %s: count moved %d -> %d while paging; fetching again",
                self.entity.name,
                self.chunk.window,
                count,
                after,
            )
            count = after
        rows_in_table = await self.table.rows_in_window(
            self.conn, self.job.realm_id, self.chunk.window
        )
        accounted = rows_in_table + self.figures["rows_quarantined"]
        return (
            self.figures
            | totals
            | _stat_figures(self.stats)
            | {
                "source_count_after": after,
                "rows_in_table": rows_in_table,
                "matched": after == count and accounted == after,
            }
        )

    async def _fetch_all_pages(self, count: int | None, count_query: str) -> int:
        """Page the window; return its source count (`count` when known beforehand)."""
        size = self.options.page_size
        gate = self.job.page_gate
        first = 1
        if count is None:
            # An unplanned window (a list entity taken whole) is often one short page: that
            # page is then its count, and no COUNT(*) is asked for before the paging.
            rows = await self._page(gate, 1, size)
            if rows < size:
                return rows - self.figures["source_duplicates"]  # records, each Id once
            count, first = await self.job.client.count(count_query, self.stats), 2
        pages = math.ceil(count / size)
        await asyncio.gather(*(self._page(gate, n, size) for n in range(first, pages + 1)))
        return count

    async def _page(self, gate: asyncio.Semaphore, number: int, size: int) -> int:
        """Fetch and load one page; the number of records it held."""
        async with gate:
            text = query.page_query(self.entity, self.chunk.window, (number - 1) * size + 1, size)
            records = await self.job.client.page(text, self.entity.name, self.stats)
            prepared = prepare_page(records)
            extracted = len(records)
            del records  # only the prepared rows wait for the connection
            meta = PageMeta(
                self.chunk.run_id, self.chunk.chunk_id, self.chunk.window, number, size, text
            )
            async with self._db_lock:
                counts = await self.table.upsert_page(self.conn, self.job.realm_id, prepared, meta)
            self._add(extracted, prepared.duplicates, len(prepared.quarantined), counts)
            self.job.observer.page_loaded(self.entity.name, extracted)
            return extracted

    def _add(self, extracted: int, duplicates: int, quarantined: int, counts: Any) -> None:
        f = self.figures
        f["pages"] += 1
        f["rows_extracted"] += extracted
        f["source_duplicates"] += duplicates
        f["rows_quarantined"] += quarantined
        f["rows_inserted"] += counts.inserted
        f["rows_updated"] += counts.updated
        f["rows_unchanged"] += counts.unchanged


def _join_slices(
    slices: list[tuple[ExtractWindow, int]], max_rows: int
) -> list[tuple[ExtractWindow, int | None]]:
    """Neighbouring slices joined into windows of at most `max_rows` (ordered, no gaps)."""
    joined: list[tuple[ExtractWindow, int | None]] = []
    start, end, total = slices[0][0].start, slices[0][0].end, slices[0][1]
    for part, count in slices[1:]:
        if total + count <= max_rows:
            end, total = part.end, total + count
            continue
        joined.append((ExtractWindow(start, end), total))
        start, end, total = part.start, part.end, count
    joined.append((ExtractWindow(start, end), total))
    return joined


def _empty_pass_figures() -> dict[str, Any]:
    return dict.fromkeys(
        (
            "pages",
            "rows_extracted",
            "rows_inserted",
            "rows_updated",
            "rows_unchanged",
            "rows_quarantined",
            "source_duplicates",
        ),
        0,
    )


def _stat_figures(stats: ClientStats) -> dict[str, int]:
    return {"api_calls": stats.requests, "throttled": stats.throttled, "retries": stats.retries}


class _BackfillContext:
    """Opens the shared pieces of a backfill and closes them whatever happens."""

    def __init__(self, settings: Settings, observer: RunObserver) -> None:
        self.settings = settings
        self.observer = observer
        self._http: httpx.AsyncClient | None = None
        self._conn: psycopg.AsyncConnection | None = None
        self._limits = AsyncExitStack()

    async def __aenter__(self) -> Backfill:
        settings = self.settings
        realm_id, credentials = require_credentials(settings)
        url = await asyncio.to_thread(database_url, settings)
        store = TokenStore(url, settings.schema, TokenCipher.from_settings(settings))
        if settings.refresh_token is not None:
            await asyncio.to_thread(
                store.import_token,
                realm_id,
                settings.environment,
                settings.refresh_token,
                force=False,
            )
        tokens = TokenProvider(store, realm_id, credentials)
        limiter = await self._limits.enter_async_context(open_limiter(settings, realm_id, url))
        limits = httpx.Limits(max_connections=settings.max_in_flight + 2)
        self._http = httpx.AsyncClient(limits=limits, timeout=settings.request_timeout_seconds)
        client = QboClient(settings, realm_id, tokens, limiter, self._http)
        client.retry_listeners.append(self.observer.retrying)
        self._conn = await psycopg.AsyncConnection.connect(url)
        return Backfill(settings, realm_id, url, client, self._conn, self.observer)

    async def __aexit__(self, *exc_info: object) -> None:
        if self._http is not None:
            await self._http.aclose()
        if self._conn is not None:
            await self._conn.close()
        await self._limits.aclose()


def require_credentials(settings: Settings) -> tuple[str, ClientCredentials]:
    """The realm and client credentials a run needs, or a ConfigError naming what is missing."""
    realm_id, client_id, client_secret = (
        settings.realm_id,
        settings.client_id,
        settings.client_secret,
    )
    if realm_id is None or client_id is None or client_secret is None:
        named = {
            "QBO_REALM_ID": realm_id,
            "QBO_CLIENT_ID": client_id,
            "QBO_CLIENT_SECRET": client_secret,
        }
        missing = ", ".join(name for name, value in named.items() if value is None)
        raise ConfigError(
            f"missing configuration: {missing} (environment, .env, Mage secrets or /run/secrets)"
        )
    return realm_id, ClientCredentials(client_id, client_secret, settings.token_url)
