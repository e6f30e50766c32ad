"""Per-realm request limiter: paces request starts under Intuit's per-minute limit and
caps requests in flight, so that our own traffic never provokes a 429."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol


class Limiter(Protocol):
    """What the client asks of a limiter: this process's `RateLimiter`, or the company's
    `SharedLimiter` kept in PostgreSQL."""

    def slot(self, *, batch: bool = False) -> AbstractAsyncContextManager[None]:
        """Hold one request slot from a start the limits allow (a batch call's, if `batch`)."""
        ...

    def pause(self, seconds: float) -> None:
        """Push every later start back (after a 429)."""
        ...


class RateLimiter:
    """Evenly spaced request starts (`per_minute`) and at most `max_in_flight` at once.

    Even spacing, rather than bursts, keeps every sliding window the server may measure
    (per second and per minute) under its limit.
    """

    def __init__(
        self, per_minute: int, max_in_flight: int, batch_per_minute: int | None = None
    ) -> None:
        self.interval = 60.0 / per_minute
        # Batch calls count against both limits: the realm's, and their own per minute.
        self._batch = RateLimiter(batch_per_minute, 1) if batch_per_minute else None
        self._slots = asyncio.Semaphore(max_in_flight)
        self._next_start = 0.0
        self._lock = asyncio.Lock()
        self.in_flight = 0
        self.max_in_flight_seen = 0

    @asynccontextmanager
    async def slot(self, *, batch: bool = False) -> AsyncIterator[None]:
        """Hold one request slot; waits for both a free slot and the next start time."""
        if batch and self._batch is not None:
            await self._batch._wait_turn()
        async with self._slots:
            await self._wait_turn()
            self.in_flight += 1
            self.max_in_flight_seen = max(self.max_in_flight_seen, self.in_flight)
            try:
                yield
            finally:
                self.in_flight -= 1

    async def _wait_turn(self) -> None:
        # Spaced from the previous actual start, not from a schedule: when the event loop
        # stalls (a page being parsed or loaded), overdue requests still leave one interval
        # apart instead of in a burst that the server's per-second window would refuse.
        async with self._lock:
            # A loop, not one sleep: `pause` may push the start back while we wait.
            while (wait := self._next_start - time.monotonic()) > 0:  # noqa: ASYNC110
                await asyncio.sleep(wait)
            self._next_start = time.monotonic() + self.interval

    def pause(self, seconds: float) -> None:
        """Push every later start back (after a 429: the server asked us to wait)."""
        self._next_start = max(self._next_start, time.monotonic() + seconds)
