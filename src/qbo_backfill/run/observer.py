"""What a backfill tells whoever watches it (progress display, logs, Mage blocks)."""

from __future__ import annotations

from typing import Any, Protocol

from qbo_backfill.errors import ApiError


class RunObserver(Protocol):
    """Receives events from the engine; every method must return quickly."""

    def entity_started(
        self, entity: str, run_id: int, chunks_total: int, chunks_done: int
    ) -> None: ...
    def chunk_started(self, entity: str, window: str) -> None: ...
    def page_loaded(self, entity: str, rows: int) -> None: ...
    def chunk_finished(self, entity: str, figures: dict[str, Any]) -> None: ...
    def chunk_failed(self, entity: str, window: str, error: str) -> None: ...
    def retrying(self, error: ApiError, wait_seconds: float) -> None: ...
    def entity_finished(self, entity: str, totals: dict[str, Any]) -> None: ...


class SilentObserver:
    """An observer that ignores everything."""

    def entity_started(self, entity: str, run_id: int, chunks_total: int, chunks_done: int) -> None:
        pass

    def chunk_started(self, entity: str, window: str) -> None:
        pass

    def page_loaded(self, entity: str, rows: int) -> None:
        pass

    def chunk_finished(self, entity: str, figures: dict[str, Any]) -> None:
        pass

    def chunk_failed(self, entity: str, window: str, error: str) -> None:
        pass

    def retrying(self, error: ApiError, wait_seconds: float) -> None:
        pass

    def entity_finished(self, entity: str, totals: dict[str, Any]) -> None:
        pass
