"""What a chunk did, typed: the figures the engine counts, the ledger stores, and every
renderer (terminal, live progress, Mage, JSON, CSV, HTML) shows.

Adding a figure is adding a field here (and its ledger column): the column lists of the
ledger and the report are derived from these fields.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime
from typing import Any

from qbo_backfill.windows import ExtractWindow

__all__ = [
    "CHUNK_COLUMNS",
    "SUMMED",
    "ChunkFigures",
    "ChunkRow",
    "EntityTotals",
    "RequestFigures",
]


@dataclass(frozen=True)
class RequestFigures:
    """What a chunk spent at the API: every request is metered by Intuit."""

    api_calls: int = 0
    """HTTP requests sent, retries and COUNT queries included."""
    throttled: int = 0
    """Requests refused with 429 (too many requests), then sent again after a wait."""
    retries: int = 0
    """Requests that failed and were sent again, for any reason (`throttled` included)."""


@dataclass(frozen=True)
class ChunkFigures(RequestFigures):
    """One chunk's extraction and load, as marked done in the ledger, with its requests.

    The request figures come first among the fields; the ledger, JSON and CSV columns keep
    them after the load figures (`CHUNK_COLUMNS`).
    """

    pages: int = 0
    """Pages of the last pass over the window (a refetch starts this count again)."""
    rows_extracted: int = 0
    """Records those pages held, as the source sent them."""
    rows_inserted: int = 0
    """Rows new to the raw table, over every pass."""
    rows_updated: int = 0
    """Rows already in the table replaced by a newer or different record, over every pass."""
    rows_unchanged: int = 0
    """Records of the last pass the table already held as sent (or newer): left as they were."""
    rows_quarantined: int = 0
    """Records of the last pass kept aside with a reason instead of loaded; they count as
    accounted for when the window is reconciled."""
    source_duplicates: int = 0
    """Records the source returned more than once while paging (each Id is loaded once)."""
    source_count: int | None = None
    """The source's count of the window the last pass paged (planning's count, at first)."""
    source_count_after: int | None = None
    """The source's count once paging ended: a count that moved means paging again."""
    rows_in_table: int | None = None
    """Live rows of the window in the raw table after the load."""
    matched: bool | None = None
    """The count held still and the table holds that many, quarantined records included;
    None for a chunk not done."""
    refetches: int = 0
    """Times the window was paged again because its count moved under the paging."""

    def plus_requests(self, spent: RequestFigures) -> ChunkFigures:
        """These figures with the chunk's API requests set."""
        return replace(self, **asdict(spent))

    def as_params(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """The figures a chunk's log line shows, in every display."""
        match = {True: "yes", False: "NO", None: "-"}[self.matched]
        return (
            f"pages {self.pages}, rows {self.rows_extracted} (source {self.source_count_after}, "
            f"in table {self.rows_in_table}, match {match})"
        )


@dataclass(frozen=True)
class ChunkRow:
    """A chunk as the ledger holds it: identity, window, status, figures and timings."""

    chunk_id: int
    run_id: int
    entity: str
    window: ExtractWindow
    status: str
    figures: ChunkFigures
    attempts: int = 0
    duration_ms: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    last_error: str | None = None

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> ChunkRow:
        """From a ledger row (a dict of its columns)."""
        figures = ChunkFigures(
            **{f.name: record[f.name] for f in fields(ChunkFigures) if f.name in record}
        )
        return cls(
            chunk_id=int(record["chunk_id"]),
            run_id=int(record["run_id"]),
            entity=str(record["entity"]),
            window=ExtractWindow(record["window_start"], record["window_end"]),
            status=str(record["status"]),
            figures=figures,
            attempts=int(record.get("attempts") or 0),
            duration_ms=record.get("duration_ms"),
            started_at=record.get("started_at"),
            finished_at=record.get("finished_at"),
            last_error=record.get("last_error"),
        )

    @property
    def ok(self) -> bool:
        return self.status == "done" and self.figures.matched is not False

    def as_dict(self) -> dict[str, Any]:
        """Flat, in `CHUNK_COLUMNS` order: the JSON and CSV row of a chunk."""
        flat = self.figures.as_params() | {
            "run_id": self.run_id,
            "entity": self.entity,
            "window_start": self.window.start,
            "window_end": self.window.end,
            "status": self.status,
            "attempts": self.attempts,
            "duration_ms": self.duration_ms,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "last_error": self.last_error,
        }
        return {name: flat[name] for name in CHUNK_COLUMNS}


_REQUEST_FIELDS = tuple(f.name for f in fields(RequestFigures))
_LOAD_FIELDS = tuple(f.name for f in fields(ChunkFigures) if f.name not in _REQUEST_FIELDS)

# A chunk's flat columns, in the order of the ledger table, JSON and CSV.
CHUNK_COLUMNS: tuple[str, ...] = (
    "run_id",
    "entity",
    "window_start",
    "window_end",
    "status",
    *_LOAD_FIELDS,
    "attempts",
    *_REQUEST_FIELDS,
    "duration_ms",
    "started_at",
    "finished_at",
    "last_error",
)

# Figures that add up over a run's chunks (every count; not the verdict, not the times).
SUMMED = tuple(
    name
    for name in CHUNK_COLUMNS[5:]
    if name not in ("matched", "started_at", "finished_at", "last_error")
)


@dataclass(frozen=True)
class EntityTotals:
    """One entity's run as the ledger closes it: the run row's figures."""

    status: str
    chunks_total: int
    chunks_done: int
    rows_extracted: int
    source_count: int
    rows_in_table: int
    mismatches: int

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> EntityTotals:
        counts = {f.name: int(record.get(f.name) or 0) for f in fields(cls) if f.name != "status"}
        return cls(status=str(record.get("status", "failed")), **counts)

    def line(self, entity: str) -> str:
        """The end-of-entity line every display prints."""
        return (
            f"{entity}: {self.status}; {self.chunks_done}/{self.chunks_total} chunks done, "
            f"rows extracted {self.rows_extracted}, source {self.source_count}, in table "
            f"{self.rows_in_table}, mismatched windows {self.mismatches}"
        )
