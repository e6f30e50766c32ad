"""Webhook activity, for `fleet status` and `report`: events received, ignored and why, syncs
triggered, and the lag from an event's time to the end of the first sync whose cursor
passed it (the moment the copy held the change). One read over the events table and the
sync runs table."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from qbo_backfill.load.syncruns import SYNC_RUNS

__all__ = ["WebhookActivity", "webhook_activity"]

EVENTS_TABLE = "qbo_backfill_webhook_events"  # the receiver's (webhooks/record.py)


@dataclass(frozen=True)
class WebhookActivity:
    """The last `hours` of webhook events."""

    hours: int
    received: int = 0
    ignored: dict[str, int] = field(default_factory=dict)  # why -> events
    syncs_triggered: int = 0
    awaiting_sync: int = 0  # led to a sync that has not yet covered them
    lag_p50_seconds: float | None = None
    lag_p95_seconds: float | None = None
    lag_max_seconds: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def webhook_activity(conn: psycopg.Connection, schema: str, hours: int = 24) -> WebhookActivity:
    """The activity of the last `hours`; all zero when no event was ever received."""
    if not _exists(conn, schema, EVENTS_TABLE):
        return WebhookActivity(hours)
    events = sql.Identifier(schema, EVENTS_TABLE)
    ignored = conn.execute(
        sql.SQL(
            "SELECT reason, count(*) FROM {} WHERE led_to = 'ignored' "
            "AND received_at >= now() - make_interval(hours => %s) GROUP BY reason"
        ).format(events),
        (hours,),
    ).fetchall()
    if not _exists(conn, schema, SYNC_RUNS):
        query = sql.SQL(_NO_SYNCS).format(events=events)
    else:
        query = sql.SQL(_FIGURES).format(events=events, syncs=sql.Identifier(schema, SYNC_RUNS))
    row = conn.execute(query, (hours,)).fetchone() or (0, 0, 0, None, None, None)
    return WebhookActivity(
        hours,
        received=int(row[0]),
        ignored={str(reason): int(n) for reason, n in ignored},
        syncs_triggered=int(row[1]),
        awaiting_sync=int(row[2]),
        lag_p50_seconds=_rounded(row[3]),
        lag_p95_seconds=_rounded(row[4]),
        lag_max_seconds=_rounded(row[5]),
    )


def _rounded(value: Any) -> float | None:
    return None if value is None else round(float(value), 2)


def _exists(conn: psycopg.Connection, schema: str, table: str) -> bool:
    row = conn.execute(
        "SELECT to_regclass(%s)", (sql.Identifier(schema, table).as_string(conn),)
    ).fetchone()
    return row is not None and row[0] is not None


_FIGURES = """
WITH recent AS (
    SELECT * FROM {events} WHERE received_at >= now() - make_interval(hours => %s)
), lags AS (
    SELECT extract(epoch FROM (
        SELECT min(s.finished_at) FROM {syncs} s
        WHERE s.realm_id = r.realm_id AND s.entity = r.entity AND s.status = 'done'
          AND s.cursor_after >= r.event_time
    ) - r.event_time) AS lag
    FROM recent r WHERE r.led_to <> 'ignored' AND r.event_time IS NOT NULL
)
SELECT (SELECT count(*) FROM recent),
       (SELECT count(DISTINCT job_id) FROM recent),
       (SELECT count(*) FROM lags WHERE lag IS NULL),
       (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lag) FROM lags),
       (SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY lag) FROM lags),
       (SELECT max(lag) FROM lags)
"""

_NO_SYNCS = """
SELECT count(*), count(DISTINCT job_id), count(*) FILTER (WHERE led_to <> 'ignored'),
       NULL, NULL, NULL
FROM {events} WHERE received_at >= now() - make_interval(hours => %s)
"""
