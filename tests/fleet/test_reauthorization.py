"""One company's refresh token revoked: that company alone is marked "needs
re-authorization" (its jobs fail at once, without retries); the others end exact."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from tests.fleet.helpers import Fleet

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def sandbox_config() -> dict[str, Any]:
    return {"realms": 4, "invoices": 80, "customers": 20, "items": 10}


def test_a_revoked_company_is_marked_and_the_others_finish(fleet: Fleet) -> None:
    info = fleet.sandbox.info
    revoked, *others = info.realm_ids
    answer = httpx.post(
        info.revoke_url,
        json={"token": info.refresh_tokens[revoked]},
        auth=(info.client_id, info.client_secret),
    )
    assert answer.status_code == 200

    fleet.enqueue("backfill", "Invoice", "Customer")
    worker = fleet.start_worker("worker")
    try:
        fleet.wait_idle(120)
    finally:
        assert worker.terminate() == 0, worker.log()[-2000:]

    shown = fleet.status()
    assert shown["needs_reauthorization"] == [revoked]
    by_realm = {c["realm_id"]: c for c in shown["companies"]}
    assert by_realm[revoked]["rows"] == 0
    assert "invalid_grant" in by_realm[revoked]["reason"]
    for realm in others:
        assert not by_realm[realm]["needs_reauthorization"]
    fleet.assert_exact("Invoice", "Customer", realms=others)
    # The revoked company's two plan jobs failed, once each; nothing else did.
    assert shown["jobs"]["failed"] == 2
    table = fleet.cli("fleet", "status")
    assert "needs re-authorization" in table.stdout
    assert info.refresh_tokens[revoked] not in worker.log() + table.stdout
    report = fleet.cli("report", "--entity", "Invoice", "--format", "json")
    marked = json.loads(report.stdout)["needs_reauthorization"]
    assert list(marked) == [revoked]
    assert "invalid_grant" in marked[revoked]
    assert (
        f"company {revoked} needs re-authorization"
        in fleet.cli("report", "--entity", "Invoice").stdout
    )

    # A new token clears the mark: the company is no longer shown as blocked.
    assert fleet.import_tokens().returncode == 0
    assert fleet.status()["needs_reauthorization"] == []
