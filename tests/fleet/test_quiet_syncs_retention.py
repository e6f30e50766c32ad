"""Sync runs that wrote nothing are kept `worker --keep-quiet-syncs-days`: older ones are
deleted in bounded batches; runs that changed the copy, failed ones and each entity's last
run stay whatever their age."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql
from tests.fleet.helpers import Fleet, stop_all, wait_until

from qbo_backfill.load.cursors import CURSORS, SyncCursors
from qbo_backfill.load.quietsyncs import prune_quiet_syncs
from qbo_backfill.load.syncruns import SYNC_RUNS, SyncRuns

pytestmark = pytest.mark.db

DAY = timedelta(days=1)
WHEN = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def conn(database_url: str, schema: str) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection, the test's schema made with the sync runs and cursors."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))

        async def create() -> None:
            async with await psycopg.AsyncConnection.connect(database_url) as aconn:
                await SyncRuns(schema).create(aconn)
                await SyncCursors(schema).create(aconn)
                await aconn.commit()

        asyncio.run(create())
        yield connection


def add_run(
    conn: psycopg.Connection[Any],
    schema: str,
    run_id: int,
    entity: str,
    age: timedelta,
    *,
    inserted: int = 0,
    quarantined: int = 0,
    status: str = "done",
) -> None:
    conn.execute(
        sql.SQL(
            "INSERT INTO {} (sync_run_id, session_id, realm_id, entity, path, status, "
            "cursor_before, cursor_after, lag_seconds, inserted, updated, unchanged, deleted, "
            "reactivated, quarantined, answers, windows_read, api_calls, error, finished_at) "
            "VALUES (%s, 's', '1', %s, 'cdc', %s, %s, %s, 0, %s, 0, 3, 0, 0, %s, 1, 0, 1, "
            "NULL, clock_timestamp() - %s)"
        ).format(sql.Identifier(schema, SYNC_RUNS)),
        (run_id, entity, status, WHEN, WHEN, inserted, quarantined, age),
    )


def point_cursor(conn: psycopg.Connection[Any], schema: str, entity: str, run_id: int) -> None:
    conn.execute(
        sql.SQL(
            "INSERT INTO {} (realm_id, entity, cursor_utc, sync_run_id) VALUES ('1', %s, %s, %s) "
            "ON CONFLICT (realm_id, entity) DO UPDATE SET sync_run_id = EXCLUDED.sync_run_id"
        ).format(sql.Identifier(schema, CURSORS)),
        (entity, WHEN, run_id),
    )


def kept(conn: psycopg.Connection[Any], schema: str) -> set[int]:
    table = sql.Identifier(schema, SYNC_RUNS)
    return {r[0] for r in conn.execute(sql.SQL("SELECT sync_run_id FROM {}").format(table))}


def prune(
    database_url: str, schema: str, keep_days: int, batch: int = 10_000, max_batches: int = 50
) -> int:
    async def run() -> int:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as c:
            return await prune_quiet_syncs(
                c, schema, keep_days, batch=batch, max_batches=max_batches
            )

    return asyncio.run(run())


def test_quiet_runs_past_the_limit_go_and_the_rest_stay(
    conn: psycopg.Connection[Any], database_url: str, schema: str
) -> None:
    add_run(conn, schema, 1, "Invoice", 40 * DAY)  # quiet, old: deleted
    add_run(conn, schema, 2, "Invoice", 31 * DAY)  # quiet, old: deleted
    add_run(conn, schema, 3, "Invoice", 40 * DAY, inserted=1)  # changed the copy
    add_run(conn, schema, 4, "Invoice", 40 * DAY, quarantined=1)  # kept a record aside
    add_run(conn, schema, 5, "Invoice", 40 * DAY, status="failed")
    add_run(conn, schema, 6, "Invoice", 29 * DAY)  # quiet, young
    add_run(conn, schema, 7, "Invoice", DAY)
    point_cursor(conn, schema, "Invoice", 7)
    add_run(conn, schema, 8, "Customer", 50 * DAY)  # quiet, old: deleted
    add_run(conn, schema, 9, "Customer", 45 * DAY)  # quiet, old, but the Customer cursor's
    point_cursor(conn, schema, "Customer", 9)
    assert prune(database_url, schema, keep_days=0) == 0  # 0 keeps them all
    assert prune(database_url, schema, keep_days=30) == 3
    assert kept(conn, schema) == {3, 4, 5, 6, 7, 9}
    assert prune(database_url, schema, keep_days=30) == 0
    assert prune(database_url, schema, keep_days=2) == 1  # the 29 days old one
    assert kept(conn, schema) == {3, 4, 5, 7, 9}


def test_one_prune_deletes_at_most_its_batches_and_the_next_goes_on(
    conn: psycopg.Connection[Any], database_url: str, schema: str
) -> None:
    for n in range(25):
        add_run(conn, schema, n, "Invoice", (31 + n) * DAY)
    add_run(conn, schema, 100, "Invoice", DAY)
    assert prune(database_url, schema, keep_days=30, batch=10, max_batches=2) == 20
    assert len(kept(conn, schema)) == 6
    assert prune(database_url, schema, keep_days=30, batch=10, max_batches=2) == 5
    assert kept(conn, schema) == {100}


def test_no_sync_runs_table_is_nothing_to_do(database_url: str, schema: str) -> None:
    assert prune(database_url, schema, keep_days=1) == 0
    with pytest.raises(ValueError, match="keep_days"):
        prune(database_url, schema, keep_days=-1)


def test_a_table_made_before_the_quiet_index_gains_it(
    conn: psycopg.Connection[Any], database_url: str, schema: str
) -> None:
    index = "qbo_backfill_sync_runs_quiet_idx"
    query = "SELECT count(*) FROM pg_indexes WHERE schemaname = %s AND indexname = %s"
    assert conn.execute(query, (schema, index)).fetchone() == (1,)
    conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(schema, index)))

    async def create() -> None:  # what a sync does when it starts
        async with await psycopg.AsyncConnection.connect(database_url) as aconn:
            await SyncRuns(schema).create(aconn)
            await aconn.commit()

    asyncio.run(create())
    assert conn.execute(query, (schema, index)).fetchone() == (1,)


def test_a_worker_prunes_the_old_quiet_syncs_of_a_fleet(fleet: Fleet) -> None:
    """Two fleet syncs with nothing to do, their runs aged 40 days: a worker started with
    the defaults deletes the first sync's runs and keeps the last (the cursors name it)."""
    fleet.enqueue("backfill", "Invoice")
    worker = fleet.start_worker("backfill")
    try:
        fleet.wait_idle(120, "the backfill")
        for _ in range(2):
            fleet.enqueue("sync")
            fleet.wait_idle(60, "a fleet sync")
    finally:
        assert stop_all([worker]) == [0], worker.log()[-2000:]
    table = sql.Identifier(fleet.schema, SYNC_RUNS)
    runs = fleet.fetch(sql.SQL("SELECT sync_run_id, realm_id FROM {}").format(table))
    companies = len(fleet.sandbox.info.realm_ids)
    assert len(runs) == 2 * companies
    last = fleet.fetch(
        sql.SQL("SELECT sync_run_id FROM {}").format(sql.Identifier(fleet.schema, CURSORS))
    )
    fleet.fetch(
        sql.SQL("UPDATE {} SET finished_at = finished_at - interval '40 days' RETURNING 1").format(
            table
        )
    )
    pruner = fleet.start_worker("pruner", 1)
    try:
        wait_until(
            lambda: len(fleet.fetch(sql.SQL("SELECT 1 FROM {}").format(table))) == companies,
            30,
            "the first sync's runs to be deleted",
        )
    finally:
        assert stop_all([pruner]) == [0], pruner.log()[-2000:]
    left = fleet.fetch(sql.SQL("SELECT sync_run_id FROM {}").format(table))
    assert sorted(left) == sorted(last)
    assert f"deleted {companies} sync runs that wrote nothing" in pruner.log()
