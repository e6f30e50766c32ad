"""Requests started per wall-clock minute, counted in memory: what the report's request
rate chart plots. Cheap enough for every request (a dict increment); the counts reach the
ledger in one small write per chunk, never one per request."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

__all__ = ["RequestMinutes", "minute_of"]


def minute_of(moment: datetime) -> datetime:
    """The UTC minute a moment falls in."""
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


class RequestMinutes:
    """Request starts per UTC minute since the last `take`."""

    def __init__(self, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._now = now
        self._counts: Counter[datetime] = Counter()

    def note(self) -> None:
        """One request starts now."""
        self._counts[minute_of(self._now())] += 1

    def take(self) -> dict[datetime, int]:
        """The counts so far, which are forgotten here (the caller stores them)."""
        counts, self._counts = dict(self._counts), Counter()
        return counts

    def give_back(self, counts: Mapping[datetime, int]) -> None:
        """Counts taken but not stored (the write failed): kept for the next write."""
        self._counts.update(counts)
