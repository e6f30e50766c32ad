"""Edits at the sandbox reach PostgreSQL through the whole chain: the sandbox's signed
webhooks (each format), the receiver, the queue, one worker, the sync. Real processes over
real HTTP; the bounds are generous (the issue's 10 s for an edit)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from tests.fleet.helpers import Fleet, wait_until
from tests.fleet.receiver import ReceiverProcess, cloud_body, free_port, legacy_body, sync_jobs

from qbo_backfill.sandbox import Sandbox

pytestmark = pytest.mark.db

PORT = free_port()
COPIED = ("Customer", "Invoice")


# The formats differ in the HTTP body only: the legacy one alone stays in the rerun against
# the server PostgreSQL.
@pytest.fixture(
    scope="module",
    params=[pytest.param("cloudevents", marks=pytest.mark.repeats_at_scale), "legacy"],
)
def sandbox_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    return {
        "realms": 3,
        "invoices": 10,
        "customers": 5,
        "items": 3,
        "webhook_url": f"http://127.0.0.1:{PORT}/webhooks",
        "webhook_verifier": "test-verifier-token-0123456789",
        "webhook_format": request.param,
        "webhook_delay_ms": 0,
        "webhook_retry_scale": 0.05,  # 10 s, 20 s, 30 s, 5 min... become 0.5 s, 1 s, 1.5 s, 15 s
    }


@pytest.fixture
def running(fleet: Fleet) -> Iterator[tuple[Fleet, ReceiverProcess]]:
    """The companies' customers and invoices copied, the receiver and one worker running."""
    fleet.enqueue("backfill", *COPIED)
    fleet.start_worker("worker", 1)
    fleet.wait_idle(120, "the backfill")
    receiver = ReceiverProcess(fleet, "receiver", PORT)
    yield fleet, receiver
    receiver.stop()


def _settled(fleet: Fleet) -> bool:
    jobs = sync_jobs(fleet)
    return bool(jobs) and all(status == "succeeded" for status, _, _ in jobs)


def _row(fleet: Fleet, realm: str, entity: str, record_id: str) -> Any:
    return fleet.live_rows(f"qb_{entity.lower()}", realm).get(int(record_id))


def test_an_edit_is_in_postgresql_within_10_seconds(
    running: tuple[Fleet, ReceiverProcess],
) -> None:
    fleet, _receiver = running
    sb: Sandbox = fleet.sandbox
    realm = sb.info.realm_ids[1]
    invoice = sb.records("Invoice", realm)[0]
    began = time.monotonic()
    edited = sb.update("Invoice", invoice["Id"], {"PrivateNote": "edited"}, realm=realm)
    wait_until(lambda: _row(fleet, realm, "Invoice", invoice["Id"]) == edited, 10, "the edit")
    lag = time.monotonic() - began
    assert lag < 10
    wait_until(lambda: _settled(fleet), 30, "the sync jobs")
    fleet.assert_exact(*COPIED)
    assert sb.counters()["webhooks"]["delivered"] >= 1
    hooks = fleet.status()["webhooks"]
    assert hooks["received"] >= 1
    assert hooks["syncs_triggered"] >= 1
    assert hooks["awaiting_sync"] == 0
    assert 0 <= hooks["lag_max_seconds"] < 30
    shown = fleet.cli("fleet", "status")
    assert "syncs triggered" in shown.stdout, shown.stderr
    report = fleet.cli("report", "--format", "json")
    assert json.loads(report.stdout)["webhooks"]["received"] == hooks["received"], report.stderr


def test_a_burst_and_a_replayed_event_are_at_most_two_syncs(
    running: tuple[Fleet, ReceiverProcess],
) -> None:
    fleet, receiver = running
    sb: Sandbox = fleet.sandbox
    realm = sb.info.realm_ids[0]
    invoices = sb.records("Invoice", realm)
    edited = sb.update("Invoice", invoices[0]["Id"], {"PrivateNote": "burst"}, realm=realm)
    stamp = edited["MetaData"]["LastUpdatedTime"]
    same = legacy_body(realm, ("Invoice", invoices[0]["Id"], "Update", stamp))
    for _ in range(50):
        assert receiver.post(same).status_code == 200
    events = [(f"burst-{n}", realm, "Invoice", str(n + 1), "updated") for n in range(100)]
    for start in range(0, 100, 20):
        assert receiver.post(cloud_body(*events[start : start + 20])).status_code == 200
    wait_until(lambda: _settled(fleet), 60, "the sync jobs")
    assert len([job for job in sync_jobs(fleet) if job[1] == realm]) <= 2
    fleet.assert_exact(*COPIED)


def test_changes_while_the_receiver_is_down_arrive_by_intuits_retries(
    running: tuple[Fleet, ReceiverProcess],
) -> None:
    fleet, receiver = running
    sb: Sandbox = fleet.sandbox
    receiver.kill()
    for realm in sb.info.realm_ids:
        customer = sb.records("Customer", realm)[0]
        sb.update("Customer", customer["Id"], {"Notes": "changed while down"}, realm=realm)
        sb.create("Invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": []}, realm=realm)
    wait_until(lambda: sb.counters()["webhooks"]["failed_attempts"] >= 1, 10, "a failed POST")
    back = ReceiverProcess(fleet, "receiver-again", PORT)
    try:
        # No `fleet sync` is run: only the sandbox's retries can bring the changes.
        wait_until(lambda: sb.counters()["webhooks"]["pending"] == 0, 60, "the retries")
        wait_until(lambda: _settled(fleet) and _all_exact(fleet), 60, "every company exact")
    finally:
        back.stop()
    fleet.assert_exact(*COPIED)


def _all_exact(fleet: Fleet) -> bool:
    try:
        fleet.assert_exact(*COPIED)
    except AssertionError:
        return False
    return True
