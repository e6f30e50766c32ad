"""A worker's pooled connections come back clean: a job that ends while holding a chunk's
claim (a session advisory lock, noted by `note_session_lock` as the ledger's claims are)
must not keep that chunk locked for the connection's life; every connection comes back out
of autocommit and out of any transaction."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from qbo_backfill.load.pools import ConnectionPools, autocommit_connection, note_session_lock

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
                note_session_lock(conn)
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


def test_a_token_connection_comes_back_out_of_autocommit_and_transaction(
    database_url: str,
) -> None:
    """The token store reads in autocommit, and refreshes in a transaction: whichever ran
    last, the next borrower gets neither."""

    async def scenario() -> list[tuple[bool, psycopg.pq.TransactionStatus]]:
        async with ConnectionPools.open(database_url, concurrency=1) as pools:

            def lend(autocommit: bool) -> tuple[bool, psycopg.pq.TransactionStatus]:
                with pools.tokens.connection() as conn:
                    state = (conn.autocommit, conn.info.transaction_status)
                    conn.autocommit = autocommit
                    conn.execute("SELECT 1")
                return state

            return [await asyncio.to_thread(lend, flag) for flag in (True, False, True)]

    idle = psycopg.pq.TransactionStatus.IDLE
    assert asyncio.run(scenario()) == [(False, idle)] * 3
