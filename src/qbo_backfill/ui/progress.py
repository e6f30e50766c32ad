"""Watching a run: a live table on a terminal (`live`), plain lines elsewhere; the display
is chosen once per command (`logs.choose_display`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console

from qbo_backfill.figures import ChunkFigures, EntityTotals
from qbo_backfill.run.observer import RunObserver
from qbo_backfill.ui.live import LiveProgress
from qbo_backfill.ui.logs import Display, JsonFormatter, choose_display, log_handler
from qbo_backfill.windows import ExtractWindow

__all__ = [
    "Display",
    "JsonFormatter",
    "LineProgress",
    "LiveProgress",
    "choose_display",
    "log_handler",
    "progress_display",
]

log = logging.getLogger(__name__)


@contextmanager
def progress_display(display: Display, console: Console) -> Iterator[RunObserver]:
    """The observer for a run: live while the block runs, or line logs."""
    if display is Display.LIVE:
        with LiveProgress(console) as live:
            yield live
    else:
        yield LineProgress()


class LineProgress(RunObserver):
    """One log line per entity and per finished chunk, with running totals.

    Retries and chunk failures are logged where they happen (client, engine), with the
    `intuit_tid`; they are not repeated here.
    """

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

    def chunk_finished(self, entity: str, window: ExtractWindow, figures: ChunkFigures) -> None:
        self.chunks_done[entity] = self.chunks_done.get(entity, 0) + 1
        elapsed = max(time.monotonic() - self.started, 1e-6)
        log.info(
            "%s %s: %d/%d chunks, %s, %.0f rows/s",
            entity,
            window,
            self.chunks_done[entity],
            self.chunks_total.get(entity, 0),
            figures.summary(),
            self.rows[entity] / elapsed,
        )

    def entity_finished(self, entity: str, totals: EntityTotals) -> None:
        log.info("%s", totals.line(entity))
