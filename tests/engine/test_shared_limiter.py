"""The shared limiter against a real PostgreSQL: two limiters on one realm stand for two
processes (each has its own connection, as a process would)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import psycopg
import pytest
from psycopg import sql

from qbo_backfill.qbo.shared_limits import LIMITS_TABLE, SLOTS_TABLE, SharedLimiter

pytestmark = pytest.mark.db

REALM = "9130350000000001"


def _limits(**overrides: Any) -> dict[str, Any]:
    return {"per_minute": 60_000, "max_in_flight": 3, "batch_per_minute": 40} | overrides


def _one(url: str, query: str, schema: str) -> Any:
    text = sql.SQL(query).format(
        limits=sql.Identifier(schema, LIMITS_TABLE), slots=sql.Identifier(schema, SLOTS_TABLE)
    )
    with psycopg.connect(url) as conn:
        row = conn.execute(text).fetchone()
    assert row is not None
    return row[0]


async def _open(stack: AsyncExitStack, url: str, schema: str, **limits: Any) -> SharedLimiter:
    return await stack.enter_async_context(
        SharedLimiter.open(url, schema, REALM, **_limits(**limits))
    )


@asynccontextmanager
async def _two(url: str, schema: str, **limits: Any) -> AsyncIterator[list[SharedLimiter]]:
    async with AsyncExitStack() as stack:
        yield [await _open(stack, url, schema, **limits) for _ in range(2)]


def test_two_processes_never_hold_more_slots_than_the_company_has(
    database_url: str, schema: str
) -> None:
    in_flight, peak, served = 0, 0, [0, 0]

    async def request(limiter: SharedLimiter, which: int) -> None:
        nonlocal in_flight, peak
        async with limiter.slot():
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.05)
            in_flight -= 1
            served[which] += 1

    async def scenario() -> None:
        async with _two(database_url, schema) as limiters:
            # Each limiter alone would let 3 through: together they still may not pass 3.
            await asyncio.gather(*(request(limiters[n % 2], n % 2) for n in range(24)))

    asyncio.run(scenario())
    assert peak <= 3, peak
    assert served == [12, 12]
    assert _one(database_url, "SELECT count(*) FROM {slots} WHERE holder IS NOT NULL", schema) == 0


def test_every_start_is_reserved_on_the_one_shared_schedule(database_url: str, schema: str) -> None:
    interval = 60 / 6_000  # 0.01 s

    async def scenario() -> float:
        async with _two(database_url, schema, per_minute=6_000) as limiters:
            before = _one(database_url, "SELECT clock_timestamp()", schema)
            async with asyncio.TaskGroup() as group:
                for n in range(40):
                    group.create_task(_hold(limiters[n % 2], 0.0))
            after = _one(database_url, "SELECT next_start FROM {limits}", schema)
            return float((after - before).total_seconds())

    # 40 starts, from whichever process, each one interval after the last.
    assert asyncio.run(scenario()) >= 40 * interval


def test_one_process_429_pauses_the_others(database_url: str, schema: str) -> None:
    async def scenario() -> tuple[float, bool]:
        async with _two(database_url, schema) as limiters:
            first, second = limiters
            first.pause(30.0)
            await _settled(first)
            left = float(_one(database_url, _PAUSE_LEFT, schema))
            try:
                await asyncio.wait_for(_hold(second, 0.0), timeout=1.0)
            except TimeoutError:
                return left, False
            return left, True

    pause_left, second_went = asyncio.run(scenario())
    assert 25 < pause_left <= 30
    assert not second_went, "the other process started a request during the pause"
    # Its start was reserved after the pause, not before it.
    assert _one(database_url, "SELECT next_start > paused_until FROM {limits}", schema)


def test_a_batch_call_waits_for_the_batch_pace_too(database_url: str, schema: str) -> None:
    async def scenario() -> float:
        async with _two(database_url, schema, batch_per_minute=6) as limiters:
            await _hold(limiters[0], 0.0, batch=True)
            await _hold(limiters[1], 0.0)  # a plain query is not held back by batches
            return float(_one(database_url, _NEXT_BATCH_IN, schema))

    # One batch call: the next one from any process is 10 s later (6 a minute).
    assert 8 < asyncio.run(scenario()) <= 10


def test_a_slot_held_long_is_renewed_and_given_back_at_the_end(
    database_url: str, schema: str
) -> None:
    async def scenario() -> tuple[float, str]:
        async with AsyncExitStack() as stack:
            limiter = await _open(stack, database_url, schema, lease_seconds=1.5)
            async with limiter.slot():
                await asyncio.sleep(4.0)  # well past its first lease of 1.5 s
                lease_left = float(_one(database_url, _LEASE_LEFT, schema))
                holder = str(_one(database_url, "SELECT max(holder) FROM {slots}", schema))
            return lease_left, holder

    lease_left, holder = asyncio.run(scenario())
    assert lease_left > 0, "the lease of a running request expired"
    assert holder.split(":")[1].isdigit()  # host:pid:nonce, so an operator can find it
    assert _one(database_url, "SELECT count(*) FROM {slots} WHERE holder IS NOT NULL", schema) == 0


def test_a_vanished_holders_slot_is_claimed_once_its_lease_ends(
    database_url: str, schema: str
) -> None:
    async def scenario() -> float:
        async with AsyncExitStack() as stack:
            dead = await _open(stack, database_url, schema, max_in_flight=1, lease_seconds=1.0)
            await dead.slot().__aenter__()  # never left: its process is gone
            dead._renewer.cancel()  # type: ignore[union-attr]
            lease_left = float(_one(database_url, _LEASE_LEFT, schema))
            alive = await _open(stack, database_url, schema, max_in_flight=1)
            await asyncio.wait_for(_hold(alive, 0.0), timeout=30)
            return lease_left

    assert asyncio.run(scenario()) <= 1.0


async def _hold(limiter: SharedLimiter, seconds: float, *, batch: bool = False) -> None:
    async with limiter.slot(batch=batch):
        await asyncio.sleep(seconds)


async def _settled(limiter: SharedLimiter) -> None:
    """The limiter's background statements (a pause, a release) are done."""
    await asyncio.gather(*limiter._tasks)


_PAUSE_LEFT = "SELECT extract(epoch FROM paused_until - clock_timestamp()) FROM {limits}"
_NEXT_BATCH_IN = "SELECT extract(epoch FROM next_batch_start - clock_timestamp()) FROM {limits}"
_LEASE_LEFT = (
    "SELECT extract(epoch FROM max(lease_until) - clock_timestamp()) FROM {slots} "
    "WHERE holder IS NOT NULL"
)
