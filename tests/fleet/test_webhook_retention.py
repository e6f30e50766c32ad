"""Webhook events are kept `worker --keep-events-days`: older ones are deleted in bounded
batches, a fleet without the receiver is left alone, and the activity figures stay right."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql
from tests.fleet.helpers import Fleet, stop_all, wait_until
from tests.fleet.receiver import ReceiverProcess, cloud_body, recorded

from qbo_backfill.fleet.worker import WorkerOptions, prune_old_rows
from qbo_backfill.webhooks.activity import webhook_activity
from qbo_backfill.webhooks.record import EVENTS_TABLE, WebhookEvents
from qbo_backfill.webhooks.retention import prune_events

pytestmark = pytest.mark.db

DAY = timedelta(days=1)


@pytest.fixture
def conn(database_url: str, schema: str) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection, the test's schema made (without the events table)."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        yield connection


def create_events_table(database_url: str, schema: str) -> None:
    """The receiver's `CREATE .. IF NOT EXISTS` of the events table and its indexes."""

    async def create() -> None:
        async with await psycopg.AsyncConnection.connect(database_url) as aconn:
            await WebhookEvents(schema).create(aconn)
            await aconn.commit()

    asyncio.run(create())


@pytest.fixture
def events(conn: psycopg.Connection[Any], database_url: str, schema: str) -> str:
    """The receiver's events table in the test's schema."""
    create_events_table(database_url, schema)
    return schema


def add_events(
    conn: psycopg.Connection[Any], schema: str, prefix: str, *ages: timedelta
) -> list[str]:
    """Ignored events (an unknown company) received `ages` ago; their keys."""
    keys = [f"{prefix}{n}" for n in range(len(ages))]
    conn.cursor().executemany(
        sql.SQL(
            "INSERT INTO {} (event_key, realm_id, entity, source_format, led_to, reason, "
            "received_at) VALUES (%s, '999', 'Invoice', 'cloudevents', 'ignored', "
            "'unknown company', clock_timestamp() - %s)"
        ).format(sql.Identifier(schema, EVENTS_TABLE)),
        list(zip(keys, ages, strict=True)),
    )
    return keys


def kept(conn: psycopg.Connection[Any], schema: str) -> set[str]:
    table = sql.Identifier(schema, EVENTS_TABLE)
    return {r[0] for r in conn.execute(sql.SQL("SELECT event_key FROM {}").format(table))}


def prune(
    database_url: str, schema: str, keep_days: int, batch: int = 10_000, max_batches: int = 50
) -> int:
    async def run() -> int:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as c:
            return await prune_events(c, schema, keep_days, batch=batch, max_batches=max_batches)

    return asyncio.run(run())


def test_events_past_the_limit_are_deleted_and_younger_ones_kept(
    conn: psycopg.Connection[Any], database_url: str, events: str
) -> None:
    old = add_events(conn, events, "old", 400 * DAY, 40 * DAY, 30 * DAY + timedelta(minutes=1))
    young = add_events(conn, events, "young", 29 * DAY, 2 * DAY, timedelta(hours=1), 0 * DAY)
    before = webhook_activity(conn, events)
    assert (before.received, before.ignored) == (2, {"unknown company": 2})
    assert prune(database_url, events, keep_days=30) == len(old)
    assert kept(conn, events) == set(young)
    assert webhook_activity(conn, events) == before  # the last 24 hours are all still there
    assert prune(database_url, events, keep_days=30) == 0
    assert prune(database_url, events, keep_days=1) == 2  # 29 and 2 days old
    assert kept(conn, events) == set(young[2:])
    assert webhook_activity(conn, events) == before


@pytest.mark.parametrize("old", [25, 20])  # a last, partial batch; a last, empty one
def test_the_batches_delete_more_than_one_batch(
    conn: psycopg.Connection[Any], database_url: str, events: str, old: int
) -> None:
    add_events(conn, events, "old", *[(31 + n) * DAY for n in range(old)])
    young = add_events(conn, events, "young", *[n * DAY for n in range(5)])
    assert prune(database_url, events, keep_days=30, batch=10) == old
    assert kept(conn, events) == set(young)


def test_one_prune_deletes_at_most_its_batches_and_the_next_goes_on(
    conn: psycopg.Connection[Any], database_url: str, events: str
) -> None:
    add_events(conn, events, "old", *[(31 + n) * DAY for n in range(25)])
    young = add_events(conn, events, "young", DAY)
    assert prune(database_url, events, keep_days=30, batch=10, max_batches=2) == 20
    assert len(kept(conn, events)) == 6
    assert prune(database_url, events, keep_days=30, batch=10, max_batches=2) == 5
    assert kept(conn, events) == set(young)


def test_a_fleet_without_the_receiver_is_left_alone(
    conn: psycopg.Connection[Any], database_url: str, schema: str
) -> None:
    assert prune(database_url, schema, keep_days=1, batch=1) == 0
    assert prune(database_url, "no_such_schema", keep_days=1) == 0
    name = sql.Identifier(schema, EVENTS_TABLE).as_string(conn)
    assert conn.execute("SELECT to_regclass(%s)", (name,)).fetchone() == (None,)

    async def through_the_worker() -> tuple[int, int]:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as c:
            return await prune_old_rows(c, schema, WorkerOptions())

    assert asyncio.run(through_the_worker()) == (0, 0)
    assert conn.execute("SELECT to_regclass(%s)", (name,)).fetchone() == (None,)


def test_a_table_made_before_the_received_at_index_gains_it(
    conn: psycopg.Connection[Any], database_url: str, events: str
) -> None:
    def has_index() -> bool:
        query = "SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = %s"
        return any(
            r[0].endswith("USING btree (received_at)")
            for r in conn.execute(query, (events, EVENTS_TABLE))
        )

    assert has_index()
    index = sql.Identifier(events, "qbo_backfill_webhook_events_received_idx")
    conn.execute(sql.SQL("DROP INDEX {}").format(index))  # the table as it was made before
    assert not has_index()
    create_events_table(database_url, events)  # what the receiver does when it starts
    assert has_index()


def test_a_worker_prunes_old_events_and_a_redelivery_is_recorded_again(fleet: Fleet) -> None:
    """`worker --keep-events-days 50` deletes what the receiver recorded 60 days ago, logs
    how many, keeps the rest (40 days old: the default, 30, would delete it); the same
    events sent again are then new to the table."""
    receiver = ReceiverProcess(fleet)
    try:
        realm = fleet.sandbox.info.realm_id
        body = cloud_body(*[(f"e{n}", realm, "Customer", str(n), "updated") for n in range(3)])
        assert receiver.post(body).json()["new"] == 3
        age_all(fleet, "60 days")
        assert receiver.post(cloud_body(("old", realm, "Item", "8", "updated"))).is_success
        age_all(fleet, "40 days", "ce:old")
        assert receiver.post(cloud_body(("new", realm, "Item", "9", "updated"))).is_success
        worker = fleet.start_worker("pruner", 1, "--keep-events-days", "50")
        try:
            wait_until(lambda: len(recorded(fleet)) == 2, 30, "the old events to be deleted")
        finally:
            assert stop_all([worker]) == [0], worker.log()[-2000:]
        assert [e["key"] for e in recorded(fleet)] == ["ce:old", "ce:new"]
        assert "deleted 3 webhook events received over 50 days ago" in worker.log()
        assert receiver.post(body).json()["new"] == 3  # a re-delivery, recorded again
        assert fleet.status()["webhooks"]["received"] == 4  # the last 24 hours
    finally:
        receiver.stop()


def age_all(fleet: Fleet, by: str, key: str | None = None) -> None:
    """Move back the received time of every event (or of the one of `key`)."""
    fleet.fetch(
        sql.SQL(
            "UPDATE {} SET received_at = received_at - %s::interval "
            "WHERE event_key = coalesce(%s, event_key) RETURNING 1"
        ).format(sql.Identifier(fleet.schema, EVENTS_TABLE)),
        (by, key),
    )
