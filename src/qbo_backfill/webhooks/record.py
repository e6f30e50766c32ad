"""Recording a delivery and enqueueing its syncs: one statement per POST, no API call.

- `qbo_backfill_webhook_events` holds each event once (its key: the CloudEvents id, or the
  legacy format's natural key), with what it led to: `sync queued` (a new job), `sync
  joined` (folded into the company's job already waiting), or `ignored` and why (unknown
  company, entity not copied, unknown entity, malformed). A replayed event is not recorded
  again and leads to nothing. The worker prunes the old events (webhooks/retention.py) by
  the `received_at` index.
- One fleet `sync` job per company: the job waiting under the company's queueing lock
  (`sync:<realm>`, the one `fleet sync` uses) absorbs the new entities, so a burst of events
  is one job, and at most one more runs behind the one already running. A waiting job for
  every entity (`[]`) stays so. A new job is due `coalesce_seconds` after its first event
  (Intuit sends a burst of changes as several POSTs): what arrives meanwhile joins it.
- A company's webhook syncs start at least `SYNCS_APART_SECONDS` after its last sync: a
  company changing all the time is synced every few seconds, not back to back (on cores
  shared with the receiver, back-to-back syncs kept it from answering within 3 s).
"""

from __future__ import annotations

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

# The least time between a company's last sync (its cursors' update) and a webhook sync.
SYNCS_APART_SECONDS = 5.0

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
    """The events table of one schema, and the one statement a delivery is."""

    def __init__(self, schema: str, coalesce_seconds: float = 1.0) -> None:
        self.schema = schema
        self.coalesce_seconds = coalesce_seconds
        self.table = sql.Identifier(schema, EVENTS_TABLE)

    async def create(self, conn: psycopg.AsyncConnection) -> None:
        await conn.execute(sql.SQL(_DDL).format(table=self.table))

    async def record(
        self, conn: psycopg.AsyncConnection, events: Sequence[WebhookEvent]
    ) -> Delivery:
        """Record `events` and enqueue their companies' syncs: one statement (on an
        autocommit connection, one round trip and one commit per POST)."""
        unique = list({e.key: e for e in events}.values())
        if not unique:
            return Delivery(0, 0, 0, 0, 0)
        columns = [list(column) for column in zip(*(_row(e) for e in unique), strict=True)]
        query = sql.SQL(_RECORD).format(
            table=self.table,
            tokens=sql.Identifier(self.schema, TOKEN_TABLE),
            cursors=sql.Identifier(self.schema, CURSORS),
            runs=sql.Identifier(self.schema, RUNS),
            chunks=sql.Identifier(self.schema, CHUNKS),
            jobs=sql.Identifier(self.schema, JOBS_TABLE),
        )
        params = {
            "keys": columns[0],
            "realms": columns[1],
            "entities": columns[2],
            "ids": columns[3],
            "operations": columns[4],
            "times": columns[5],
            "formats": columns[6],
            "problems": columns[7],
            "queue": QUEUE,
            "task": SYNC_COMPANY,
            "after": self.coalesce_seconds,
            "apart": SYNCS_APART_SECONDS,
        }
        if conn.autocommit:  # one statement is its own transaction
            cursor = await conn.execute(query, params)
            rows = [(str(r[0]), r[1]) for r in await cursor.fetchall()]
        else:
            async with conn.transaction():
                cursor = await conn.execute(query, params)
                rows = [(str(r[0]), r[1]) for r in await cursor.fetchall()]
        return Delivery(
            received=len(events),
            new=len(rows),
            ignored=sum(1 for led_to, _ in rows if led_to == IGNORED),
            jobs_queued=len({job for led_to, job in rows if led_to == QUEUED}),
            jobs_joined=len({job for led_to, job in rows if led_to == JOINED}),
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
    ON {table} (realm_id, received_at);
CREATE INDEX IF NOT EXISTS qbo_backfill_webhook_events_received_idx
    ON {table} (received_at)
"""

# One statement: each event judged against the token store (a company we serve?) and the
# copy (an entity copied for it: a cursor, or a done chunk of a backfill); the companies of
# the events not seen before get their job, inserted, or widened when it names fewer
# entities (left alone when it already covers them: no write, no trigger); then the events
# are inserted with what they led to (a key already there is skipped: a replay).
_RECORD = """
WITH incoming AS (
    SELECT * FROM unnest(%(keys)s::text[], %(realms)s::text[], %(entities)s::text[],
                         %(ids)s::text[], %(operations)s::text[], %(times)s::timestamptz[],
                         %(formats)s::text[], %(problems)s::text[])
         AS i(key, realm, entity, entity_id, operation, event_time, format, problem)
    WHERE NOT EXISTS (SELECT 1 FROM {table} e WHERE e.event_key = i.key)
), judged AS (
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
    FROM incoming i
), wanted AS (
    SELECT realm, jsonb_agg(DISTINCT entity ORDER BY entity) AS names,
           greatest(clock_timestamp() + make_interval(secs => %(after)s),
                    (SELECT max(c.updated_at_utc) FROM {cursors} c WHERE c.realm_id = realm)
                        + make_interval(secs => %(apart)s)) AS due
    FROM judged WHERE why IS NULL GROUP BY realm
), waiting AS (
    SELECT j.id, j.args ->> 'realm' AS realm FROM {jobs} j
    WHERE j.status = 'todo' AND j.queueing_lock IN (SELECT 'sync:' || realm FROM wanted)
), upserted AS (
    INSERT INTO {jobs} AS j
        (queue_name, task_name, priority, lock, queueing_lock, args, scheduled_at)
    SELECT %(queue)s, %(task)s, 0, 'sync:' || realm, 'sync:' || realm,
           jsonb_build_object('realm', realm, 'entities', names), due
    FROM wanted
    ON CONFLICT (queueing_lock) WHERE status = 'todo' DO UPDATE SET args = jsonb_build_object(
        'realm', j.args -> 'realm',
        'entities', (SELECT jsonb_agg(DISTINCT name ORDER BY name) FROM (
                         SELECT jsonb_array_elements_text(j.args -> 'entities')
                         UNION SELECT jsonb_array_elements_text(EXCLUDED.args -> 'entities')
                     ) AS names(name)))
    WHERE jsonb_array_length(coalesce(j.args -> 'entities', '[]')) > 0
      AND NOT (j.args -> 'entities') @> (EXCLUDED.args -> 'entities')
    RETURNING j.id, j.args ->> 'realm' AS realm, xmax = 0 AS inserted
), led AS (
    SELECT w.realm, coalesce(u.id, waiting.id) AS job_id, coalesce(u.inserted, false) AS new
    FROM wanted w
    LEFT JOIN upserted u ON u.realm = w.realm
    LEFT JOIN waiting ON waiting.realm = w.realm
)
INSERT INTO {table}
    (event_key, realm_id, entity, entity_id, operation, event_time, source_format, led_to,
     reason, job_id)
SELECT g.key, g.realm, g.entity, g.entity_id, g.operation, g.event_time, g.format,
       CASE WHEN g.why IS NOT NULL THEN 'ignored'
            WHEN led.new THEN 'sync queued' ELSE 'sync joined' END,
       g.why, led.job_id
FROM judged g LEFT JOIN led ON g.why IS NULL AND led.realm = g.realm
ON CONFLICT (event_key) DO NOTHING
RETURNING led_to, job_id
"""
