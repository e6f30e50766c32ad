"""Intuit's per-realm throttling, and the counters tests and benchmarks assert on."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ENDPOINTS", "RealmCounters", "RealmLimiter"]

ENDPOINTS = ("query", "count", "batch", "cdc", "companyinfo", "reports", "read")


@dataclass
class RealmCounters:
    """What one realm has seen since the last reset."""

    requests: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ENDPOINTS, 0))
    throttled: int = 0
    max_in_flight_seen: int = 0
    max_in_flight_arrivals: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    rows_served: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of `GET /_sandbox/counters`."""
        return {
            "requests": dict(self.requests),
            "throttled": self.throttled,
            "max_in_flight_seen": self.max_in_flight_seen,
            "max_in_flight_arrivals": self.max_in_flight_arrivals,
            "faults": dict(self.faults),
            "rows_served": self.rows_served,
        }


class _Window:
    """Admitted requests in a sliding window of `seconds`; limit 0 means no limit."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self._times: deque[float] = deque()

    def full(self, now: float) -> bool:
        if not self.limit:
            return False
        while self._times and self._times[0] <= now - self.seconds:
            self._times.popleft()
        return len(self._times) >= self.limit

    def add(self, now: float) -> None:
        if self.limit:
            self._times.append(now)


class RealmLimiter:
    """Requests per minute and per second, batch calls per minute, and requests in flight."""

    def __init__(self, per_min: int, per_sec: int, max_in_flight: int, batch_per_min: int) -> None:
        self._limits = (per_min, per_sec, max_in_flight, batch_per_min)
        self.counters = RealmCounters()
        self.reset()

    def reset(self) -> None:
        """Forget windows and counters (requests still in flight stay counted as such)."""
        per_min, per_sec, _, batch_per_min = self._limits
        self._minute = _Window(per_min, 60.0)
        self._second = _Window(per_sec, 1.0)
        self._batch = _Window(batch_per_min, 60.0)
        self.counters = RealmCounters()
        self.sequence = 0
        self.burst_left = 0
        if not hasattr(self, "in_flight"):
            self.in_flight = 0
            self.arriving = 0

    def arrive(self) -> None:
        """A data request arrived (admitted or not)."""
        self.arriving += 1
        self.counters.max_in_flight_arrivals = max(
            self.counters.max_in_flight_arrivals, self.arriving
        )

    def leave_arrival(self) -> None:
        """A data request's answer is done."""
        self.arriving -= 1

    def admit(self, now: float, *, batch: bool) -> bool:
        """Whether a request may run now; if so it counts against the windows and in flight."""
        max_in_flight = self._limits[2]
        if max_in_flight and self.in_flight >= max_in_flight:
            return False
        if self._minute.full(now) or self._second.full(now):
            return False
        if batch and self._batch.full(now):
            return False
        self._minute.add(now)
        self._second.add(now)
        if batch:
            self._batch.add(now)
        self.in_flight += 1
        self.counters.max_in_flight_seen = max(self.counters.max_in_flight_seen, self.in_flight)
        return True

    def release(self) -> None:
        """An admitted request finished."""
        self.in_flight -= 1
