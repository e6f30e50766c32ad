"""What a run tells whoever watches it (live progress, log lines, Mage blocks).

`RunObserver` is the base: every event is a method that does nothing, so a display
overrides only the events it shows. `NullObserver` is the explicit "nobody is watching".
Every method must return quickly: the engine calls them between requests.
"""

from __future__ import annotations

from qbo_backfill.errors import ApiError
from qbo_backfill.figures import ChunkFigures, EntityTotals
from qbo_backfill.windows import ExtractWindow

__all__ = ["NullObserver", "RunObserver"]


class RunObserver:
    """Receives a run's events; the base ignores them all."""

    def entity_started(self, entity: str, run_id: int, chunks_total: int, chunks_done: int) -> None:
        """A run of `entity` begins; `chunks_done` were finished by an earlier session."""

    def chunk_started(self, entity: str, window: ExtractWindow) -> None:
        """A chunk was claimed and its pages are being fetched."""

    def page_loaded(self, entity: str, rows: int) -> None:
        """A page of `rows` records was written."""

    def chunk_finished(self, entity: str, window: ExtractWindow, figures: ChunkFigures) -> None:
        """A chunk committed its rows and its 'done' mark."""

    def chunk_failed(self, entity: str, window: ExtractWindow, error: str) -> None:
        """A chunk failed after its retries; it stays for the next run."""

    def retrying(self, error: ApiError, wait_seconds: float) -> None:
        """A request failed and is retried after `wait_seconds`."""

    def entity_finished(self, entity: str, totals: EntityTotals) -> None:
        """The run of `entity` ended, with the ledger's totals."""


class NullObserver(RunObserver):
    """Nobody is watching: a run started from code that wants only its result."""
