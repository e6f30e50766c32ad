"""The request-rate series of a report: the requests measured per minute (the ledger's
`qbo_backfill_request_minutes`), or, for runs recorded before those existed, an estimate
from each chunk's calls and duration, never drawn above the limit the limiter enforced."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from qbo_backfill.figures import ChunkRow
from qbo_backfill.load import request_minutes
from qbo_backfill.load.db import table_exists
from qbo_backfill.qbo.minutes import minute_of

__all__ = ["MAX_RATE_POINTS", "RatePoint", "measured_rate", "read_measured", "request_rate"]

# The request-rate chart has at most this many points, whatever the run's length.
MAX_RATE_POINTS = 120
MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class RatePoint:
    """Requests per minute in the bucket that starts at `at`."""

    at: datetime
    per_minute: float


def read_measured(
    conn: psycopg.Connection, schema: str, runs: Sequence[dict[str, Any]], now: datetime
) -> list[RatePoint]:
    """The requests measured per minute for the runs' companies, over the runs' time."""
    if not runs or not table_exists(conn, schema, request_minutes.REQUEST_MINUTES):
        return []
    start = minute_of(min(r["created_at"] for r in runs))
    end = max(r["finished_at"] or now for r in runs)
    realms = sorted({str(r["realm_id"]) for r in runs})
    return measured_rate(request_minutes.read(conn, schema, realms, start, end))


def measured_rate(minutes: Sequence[tuple[datetime, int]]) -> list[RatePoint]:
    """One point a minute from the first to the last (idle minutes are zero); a long span
    is grouped into at most MAX_RATE_POINTS points, each its minutes' average."""
    if not minutes:
        return []
    counts = dict(minutes)
    first, last = minutes[0][0], minutes[-1][0]
    span = int((last - first) / MINUTE) + 1
    series = [counts.get(first + i * MINUTE, 0) for i in range(span)]
    size = math.ceil(span / MAX_RATE_POINTS)
    return [
        RatePoint(first + i * MINUTE, sum(series[i : i + size]) / len(series[i : i + size]))
        for i in range(0, span, size)
    ]


def request_rate(chunks: Iterable[ChunkRow], ceiling: float | None = None) -> list[RatePoint]:
    """Requests per minute over time, estimated by spreading each chunk's API calls evenly
    over its last attempt's duration; with `ceiling` (the limiter's limit, which the real
    rate never passed), no point is drawn above it."""
    spans = [
        (c.started_at, c.finished_at, c.figures.api_calls)
        for c in chunks
        if c.started_at and c.finished_at and c.finished_at > c.started_at
    ]
    if not spans:
        return []
    start = min(s for s, _, _ in spans)
    span_seconds = (max(e for _, e, _ in spans) - start).total_seconds()
    bucket = max(1.0, span_seconds / MAX_RATE_POINTS)
    calls = [0.0] * (int(span_seconds // bucket) + 1)
    for began, ended, count in spans:
        _spread(
            calls, (began - start).total_seconds(), (ended - start).total_seconds(), count, bucket
        )
    top = math.inf if ceiling is None else ceiling
    return [
        RatePoint(start + timedelta(seconds=i * bucket), min(value / bucket * 60, top))
        for i, value in enumerate(calls)
    ]


def _spread(buckets: list[float], begin: float, end: float, count: int, size: float) -> None:
    rate = count / (end - begin)
    index = int(begin // size)
    while index < len(buckets) and index * size < end:
        overlap = min(end, (index + 1) * size) - max(begin, index * size)
        buckets[index] += rate * max(0.0, overlap)
        index += 1
