"""What a long-lived process (a fleet worker) has found ready in its database, trusted for
a minute instead of checked again at every company's sync.

A sync first makes sure of the schema's shape: the ledger's tables exist, each raw table
has its current columns, every typed view is current. For one company that is a handful of
catalog reads; for a worker syncing thousands of idle companies an hour it was a third of
each sync's statements and most of its Python (bench/RESULTS.md, "The idle cost of a fleet
sync"). The answers do not change between two companies of one schema, so the worker keeps
them for `PREPARED_SECONDS`:

- a change made by another process (a `views --materialized`, a raw table made by a
  backfill) is seen within that time;
- a sync that fails forgets everything, so its retry checks the shape again (a schema
  dropped under a running worker costs one failed attempt, not more);
- a command run once (`sync`, Mage) passes no memo and checks every time.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["PREPARED_SECONDS", "Prepared"]

PREPARED_SECONDS = 60.0


class Prepared:
    """Facts about the database's shape, each held for `seconds` after it was checked."""

    def __init__(
        self, seconds: float = PREPARED_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds = seconds
        self._clock = clock
        self._until: dict[tuple[str, ...], float] = {}

    def holds(self, *fact: str) -> bool:
        """Whether `fact` was checked less than `seconds` ago."""
        until = self._until.get(fact)
        return until is not None and self._clock() < until

    def note(self, *fact: str) -> None:
        """`fact` was just checked (or made) and holds."""
        self._until[fact] = self._clock() + self.seconds

    def forget(self) -> None:
        """Check everything again (after a failure, or work that may change the shape)."""
        self._until.clear()
