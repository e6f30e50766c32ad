"""Extract windows: half-open date ranges `[start, end)` and how a range splits into chunks.

`TxnDate` is a company-local date, so windows are dates, and the boundary day belongs to
exactly one window: the one that starts on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from qbo_backfill.errors import ConfigError

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# A list entity fetched whole is recorded with this window: "all of time".
WHOLE_START = date(1900, 1, 1)
WHOLE_END = date(9999, 12, 31)


@dataclass(frozen=True, order=True)
class ExtractWindow:
    """A half-open range of days, `[start, end)`."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ConfigError(f"window end {self.end} must be after its start {self.start}")

    @classmethod
    def whole(cls) -> ExtractWindow:
        """The window of a list entity fetched whole, inactive records included."""
        return cls(WHOLE_START, WHOLE_END)

    @property
    def is_whole(self) -> bool:
        return self.start == WHOLE_START and self.end == WHOLE_END

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def start_utc(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=UTC)

    @property
    def end_utc(self) -> datetime:
        return datetime.combine(self.end, time.min, tzinfo=UTC)

    def split(self, chunk_days: int) -> list[ExtractWindow]:
        """Consecutive windows of `chunk_days` (the last may be shorter), no gap, no overlap."""
        if chunk_days < 1:
            raise ConfigError(f"--chunk-days must be at least 1, not {chunk_days}")
        step = timedelta(days=chunk_days)
        windows, cursor = [], self.start
        while cursor < self.end:
            nxt = min(cursor + step, self.end)
            windows.append(ExtractWindow(cursor, nxt))
            cursor = nxt
        return windows

    @property
    def label(self) -> str:
        """The short form tables show: `all`, or `2025-01-01..2025-01-08`."""
        return "all" if self.is_whole else f"{self.start}..{self.end}"

    def __str__(self) -> str:
        return "[all time]" if self.is_whole else f"[{self.start}, {self.end})"


def parse_date(text: str, option: str) -> date:
    """A `YYYY-MM-DD` date (command line, Mage variables), or a ConfigError naming where.

    Strict: `date.fromisoformat` also takes `20250101` and week dates, which a user who
    types them more likely meant as something else.
    """
    cleaned = text.strip()
    try:
        parsed = date.fromisoformat(cleaned) if _ISO_DATE.fullmatch(cleaned) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise ConfigError(f"{option} must be a date as YYYY-MM-DD, not {text!r}")
    return parsed


def requested_window(start: date | None, end: date | None) -> ExtractWindow:
    """The window a user asked for; defaults: from 2000-01-01 to tomorrow (UTC)."""
    today = datetime.now(UTC).date()
    start = start or date(2000, 1, 1)
    end = end or today + timedelta(days=1)
    if end <= start:
        raise ConfigError(f"--end {end} must be after --start {start} (the end is exclusive)")
    return ExtractWindow(start, end)
