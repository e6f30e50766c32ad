"""A long-lived process's pooled database connections (a fleet worker's).

A fleet job for a small company is over in a fraction of a second; connecting for it costs
PostgreSQL a new backend (a fork, authentication, a cold catalog cache) for the job, for the
company's shared limiter and for each token-store transaction. A worker keeps these
connections open instead and lends them out:

- `jobs` (async): a job's own connection, and the connection of each company's limiter;
- `tokens` (sync, used from threads): the token store's short transactions.

A connection comes back clean: any transaction rolled back, session advisory locks (the
ledger's chunk claims, `note_session_lock`) released, autocommit off again.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, ConnectionPool

__all__ = [
    "AsyncPool",
    "ConnectionPools",
    "autocommit_connection",
    "connection",
    "note_session_lock",
]

UNLOCK_ALL = "SELECT pg_advisory_unlock_all()"
CONNECT_TIMEOUT_SECONDS = 10
MAX_IDLE_SECONDS = 60.0  # a quiet worker gives its connections back to the server

AsyncPool = AsyncConnectionPool[psycopg.AsyncConnection[Any]]


@dataclass(frozen=True)
class ConnectionPools:
    """The worker's two pools; `open` them for as long as the worker's database is up."""

    jobs: AsyncPool
    tokens: ConnectionPool[psycopg.Connection[Any]]

    @classmethod
    @asynccontextmanager
    async def open(cls, url: str, concurrency: int) -> AsyncIterator[ConnectionPools]:
        """Pools for `concurrency` jobs at once: each holds its own and its limiter's."""
        settings: dict[str, Any] = {
            "kwargs": {"connect_timeout": CONNECT_TIMEOUT_SECONDS},
            "max_idle": MAX_IDLE_SECONDS,
        }
        jobs = AsyncConnectionPool(
            url, min_size=1, max_size=2 * concurrency + 2, open=False, reset=_reset, **settings
        )
        tokens = ConnectionPool(  # short transactions: a few connections serve many jobs
            url,
            min_size=1,
            max_size=max(2, concurrency // 4),
            open=False,
            reset=_reset_sync,
            **settings,
        )
        await jobs.open(wait=True, timeout=CONNECT_TIMEOUT_SECONDS)
        try:
            await asyncio.to_thread(tokens.open, wait=True, timeout=CONNECT_TIMEOUT_SECONDS)
            try:
                yield cls(jobs, tokens)
            finally:
                await asyncio.to_thread(tokens.close)
        finally:
            await jobs.close()


@asynccontextmanager
async def connection(
    url: str, pool: AsyncPool | None, *, autocommit: bool = False
) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A connection for a while, borrowed from `pool`, else a new one; without `autocommit`
    committed at the end (rolled back on an error)."""
    if pool is None:
        async with await psycopg.AsyncConnection.connect(
            url, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT_SECONDS
        ) as conn:
            yield conn
        return
    async with pool.connection() as conn:
        if autocommit:
            await conn.set_autocommit(True)  # the pool's reset turns it off again
        yield conn


def autocommit_connection(
    url: str, pool: AsyncPool | None
) -> AbstractAsyncContextManager[psycopg.AsyncConnection[Any]]:
    """An autocommit connection for a while: borrowed from `pool`, else a new one."""
    return connection(url, pool, autocommit=True)


def note_session_lock(conn: psycopg.AsyncConnection[Any]) -> None:
    """`conn` takes session-level advisory locks (the ledger's chunk claims): its return to
    the pool releases every one it still holds. Other connections come back with no
    statement (most jobs take none, and a statement per return was a share of an idle
    company's sync)."""
    _SESSION_LOCKING.add(conn)


_SESSION_LOCKING: weakref.WeakSet[psycopg.AsyncConnection[Any]] = weakref.WeakSet()


async def _reset(conn: psycopg.AsyncConnection[Any]) -> None:
    if conn in _SESSION_LOCKING:
        _SESSION_LOCKING.discard(conn)
        await conn.set_autocommit(True)
        await conn.execute(UNLOCK_ALL)
    await conn.set_autocommit(False)


def _reset_sync(conn: psycopg.Connection[Any]) -> None:
    conn.autocommit = False  # the token store's transactions take no session lock
