"""The limiter spaces actual request starts, even after the event loop stalls."""

from __future__ import annotations

import asyncio
import itertools
import time

from qbo_backfill.qbo.ratelimit import RateLimiter


async def _starts_after_a_stall(limiter: RateLimiter, requests: int) -> list[float]:
    starts: list[float] = []

    async def one() -> None:
        async with limiter.slot():
            starts.append(time.monotonic())

    tasks = [asyncio.create_task(one()) for _ in range(requests)]
    await asyncio.sleep(0)
    time.sleep(0.5)  # noqa: ASYNC251 - stands for a page parsed on the loop: every waiting start is now overdue
    await asyncio.gather(*tasks)
    return starts


def test_overdue_starts_do_not_burst() -> None:
    limiter = RateLimiter(per_minute=600, max_in_flight=10)  # one start per 0.1 s
    starts = asyncio.run(_starts_after_a_stall(limiter, 6))
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(starts) == 6
    assert min(gaps) >= 0.09, gaps


def test_pause_pushes_the_next_start_back() -> None:
    async def scenario() -> float:
        limiter = RateLimiter(per_minute=6000, max_in_flight=10)
        async with limiter.slot():
            pass
        limiter.pause(0.3)
        before = time.monotonic()
        async with limiter.slot():
            return time.monotonic() - before

    assert asyncio.run(scenario()) >= 0.29
