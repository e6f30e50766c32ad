"""Recording a delivery and enqueueing its syncs: one transaction per POST, no API call.

- `qbo_backfill_webhook_events` holds each event once (its key: the CloudEvents id, or the
  legacy format's natural key), with what it led to: `sync queued` (a new job), `sync
  joined` (folded into the company's job already waiting), or `ignored` and why (unknown
  company, entity not copied, unknown entity, malformed). A replayed event is not recorded
  again and leads to nothing.
- One fleet `sync` job per company: the job waiting under the company's queueing lock
  (`sync:<realm>`, the one `fleet sync` uses) absorbs the new entities, so a burst of events
  is one job, and at most one more runs behind the one already running. A waiting job for
  every entity (`[]`) stays so. A new job is due `coalesce_seconds` after its first event
  (Intuit sends a burst of changes as several POSTs): what arrives meanwhile joins it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
from psycopg import sql

from qbo_backfill.auth.tokens import TOKEN_TABLE
from qbo_backfill.fleet.app import JOBS_TABLE
from qbo_backfill.fleet.jobs import QUEUE, SYNC_COMPANY
from qbo_backfill.load.cursors import CURSORS
from qbo_backfill.load.ledger import CHUNKS, RUNS
from qbo_backfill.webhooks.activity import EVENTS_TABLE
from qbo_backfill.webhooks.events import WebhookEvent

__all__ = ["EVENTS_TABLE", "Delivery", "WebhookEvents"]

QUEUED, JOINED, IGNORED = "sync queued", "sync joined", "ignored"


@dataclass(frozen=True)
class Delivery:
    """What one POST did: events new to the table, replays, ignored ones, jobs added."""

    received: int
    new: int
    ignored: int
    jobs_queued: int
    jobs_joined: int


class WebhookEvents:
    """The events table of one schema, and the one transaction a delivery is."""

    def __init__(self, schema: str, coalesce_seconds: float = 1.0) -> None:
        self.schema = schema
        self.coalesce_seconds = coalesce_seconds
        self.table = sql.Identifier(schema, EVENTS_TABLE)

    async def create(self, conn: psycopg.AsyncConnection) -> None:
        await conn.execute(sql.SQL(_DDL).format(table=self.table))

    async def record(
        self, conn: psycopg.AsyncConnection, events: Sequence[WebhookEvent]
    ) -> Delivery:
        """Record `events` and enqueue their companies' syncs, in one transaction."""
        unique = list({e.key: e for e in events}.values())
        if not unique:
            return Delivery(0, 0, 0, 0, 0)
        async with conn.transaction():
            fresh = await self._insert(conn, unique)
            wanted: dict[str, set[str]] = defaultdict(set)
            for _key, realm, entity, led_to in fresh:
                if led_to == QUEUED:
                    wanted[realm].add(entity)
            jobs = await self._enqueue(conn, wanted)
            if jobs:
                await self._mark(conn, [row[0] for row in fresh if row[3] == QUEUED], jobs)
        queued = sum(1 for _, _, inserted in jobs if inserted)
        return Delivery(
            received=len(events),
            new=len(fresh),
            ignored=sum(1 for row in fresh if row[3] == IGNORED),
            jobs_queued=queued,
            jobs_joined=len(jobs) - queued,
        )

    async def _insert(
        self, conn: psycopg.AsyncConnection, events: list[WebhookEvent]
    ) -> list[tuple[str, str, str, str]]:
        """Insert the events not seen before, judged; (key, realm, entity, led_to) of each."""
        columns = [list(column) for column in zip(*(_row(e) for e in events), strict=True)]
        query = sql.SQL(_INSERT).format(
            table=self.table,
            tokens=sql.Identifier(self.schema, TOKEN_TABLE),
            cursors=sql.Identifier(self.schema, CURSORS),
            runs=sql.Identifier(self.schema, RUNS),
            chunks=sql.Identifier(self.schema, CHUNKS),
        )
        cursor = await conn.execute(query, columns)
        return [(r[0], r[1], r[2], r[3]) for r in await cursor.fetchall()]

    async def _enqueue(
        self, conn: psycopg.AsyncConnection, wanted: dict[str, set[str]]
    ) -> list[tuple[str, int, bool]]:
        """Insert or widen each company's waiting sync job; (realm, job id, inserted)."""
        if not wanted:
            return []
        realms = sorted(wanted)
        entities = [sorted(wanted[r]) for r in realms]
        query = sql.SQL(_UPSERT_JOBS).format(jobs=sql.Identifier(self.schema, JOBS_TABLE))
        cursor = await conn.execute(
            query,
            {
                "queue": QUEUE,
                "task": SYNC_COMPANY,
                "realms": realms,
                "entities": [",".join(e) for e in entities],
                "after": self.coalesce_seconds,
            },
        )
        return [(r[0], int(r[1]), bool(r[2])) for r in await cursor.fetchall()]

    async def _mark(
        self, conn: psycopg.AsyncConnection, keys: list[str], jobs: list[tuple[str, int, bool]]
    ) -> None:
        await conn.execute(
            sql.SQL(_MARK).format(table=self.table),
            (
                [j[0] for j in jobs],
                [j[1] for j in jobs],
                [j[2] for j in jobs],
                keys,
            ),
        )


def _row(event: WebhookEvent) -> tuple[object, ...]:
    return (
        event.key,
        event.realm_id,
        event.entity,
        event.entity_id,
        event.operation,
        event.event_time,
        event.source_format,
        event.problem,
    )


_DDL = """
CREATE TABLE IF NOT EXISTS {table} (
    event_key TEXT PRIMARY KEY,
    realm_id TEXT,
    entity TEXT,
    entity_id TEXT,
    operation TEXT,
    event_time TIMESTAMPTZ,
    source_format TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    led_to TEXT NOT NULL,
    reason TEXT,
    job_id BIGINT
);
CREATE INDEX IF NOT EXISTS qbo_backfill_webhook_events_realm_idx
    ON {table} (realm_id, received_at)
"""

# Each event judged in SQL against the token store (a company we serve?) and the copy (an
# entity copied for it: a cursor, or a done chunk of a backfill), then inserted unless seen.
_INSERT = """
INSERT INTO {table} AS e
    (event_key, realm_id, entity, entity_id, operation, event_time, source_format, led_to, reason)
SELECT key, realm, entity, entity_id, operation, event_time, format,
       CASE WHEN why IS NULL THEN 'sync queued' ELSE 'ignored' END, why
FROM (
    SELECT i.*, coalesce(i.problem,
        CASE
            WHEN NOT EXISTS (SELECT 1 FROM {tokens} t WHERE t.realm_id = i.realm)
                THEN 'unknown company'
            WHEN NOT EXISTS (SELECT 1 FROM {cursors} c
                             WHERE c.realm_id = i.realm AND c.entity = i.entity)
             AND NOT EXISTS (SELECT 1 FROM {chunks} k JOIN {runs} r USING (run_id)
                             WHERE r.realm_id = i.realm AND k.entity = i.entity
                               AND k.status = 'done')
                THEN 'entity not copied for this company'
        END) AS why
    FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[],
                %s::timestamptz[], %s::text[], %s::text[])
         AS i(key, realm, entity, entity_id, operation, event_time, format, problem)
) judged
ON CONFLICT (event_key) DO NOTHING
RETURNING event_key, realm_id, entity, led_to
"""

# One job per company under its queueing lock; a job already waiting is widened instead
# (an empty list, "every copied entity", stays empty). The lock keeps one company's syncs
# from running side by side.
_UPSERT_JOBS = """
INSERT INTO {jobs} AS j
    (queue_name, task_name, priority, lock, queueing_lock, args, scheduled_at)
SELECT %(queue)s, %(task)s, 0, 'sync:' || realm, 'sync:' || realm,
       jsonb_build_object('realm', realm, 'entities', to_jsonb(string_to_array(names, ','))),
       clock_timestamp() + make_interval(secs => %(after)s)
FROM unnest(%(realms)s::text[], %(entities)s::text[]) AS w(realm, names)
ON CONFLICT (queueing_lock) WHERE status = 'todo' DO UPDATE SET args = jsonb_build_object(
    'realm', j.args -> 'realm',
    'entities', CASE
        WHEN jsonb_array_length(coalesce(j.args -> 'entities', '[]')) = 0 THEN '[]'::jsonb
        ELSE (SELECT jsonb_agg(DISTINCT name ORDER BY name) FROM (
                  SELECT jsonb_array_elements_text(j.args -> 'entities')
                  UNION SELECT jsonb_array_elements_text(EXCLUDED.args -> 'entities')
              ) AS names(name))
    END)
RETURNING args ->> 'realm', id, xmax = 0
"""

_MARK = """
UPDATE {table} AS e
SET job_id = j.job_id, led_to = CASE WHEN j.inserted THEN 'sync queued' ELSE 'sync joined' END
FROM unnest(%s::text[], %s::bigint[], %s::bool[]) AS j(realm, job_id, inserted)
WHERE e.realm_id = j.realm AND e.event_key = ANY(%s::text[])
"""
