"""Watching a run: a live table on a terminal; plain lines elsewhere (CI, Mage, cron);
one JSON object per line for machines.

The display is chosen once per command (`choose_display`); logs go through a handler that
suits it (`log_handler`), so a retry's warning, with its `intuit_tid`, appears above the
live table instead of tearing it.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any, TextIO

import orjson
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.logging import RichHandler
from rich.table import Table
from rich.text import Text

from qbo_backfill import redact
from qbo_backfill.errors import ApiError, ThrottledError
from qbo_backfill.report.wording import plural
from qbo_backfill.run.observer import RunObserver, SilentObserver

__all__ = [
    "Display",
    "JsonFormatter",
    "LineProgress",
    "LiveProgress",
    "choose_display",
    "log_handler",
    "progress_display",
]

log = logging.getLogger("qbo_backfill.ui.progress")

_INTUIT_TID = re.compile(r"intuit_tid ([\w.:-]+)")


class Display(Enum):
    """How a run is shown: a live table, log lines, or JSON log lines."""

    LIVE = "live"
    LINES = "lines"
    JSON = "json"


def choose_display(json_logs: bool, stream: TextIO) -> Display:
    """JSON when asked; the live table only on a real terminal; plain lines otherwise."""
    if json_logs:
        return Display.JSON
    is_tty = getattr(stream, "isatty", lambda: False)()
    if is_tty and os.environ.get("TERM", "") != "dumb":
        return Display.LIVE
    return Display.LINES


def log_handler(
    display: Display, stream: TextIO, console: Console | None = None
) -> logging.Handler:
    """A handler for the package's logs that suits the display; secrets always masked."""
    handler: logging.Handler
    if display is Display.LIVE:
        handler = RichHandler(
            console=console or Console(file=stream),
            show_path=False,
            markup=False,
            rich_tracebacks=False,
        )
    else:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(
            JsonFormatter()
            if display is Display.JSON
            else logging.Formatter("%(asctime)s %(levelname)s %(message)s")
        )
    handler.addFilter(redact.RedactingFilter())
    return handler


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC), level, logger, message, and the
    `intuit_tid` of a failed request as its own field, for Intuit support."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        tid = getattr(record, "intuit_tid", None) or _find_tid(message)
        if tid:
            entry["intuit_tid"] = tid
        if record.exc_info:
            entry["exception"] = redact.scrub(self.formatException(record.exc_info))
        return orjson.dumps(entry).decode()


def _find_tid(message: str) -> str | None:
    match = _INTUIT_TID.search(message)
    return match.group(1) if match else None


@contextmanager
def progress_display(display: Display, console: Console) -> Iterator[RunObserver]:
    """The observer for a run: live while the block runs, or line logs."""
    if display is Display.LIVE:
        with LiveProgress(console) as live:
            yield live
    else:
        yield LineProgress()


class LineProgress(SilentObserver):
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

    def entity_finished(self, entity: str, totals: dict[str, Any]) -> None:
        log.info(
            "%s: %s, %s/%s chunks done, rows extracted %s, source %s, in table %s, "
            "mismatched windows %s",
            entity,
            totals.get("status", "?"),
            totals.get("chunks_done", "?"),
            totals.get("chunks_total", "?"),
            totals.get("rows_extracted", 0),
            totals.get("source_count", 0),
            totals.get("rows_in_table", 0),
            totals.get("mismatches", 0),
        )


@dataclass
class EntityProgress:
    """One entity's figures as the live table shows them."""

    run_id: int
    chunks_total: int
    chunks_before: int  # done by an earlier session: not part of this session's rate
    started: float
    chunks_done: int = 0
    chunks_failed: int = 0
    running: int = 0
    rows: int = 0
    api_calls: int = 0
    pages_in_flight: int = 0  # pages of unfinished chunks: one call each, until the chunk ends
    retries: int = 0
    throttled: int = 0
    finished: float | None = None
    status: str = "running"

    def elapsed(self, now: float) -> float:
        return max((self.finished or now) - self.started, 1e-6)

    def rows_per_second(self, now: float) -> float:
        return self.rows / self.elapsed(now)

    def eta_seconds(self, now: float) -> float | None:
        """Remaining chunks at this session's pace; None before the first chunk ends."""
        left = self.chunks_total - self.chunks_before - self.chunks_done - self.chunks_failed
        if self.finished is not None or left <= 0:
            return 0.0
        if self.chunks_done == 0:
            return None
        return self.elapsed(now) / self.chunks_done * left


class LiveProgress(SilentObserver):
    """A live table per entity on a terminal: chunks done/total, rows, rows/s, ETA, API
    calls, retries and 429s, and any throttle wait in progress.

    Events arrive on the engine's thread while rich redraws from its own: a lock keeps
    both views of the figures consistent. Entities may run side by side and a retry event
    does not say whose request it was, so per-entity retries and 429s come from finished
    chunks' figures (exact), and the live count of all retries is shown under the table.
    """

    def __init__(self, console: Console, refresh_per_second: float = 4.0) -> None:
        self.console = console
        self.entities: dict[str, EntityProgress] = {}
        self.retries = 0
        self.throttled = 0
        self.waiting_until = 0.0
        self.wait_reason = ""
        self._lock = threading.Lock()
        self._live = Live(
            self, console=console, refresh_per_second=refresh_per_second, transient=False
        )

    def __enter__(self) -> LiveProgress:
        self._live.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.waiting_until = 0.0
        self._live.stop()

    def entity_started(self, entity: str, run_id: int, chunks_total: int, chunks_done: int) -> None:
        with self._lock:
            self.entities[entity] = EntityProgress(
                run_id, chunks_total, chunks_done, time.monotonic()
            )

    def chunk_started(self, entity: str, window: str) -> None:
        with self._lock:
            self._entity(entity).running += 1

    def page_loaded(self, entity: str, rows: int) -> None:
        with self._lock:
            progress = self._entity(entity)
            progress.rows += rows
            progress.pages_in_flight += 1

    def chunk_finished(self, entity: str, figures: dict[str, Any]) -> None:
        with self._lock:
            progress = self._entity(entity)
            progress.chunks_done += 1
            progress.running = max(0, progress.running - 1)
            progress.api_calls += int(figures.get("api_calls", 0))
            progress.retries += int(figures.get("retries", 0))
            progress.throttled += int(figures.get("throttled", 0))
            pages = int(figures.get("pages", 0)) * (1 + int(figures.get("refetches", 0)))
            progress.pages_in_flight = max(0, progress.pages_in_flight - pages)

    def chunk_failed(self, entity: str, window: str, error: str) -> None:
        with self._lock:
            progress = self._entity(entity)
            progress.chunks_failed += 1
            progress.running = max(0, progress.running - 1)

    def retrying(self, error: ApiError, wait_seconds: float) -> None:
        with self._lock:
            self.retries += 1
            self.throttled += isinstance(error, ThrottledError)
            until = time.monotonic() + wait_seconds
            if until >= self.waiting_until:
                self.waiting_until = until
                kind = "throttled (429)" if isinstance(error, ThrottledError) else "retrying"
                self.wait_reason = f"{kind}: {redact.scrub(str(error))}"

    def entity_finished(self, entity: str, totals: dict[str, Any]) -> None:
        with self._lock:
            progress = self._entity(entity)
            progress.finished = time.monotonic()
            progress.status = str(totals.get("status", "failed"))
            progress.running = 0
            progress.pages_in_flight = 0

    def _entity(self, entity: str) -> EntityProgress:
        if entity not in self.entities:
            self.entities[entity] = EntityProgress(0, 0, 0, time.monotonic())
        return self.entities[entity]

    def __rich__(self) -> RenderableType:
        with self._lock:
            return self.render(time.monotonic())

    def render(self, now: float) -> RenderableType:
        """The table as it stands at monotonic time `now`."""
        table = Table(title="backfill progress", title_justify="left", expand=False)
        for header in ("entity", "run", "chunks", "rows", "rows/s", "ETA", "API calls"):
            table.add_column(header, justify="left" if header == "entity" else "right")
        table.add_column("retries / 429s", justify="right")
        table.add_column("status")
        for name, p in self.entities.items():
            table.add_row(
                name,
                str(p.run_id),
                _chunks_cell(p),
                f"{p.rows:,}",
                f"{p.rows_per_second(now):,.0f}",
                _duration(p.eta_seconds(now)),
                f"{p.api_calls + p.pages_in_flight:,}",
                f"{p.retries} / {p.throttled}",
                _status_cell(p),
            )
        notes: list[RenderableType] = [table]
        if self.retries:
            notes.append(Text(f"retries so far: {self.retries} ({self.throttled} throttled)"))
        wait = self.waiting_until - now
        if wait >= 0.5:  # shown as whole seconds: "waiting 0s" says nothing
            notes.append(Text(f"waiting {wait:.0f}s, {self.wait_reason}", style="yellow"))
        return Group(*notes) if len(notes) > 1 else table


def _chunks_cell(p: EntityProgress) -> str:
    done = p.chunks_before + p.chunks_done
    text = f"{done}/{p.chunks_total}"
    if p.chunks_failed:
        text += f" ({p.chunks_failed} failed)"
    return text


def _status_cell(p: EntityProgress) -> Text:
    if p.finished is None:
        return Text(f"{plural(p.running, 'chunk')} running" if p.running else "planning", "cyan")
    return Text(p.status, "green" if p.status == "done" else "bold red")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
