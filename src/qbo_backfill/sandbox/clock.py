"""Company-local (US Pacific) time, as QBO renders it, without a tz database.

QBO writes timestamps with the company's offset (`-08:00` in winter, `-07:00` in
summer). The US rule since 2007 is enough here: daylight time from the second Sunday
of March at 02:00 local to the first Sunday of November at 02:00 local.

Each sandbox has its own `SandboxClock`, the wall clock plus an offset that tests move
forward. Handlers read it from the state; code deep in response building reads the clock
of the request being served through `now_epoch()`, which the server sets per request.
"""

from __future__ import annotations

import contextvars
import time
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

__all__ = [
    "SandboxClock",
    "date_to_ordinal",
    "done_serving",
    "format_local",
    "format_local_millis",
    "local_date_ordinal",
    "local_midnight_epoch",
    "now_epoch",
    "ordinal_to_iso",
    "parse_timestamp",
    "serving",
]

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_HOUR = 3600


@lru_cache(maxsize=512)
def _dst_bounds(year: int) -> tuple[int, int]:
    """Epoch seconds (UTC) where Pacific daylight time starts and ends in `year`."""
    march1 = date(year, 3, 1)
    second_sunday = march1 + timedelta(days=(6 - march1.weekday()) % 7 + 7)
    nov1 = date(year, 11, 1)
    first_sunday = nov1 + timedelta(days=(6 - nov1.weekday()) % 7)
    start = (second_sunday.toordinal() - _EPOCH_ORDINAL) * 86400 + 10 * _HOUR  # 02:00 PST
    end = (first_sunday.toordinal() - _EPOCH_ORDINAL) * 86400 + 9 * _HOUR  # 02:00 PDT
    return start, end


def offset_hours(epoch: float) -> int:
    """Pacific offset from UTC at an instant: -7 in daylight time, else -8."""
    year = datetime.fromtimestamp(epoch, UTC).year
    start, end = _dst_bounds(year)
    return -7 if start <= epoch < end else -8


def format_local(epoch: int) -> str:
    """`2025-07-24T10:35:08-07:00` for an epoch second."""
    hours = offset_hours(epoch)
    local = datetime.fromtimestamp(epoch + hours * _HOUR, UTC)
    return f"{local.isoformat()[:19]}-{-hours:02d}:00"  # isoformat: strftime's result, faster


def format_local_millis(epoch: float) -> str:
    """`2025-04-15T09:01:18.141-07:00`, the shape of a response's `time`."""
    hours = offset_hours(epoch)
    local = datetime.fromtimestamp(epoch + hours * _HOUR, UTC)
    return f"{local:%Y-%m-%dT%H:%M:%S}.{local.microsecond // 1000:03d}-{-hours:02d}:00"


def local_date_ordinal(epoch: float) -> int:
    """The Pacific calendar date of an instant, as a proleptic ordinal."""
    return int((epoch + offset_hours(epoch) * _HOUR) // 86400) + _EPOCH_ORDINAL


def local_midnight_epoch(ordinal: int) -> int:
    """Epoch second of 00:00 Pacific on the given date."""
    naive = (ordinal - _EPOCH_ORDINAL) * 86400
    # Midnight is never inside a DST switch (they happen at 02:00), so one probe suffices.
    return naive - offset_hours(naive + 8 * _HOUR) * _HOUR


def date_to_ordinal(value: date) -> int:
    """A date as an ordinal."""
    return value.toordinal()


def ordinal_to_iso(ordinal: int) -> str:
    """`YYYY-MM-DD` for an ordinal."""
    return date.fromordinal(ordinal).isoformat()


class SandboxClock:
    """One sandbox's time: the wall clock moved forward by `offset` seconds."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset

    def now(self) -> float:
        """Epoch seconds on this clock."""
        return time.time() + self.offset

    def advance(self, seconds: float) -> float:
        """Move forward (never back); returns the new now."""
        if seconds < 0:
            raise ValueError(f"the clock only moves forward, got {seconds} seconds")
        self.offset += seconds
        return self.now()


_SERVING: contextvars.ContextVar[SandboxClock | None] = contextvars.ContextVar(
    "sandbox_clock", default=None
)


def serving(sandbox_clock: SandboxClock) -> contextvars.Token[SandboxClock | None]:
    """Make `now_epoch()` read this clock in the current context (one request's task)."""
    return _SERVING.set(sandbox_clock)


def done_serving(token: contextvars.Token[SandboxClock | None]) -> None:
    """Undo `serving`."""
    _SERVING.reset(token)


def now_epoch() -> float:
    """Epoch seconds on the clock of the request being served, else the wall clock."""
    current = _SERVING.get()
    return current.now() if current is not None else time.time()


def parse_timestamp(text: str) -> float:
    """Epoch seconds of an ISO timestamp; no offset means Pacific; ValueError otherwise."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        naive = parsed.replace(tzinfo=UTC).timestamp()
        # Interpret as Pacific wall time: try the winter offset, then check it.
        guess = naive + 8 * _HOUR
        return naive - offset_hours(guess) * _HOUR
    return parsed.timestamp()
