"""One company's request limits shared by every process and worker, through PostgreSQL.

Intuit's limits are per company (500 requests a minute, 10 a second, 10 in flight, 40
batch calls a minute), whatever number of processes or machines serve it. Each process
pacing itself alone lets N of them together exceed the limits, draw 429s, and wait out
Intuit's 60 s. Here the schedule lives in the database every process already reaches:

- `qbo_backfill_limits`, one row per realm, updated atomically: the next free start time
  (starts evenly spaced at the per-minute rate, so the per-second window holds too), the
  next free batch start, and a pause after a 429 (one process's 429 pauses all of them).
  A request reserves its start with one UPDATE and sleeps until then: waiting for a turn
  costs no statement, so no polling.
- `qbo_backfill_slots`, rows 1..max_in_flight per realm: a request claims a free one
  (`FOR UPDATE SKIP LOCKED`) at its start and gives it back when done. A slot is a lease
  that expires: renewed while its request runs, so a killed process's slots come back
  within `LEASE_SECONDS`.

Why leases and not session-level advisory locks (which vanish the instant a connection
drops): a killed process's socket closes at once on its own machine, but a machine that
dies or loses its network keeps its backend, and so its locks, until TCP keepalive gives
up (minutes by default); and behind pgbouncer in transaction mode a session lock stays on
whichever server connection took it, held for a client that has gone, or released by
another. Leases expire on the database's clock whatever happens to the client, and every
statement here is a single autocommitted one, so they work behind pgbouncer's transaction
pooling too (prepared statements there need pgbouncer 1.21+ `max_prepared_statements`).

Times are the database's (`clock_timestamp()`), so machines with skewed clocks share one
schedule: a process only learns how long to wait, and measures that with its own
monotonic clock. Each process keeps a local gate (at most `max_in_flight` of its own
requests asking the database at once) in front of the shared one.

The tables are UNLOGGED: their rows are a schedule for the next few seconds, not data to
keep, and a write that waits for no WAL flush costs a tenth as much (a crash of the
database empties them; the next reservation puts the realm's rows back).

Cost per request: one statement to reserve the start (which also gives back the slots of
requests that just finished) and one to claim a slot; a release goes out on its own only
when no other statement follows within `RELEASE_DELAY`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

import psycopg
from psycopg import sql

from qbo_backfill.load.db import DDL_LOCK
from qbo_backfill.load.pools import AsyncPool, autocommit_connection
from qbo_backfill.qbo import limits_statements as statements
from qbo_backfill.qbo.client import BATCH_CALLS_PER_MINUTE
from qbo_backfill.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["LIMITS_TABLE", "SLOTS_TABLE", "LimiterStats", "SharedLimiter", "open_limiter"]

LIMITS_TABLE = "qbo_backfill_limits"
SLOTS_TABLE = "qbo_backfill_slots"
# A slot not renewed for this long is free again: the bound on a killed process's slots.
LEASE_SECONDS = 10.0
RENEW_SECONDS = 3.0
# A request that wakes this much after its reserved start (its event loop was busy) asks
# for a new start instead of going late: late starts from several processes could bunch up
# past 10 a second. At 490 a minute (0.122 s apart) starts may slip up to 0.22 s before a
# one-second window holds 11; this keeps them well inside that.
LATE_SECONDS = 0.1
# Re-reserving after a late wake is bounded: a loop that is always late still gets through.
MAX_LATE_WAKES = 2
# A finished request's slot rides on the next statement, or goes alone after this delay.
RELEASE_DELAY = 0.05
# Waiting for a free slot (every slot in flight): one task per process asks, backing off.
BUSY_BACKOFF = (0.02, 0.2)


def open_limiter(
    settings: Settings, realm_id: str, url: str, pool: AsyncPool | None = None
) -> AbstractAsyncContextManager[SharedLimiter]:
    """The company's shared limiter at the configured limits, in the configured schema."""
    return SharedLimiter.open(
        url,
        settings.schema,
        realm_id,
        pool,
        per_minute=settings.requests_per_minute,
        max_in_flight=settings.max_in_flight,
        batch_per_minute=BATCH_CALLS_PER_MINUTE,
    )


@dataclass
class LimiterStats:
    """What the shared limiter cost: statements sent and time spent waiting on them."""

    slots: int = 0
    """In-flight slots held: one per request this process sent."""
    statements: int = 0
    """Statements sent to PostgreSQL (reservations, claims, releases, renewals, pauses)."""
    statement_seconds: float = 0.0
    """Time spent on those statements, round trips included (not the pacing waits)."""
    late_wakes: int = 0
    """Wake-ups before this process's turn had come, slept again (at most MAX_LATE_WAKES)."""
    busy_waits: int = 0
    """Times every slot was in flight and this process backed off before asking again."""


@dataclass(frozen=True)
class _Claim:
    slot: int | None
    paused_seconds: float


class SharedLimiter:
    """`RateLimiter`'s interface (`slot()`, `pause()`), with the limits kept in PostgreSQL."""

    def __init__(
        self,
        conn: psycopg.AsyncConnection[Any],
        schema: str,
        realm_id: str,
        *,
        per_minute: int,
        max_in_flight: int,
        batch_per_minute: int,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self._conn = conn
        self._realm = realm_id
        self._max_slots = max_in_flight
        self._interval = timedelta(seconds=60.0 / per_minute)
        self._batch_interval = timedelta(seconds=60.0 / batch_per_minute)
        self._lease = timedelta(seconds=lease_seconds)
        self._renew_seconds = min(RENEW_SECONDS, lease_seconds / 3)
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._tables = {
            "limits": sql.Identifier(schema, LIMITS_TABLE),
            "slots": sql.Identifier(schema, SLOTS_TABLE),
        }
        self._gate = asyncio.Semaphore(max_in_flight)
        self._busy = asyncio.Lock()
        self._held: set[int] = set()
        self._freed: list[int] = []
        self._release_timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._renewer: asyncio.Task[None] | None = None
        self._queries: dict[str, sql.Composed] = {}
        self.stats = LimiterStats()

    # ---- lifecycle ------------------------------------------------------------------------
    @classmethod
    @asynccontextmanager
    async def open(
        cls, url: str, schema: str, realm_id: str, pool: AsyncPool | None = None, **limits: Any
    ) -> AsyncIterator[SharedLimiter]:
        """Connect (or borrow from `pool`), create the tables and the realm's rows if missing;
        give slots back on exit."""
        async with autocommit_connection(url, pool) as conn:
            limiter = cls(conn, schema, realm_id, **limits)
            ready = (url, schema, realm_id, limiter._max_slots)
            try:
                await limiter._prepare(schema, known=ready in cls._ready)
                cls._ready.add(ready)
                yield limiter
            except BaseException:
                cls._ready.discard(ready)  # the next session checks the tables again
                raise
            finally:
                await limiter._close()

    # The (database, schema, realm, slots) whose rows this process made sure of: a session
    # then skips that statement. Rows gone since (a crash empties UNLOGGED tables) are put
    # back by the reservation that finds none.
    _ready: ClassVar[set[tuple[str, str, str, int]]] = set()

    async def _prepare(self, schema: str, *, known: bool) -> None:
        if not known:
            await self._make_rows(schema)
        self._renewer = asyncio.create_task(self._renew_forever())

    async def _make_rows(self, schema: str) -> None:
        """The realm's rows, and the tables first if missing."""
        try:
            await self._ensure_rows()
        except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName):
            async with self._conn.transaction():
                await self._conn.execute(DDL_LOCK)
                await self._conn.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema))
                )
                await self._conn.execute(sql.SQL(statements.DDL).format(**self._tables))
            await self._ensure_rows()

    async def _ensure_rows(self) -> None:
        await self._execute(statements.ROWS, {"slots": self._max_slots})

    async def _close(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
        if self._release_timer is not None:
            self._release_timer.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._freed.extend(self._held)
        self._held.clear()
        if self._freed and not self._conn.closed:
            try:
                await self._release()
            except psycopg.Error as exc:  # the leases expire on their own
                log.warning("could not give back request slots: %s", exc)

    # ---- the interface the client uses ----------------------------------------------------
    @asynccontextmanager
    async def slot(self, *, batch: bool = False) -> AsyncIterator[None]:
        """Hold one of the company's in-flight slots, from a start the schedule gave us."""
        async with self._gate:
            number = await self._take_turn(batch)
            self._held.add(number)
            self.stats.slots += 1
            try:
                yield
            finally:
                self._held.discard(number)
                self._release_soon(number)

    def pause(self, seconds: float) -> None:
        """Pause every process's later starts (after a 429: the server asked us to wait)."""
        params = {"realm": self._realm, "pause": timedelta(seconds=seconds)}
        self._spawn(self._execute(statements.PAUSE, params))

    # ---- taking a turn --------------------------------------------------------------------
    async def _take_turn(self, batch: bool) -> int:
        late_wakes = 0
        while True:
            if not await self._await_start(batch) and late_wakes < MAX_LATE_WAKES:
                late_wakes += 1
                self.stats.late_wakes += 1
                continue
            claim = await self._claim()
            if claim.slot is None and claim.paused_seconds == 0:
                claim = await self._await_free_slot()
            if claim.slot is not None:
                return claim.slot
            # A pause began after our start was reserved: reserve again, after the pause.

    async def _await_start(self, batch: bool) -> bool:
        """Reserve a start and sleep until it; False when we woke too late to use it."""
        params = {
            "batch": batch,
            "interval": self._interval,
            "batch_interval": self._batch_interval,
        }
        while (row := await self._execute_freeing(statements.RESERVE, params)) is None:
            await self._ensure_rows()  # gone: the database crashed and emptied the tables
        wait = float(row[0])
        due = time.monotonic() + wait
        if wait > 0:
            await asyncio.sleep(wait)
        return time.monotonic() - due <= LATE_SECONDS

    async def _claim(self) -> _Claim:
        params = {"max_slots": self._max_slots, "lease": self._lease}
        row = await self._execute_freeing(statements.FREE + statements.CLAIM, params, prefixed=True)
        return _Claim(row[0], float(row[1])) if row else _Claim(None, 0.0)

    async def _await_free_slot(self) -> _Claim:
        """Every slot is in flight: one task of this process asks again, backing off."""
        self.stats.busy_waits += 1
        delay, longest = BUSY_BACKOFF
        async with self._busy:
            while True:
                claim = await self._claim()
                if claim.slot is not None or claim.paused_seconds > 0:
                    return claim
                await asyncio.sleep(delay)
                delay = min(delay * 2, longest)

    # ---- giving slots back, keeping them alive --------------------------------------------
    def _release_soon(self, number: int) -> None:
        self._freed.append(number)
        if self._release_timer is None:
            loop = asyncio.get_running_loop()
            self._release_timer = loop.call_later(RELEASE_DELAY, self._release_now)

    def _release_now(self) -> None:
        self._release_timer = None
        if self._freed:
            self._spawn(self._release())

    async def _release(self) -> None:
        await self._execute_freeing(statements.FREE + statements.RELEASE, {}, prefixed=True)

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self._renew_seconds)
            if self._held:
                params = {"held": sorted(self._held), "lease": self._lease}
                try:
                    await self._execute(statements.RENEW, params)
                except psycopg.Error as exc:  # the next statement that needs it will say
                    log.warning("could not renew request slots: %s", exc)

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("shared limiter statement failed: %s", task.exception())

    # ---- statements -----------------------------------------------------------------------
    async def _execute_freeing(
        self, text: str, params: dict[str, Any], *, prefixed: bool = False
    ) -> tuple[Any, ...] | None:
        """Run a statement that also gives back the slots freed since the last one."""
        freed, self._freed = self._freed, []
        query = text if prefixed else statements.FREE + text
        return await self._execute(query, params | {"freed": freed})

    async def _execute(self, text: str, params: dict[str, Any]) -> tuple[Any, ...] | None:
        query = self._queries.get(text)
        if query is None:
            query = self._queries[text] = sql.SQL(text).format(**self._tables)
        started = time.perf_counter()
        params = params | {"realm": self._realm, "holder": self.holder}
        cursor = await self._conn.execute(query, params)
        row = await cursor.fetchone() if cursor.description else None
        self.stats.statements += 1
        self.stats.statement_seconds += time.perf_counter() - started
        return row
