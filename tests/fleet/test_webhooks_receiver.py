"""The receiver over real HTTP and a real PostgreSQL: signatures, recording once, why an
event is ignored, coalescing a burst into one sync job per company."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest
from psycopg import sql
from tests.fleet.helpers import Fleet, MakeFleet, wait_until
from tests.fleet.receiver import (
    VERIFIER,
    ReceiverProcess,
    cloud_body,
    legacy_body,
    recorded,
    sync_jobs,
)

from qbo_backfill.webhooks.events import WebhookEvent, read_notifications
from qbo_backfill.webhooks.receiver import receiver_pool
from qbo_backfill.webhooks.record import SYNCS_APART_SECONDS, WebhookEvents

pytestmark = pytest.mark.db

WHEN = "2026-12-06T10:00:00-08:00"


@pytest.fixture
def receiver(fleet: Fleet) -> Iterator[ReceiverProcess]:
    started = ReceiverProcess(fleet)
    yield started
    started.stop()


@pytest.fixture
def copied(fleet: Fleet) -> Fleet:
    """The companies' invoices copied (so their invoice events lead to syncs)."""
    fleet.enqueue("backfill", "Invoice")
    worker = fleet.start_worker("backfill")
    fleet.wait_idle(120, "the backfill")
    assert worker.terminate() == 0
    return fleet


def test_forged_stale_and_missing_signatures_get_401_and_leave_nothing(
    fleet: Fleet, receiver: ReceiverProcess
) -> None:
    realm = fleet.sandbox.info.realm_id
    body = legacy_body(realm, ("Invoice", "1", "Update", WHEN))
    for key in ("forged-key", VERIFIER[:-1] + "x", None):  # forged, stale, missing
        answer = receiver.post(body, key=key)
        assert answer.status_code == 401, answer.text
    tampered = receiver.post(body + b" ", key=None, **{"intuit-signature": "not base64!"})
    assert tampered.status_code == 401
    assert recorded(fleet) == []
    assert sync_jobs(fleet) == []
    assert VERIFIER not in receiver.log()


def test_unusable_events_are_recorded_with_why_and_answered_200(
    fleet: Fleet, receiver: ReceiverProcess
) -> None:
    realm = fleet.sandbox.info.realm_id
    body = legacy_body(realm, ("Invoice", "1", "Update", WHEN), ("Gizmo", "2", "Create", WHEN))
    assert receiver.post(body).status_code == 200
    other = cloud_body(("e1", "999", "Invoice", "3", "created"))
    assert receiver.post(other, **{"content-type": "application/cloudevents+json"}).is_success
    assert receiver.post(b"{not json").status_code == 200
    assert receiver.post(b'[1, {"id": "e2"}]').status_code == 200
    reasons = {(e["entity"], e["reason"]) for e in recorded(fleet)}
    assert ("Invoice", "entity not copied for this company") in reasons
    assert ("Gizmo", "unknown entity 'Gizmo'") in reasons
    assert (None, "body is not JSON") in reasons
    assert (None, "an event is not a JSON object") in reasons
    assert any(r == "unknown company" for _, r in reasons)
    assert all(e["led_to"] == "ignored" for e in recorded(fleet))
    assert sync_jobs(fleet) == []
    before = len(recorded(fleet))
    again = receiver.post(body)  # a replay: answered, recorded once
    assert again.json()["new"] == 0
    assert len(recorded(fleet)) == before


def test_a_body_too_large_is_413_and_health_answers(
    fleet: Fleet, receiver: ReceiverProcess
) -> None:
    huge = b"[" + b" " * (5 * 1024 * 1024) + b"]"
    assert receiver.post(huge).status_code == 413
    assert receiver.client.get(receiver.urls["healthz"]).json() == {"ok": True}
    assert recorded(fleet) == []


def test_a_burst_for_one_company_is_one_sync_job_naming_its_entities(
    copied: Fleet, receiver: ReceiverProcess
) -> None:
    fleet = copied
    realm, other = fleet.sandbox.info.realm_ids[:2]
    same = legacy_body(realm, ("Invoice", "1", "Update", WHEN))
    for _ in range(50):
        assert receiver.post(same).status_code == 200
    burst = [(f"ev{n}", realm, "Invoice", str(n), "updated") for n in range(100)]
    for start in range(0, 100, 10):
        answer = receiver.post(cloud_body(*burst[start : start + 10]))
        assert answer.status_code == 200
    receiver.post(cloud_body(("cust", realm, "Customer", "1", "updated")))  # not copied
    receiver.post(cloud_body(("o1", other, "Invoice", "2", "deleted")))
    jobs = sync_jobs(fleet)
    assert sorted(jobs) == sorted([("todo", other, ["Invoice"]), ("todo", realm, ["Invoice"])])
    events = recorded(fleet)
    assert len(events) == 1 + 100 + 1 + 1
    led = [e["led_to"] for e in events if e["realm"] == realm and e["entity"] == "Invoice"]
    assert led.count("sync queued") == 1
    assert led.count("sync joined") == 100
    worker = fleet.start_worker("sync", 1)
    wait_until(lambda: all(j[0] == "succeeded" for j in sync_jobs(fleet)), 60, "the syncs")
    assert worker.terminate() == 0
    fleet.assert_exact("Invoice")
    # Just synced: the company's next webhook sync waits until 5 s after that sync.
    receiver.post(cloud_body(("again", realm, "Invoice", "3", "updated")))
    [(due, synced)] = fleet.fetch(
        sql.SQL(
            "SELECT j.scheduled_at, (SELECT max(updated_at_utc) FROM {} WHERE realm_id = %s) "
            "FROM {} j WHERE j.status = 'todo' AND j.queueing_lock = %s"
        ).format(
            sql.Identifier(fleet.schema, "qbo_backfill_sync_cursors"),
            sql.Identifier(fleet.schema, "procrastinate_jobs"),
        ),
        [realm, f"sync:{realm}"],
    )
    assert due >= synced + timedelta(seconds=SYNCS_APART_SECONDS)


def test_serve_without_a_verifier_token_or_companies_is_one_line_and_exit_2(
    make_fleet: MakeFleet,
) -> None:
    fleet = make_fleet()
    no_token = fleet.cli("webhooks", "serve", "--port", "0")
    assert no_token.returncode == 2
    assert no_token.stderr.strip().count("\n") == 0, no_token.stderr
    assert "QBO_WEBHOOK_VERIFIER_TOKEN" in no_token.stderr
    fleet.env["QBO_WEBHOOK_VERIFIER_TOKEN"] = VERIFIER
    no_companies = fleet.cli("webhooks", "serve", "--port", "0")
    assert no_companies.returncode == 2
    assert "auth import --from-json" in no_companies.stderr
    assert VERIFIER not in no_companies.stderr + no_companies.stdout


def test_recording_stays_an_index_lookup_however_the_events_table_grew(
    fleet: Fleet, receiver: ReceiverProcess
) -> None:
    """A plan kept from when the table was empty (a hash of every stored event, per POST)
    would make each POST cost more with every event kept (30 days of them by default):
    the receiver's connections plan each statement for the tables as they are."""
    receiver.stop()  # it made the tables
    seq_scans, index_scans, plan_cache_mode = asyncio.run(_record_after_growth(fleet))
    assert plan_cache_mode == "force_custom_plan"
    assert seq_scans == 0
    assert index_scans >= len(fleet.sandbox.info.realm_ids)


async def _record_after_growth(fleet: Fleet) -> tuple[int, int, str]:
    """Deliveries on one pooled connection, then 20,000 events stored (not analyzed), then
    one more delivery: its scans of the events table."""
    events = WebhookEvents(fleet.schema)
    table = sql.Identifier(fleet.schema, "qbo_backfill_webhook_events")
    realms = fleet.sandbox.info.realm_ids
    async with (
        receiver_pool(fleet.database_url, fleet.schema) as pool,
        pool.connection() as conn,
    ):
        for n in range(10):  # past the 5 runs after which PostgreSQL may keep a plan
            await events.record(conn, _deliveries(f"early{n}", realms))
        grow = "INSERT INTO {} (event_key, source_format, led_to) SELECT 'old' || n, "
        grow += "'cloudevents', 'ignored' FROM generate_series(1, 20000) n"
        await conn.execute(sql.SQL(grow).format(table))
        async with conn.transaction():
            before = await _scans(conn, table)
            await events.record(conn, _deliveries("late", realms))
            after = await _scans(conn, table)
        cursor = await conn.execute("SHOW plan_cache_mode")
        [(mode,)] = await cursor.fetchall()
    return after[0] - before[0], after[1] - before[1], str(mode)


def _deliveries(tag: str, realms: list[str]) -> list[WebhookEvent]:
    return read_notifications(
        cloud_body(*((f"{tag}-{r}", r, "Invoice", "1", "updated") for r in realms))
    )


async def _scans(conn: psycopg.AsyncConnection, table: sql.Identifier) -> tuple[int, int]:
    """The sequential and index scans of `table` this backend has counted, not yet reported."""
    cursor = await conn.execute(
        "SELECT seq_scan, idx_scan FROM pg_stat_xact_user_tables WHERE relid = %s::regclass",
        [table.as_string(conn)],
    )
    [(seq_scans, index_scans)] = await cursor.fetchall()
    return int(seq_scans), int(index_scans)
