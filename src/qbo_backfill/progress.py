"""Watching a run: plain lines on stderr (CI, Mage, cron), one per chunk and retry."""

from __future__ import annotations

import logging
import time
from typing import Any

from qbo_backfill.errors import ApiError
from qbo_backfill.observer import SilentObserver

log = logging.getLogger("qbo_backfill.progress")


class LineProgress(SilentObserver):
    """One log line per finished chunk, failure and retry, with running totals."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.chunks_total: dict[str, int] = {}
        self.chunks_done: dict[str, int] = {}
        self.rows: dict[str, int] = {}

    def entity_started(self, entity: str, run_id: int, chunks_total: int, chunks_done: int) -> None:
        self.chunks_total[entity] = chunks_total
        self.chunks_done[entity] = chunks_done
        self.rows.setdefault(entity, 0)
        log.info(
            "%s: run %d, %d chunks, %d already done", entity, run_id, chunks_total, chunks_done
        )

    def page_loaded(self, entity: str, rows: int) -> None:
        self.rows[entity] = self.rows.get(entity, 0) + rows

    def chunk_finished(self, entity: str, figures: dict[str, Any]) -> None:
        self.chunks_done[entity] = self.chunks_done.get(entity, 0) + 1
        elapsed = max(time.monotonic() - self.started, 1e-6)
        log.info(
            "%s %s: %d/%d chunks, pages %d, rows %d (source %s, in table %s, match %s), "
            "%.0f rows/s",
            entity,
            figures["window"],
            self.chunks_done[entity],
            self.chunks_total.get(entity, 0),
            figures["pages"],
            figures["rows_extracted"],
            figures["source_count_after"],
            figures["rows_in_table"],
            "yes" if figures["matched"] else "NO",
            self.rows[entity] / elapsed,
        )

    def chunk_failed(self, entity: str, window: str, error: str) -> None:
        log.error("%s %s failed: %s", entity, window, error)

    def retrying(self, error: ApiError, wait_seconds: float) -> None:
        log.warning("retry in %.1fs: %s", wait_seconds, error)
