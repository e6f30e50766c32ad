"""A worker's pooled connections come back clean: a job that ends while holding a chunk's
claim (a session advisory lock) must not keep that chunk locked for the connection's life."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from qbo_backfill.load.pools import ConnectionPools, autocommit_connection

pytestmark = pytest.mark.db

LOCK = (4242, 7)


def _taken_elsewhere(url: str) -> bool:
    """Whether another session holds LOCK (it cannot take it)."""
    with psycopg.connect(url, autocommit=True) as other:
        row = other.execute("SELECT pg_try_advisory_lock(%s, %s)", LOCK).fetchone()
        if row and row[0]:
            other.execute("SELECT pg_advisory_unlock(%s, %s)", LOCK)
        return not (row and row[0])


def test_a_returned_connection_holds_no_claim_and_no_transaction(database_url: str) -> None:
    async def scenario() -> tuple[bool, bool, bool, bool]:
        async with ConnectionPools.open(database_url, concurrency=1) as pools:
            async with pools.jobs.connection() as conn:
                await conn.execute("SELECT pg_advisory_lock(%s, %s)", LOCK)
                held_while_lent = await asyncio.to_thread(_taken_elsewhere, database_url)
            held_after = await asyncio.to_thread(_taken_elsewhere, database_url)
            async with autocommit_connection(database_url, pools.jobs) as conn:
                lent_autocommit = conn.autocommit
            async with pools.jobs.connection() as conn:
                return held_while_lent, held_after, lent_autocommit, conn.autocommit

    held_while_lent, held_after, lent_autocommit, autocommit_after = asyncio.run(scenario())
    assert held_while_lent
    assert not held_after
    assert lent_autocommit
    assert not autocommit_after


def test_the_token_pool_releases_claims_too(database_url: str) -> None:
    async def scenario() -> bool:
        async with ConnectionPools.open(database_url, concurrency=1) as pools:

            def hold() -> None:
                with pools.tokens.connection() as conn:
                    conn.execute("SELECT pg_advisory_lock(%s, %s)", LOCK)

            await asyncio.to_thread(hold)
            return await asyncio.to_thread(_taken_elsewhere, database_url)

    assert not asyncio.run(scenario())
