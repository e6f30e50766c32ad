"""The live progress table on a terminal: per entity, chunks done of total, rows, rows/s,
ETA, API calls, retries and 429s, and any throttle wait in progress."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from qbo_backfill import redact
from qbo_backfill.errors import ApiError, ThrottledError
from qbo_backfill.figures import ChunkFigures, EntityTotals
from qbo_backfill.report.wording import plural
from qbo_backfill.run.observer import RunObserver
from qbo_backfill.windows import ExtractWindow

__all__ = ["EntityProgress", "LiveProgress"]


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


class LiveProgress(RunObserver):
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

    def chunk_started(self, entity: str, window: ExtractWindow) -> None:
        with self._lock:
            self._entity(entity).running += 1

    def page_loaded(self, entity: str, rows: int) -> None:
        with self._lock:
            progress = self._entity(entity)
            progress.rows += rows
            progress.pages_in_flight += 1

    def chunk_finished(self, entity: str, window: ExtractWindow, figures: ChunkFigures) -> None:
        with self._lock:
            progress = self._entity(entity)
            progress.chunks_done += 1
            progress.running = max(0, progress.running - 1)
            progress.api_calls += figures.api_calls
            progress.retries += figures.retries
            progress.throttled += figures.throttled
            pages = figures.pages * (1 + figures.refetches)
            progress.pages_in_flight = max(0, progress.pages_in_flight - pages)

    def chunk_failed(self, entity: str, window: ExtractWindow, error: str) -> None:
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

    def entity_finished(self, entity: str, totals: EntityTotals) -> None:
        with self._lock:
            progress = self._entity(entity)
            progress.finished = time.monotonic()
            progress.status = totals.status
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
