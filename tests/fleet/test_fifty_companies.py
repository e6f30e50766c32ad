"""The issue's run: 50 companies, two workers, one SIGKILLed mid-run and another started.
Every company ends exact, no job fails, no chunk is counted twice, and no company sees a
throttled answer or more than 10 requests in flight (the sandbox's own counters)."""

from __future__ import annotations

from typing import Any

import pytest
from tests.fleet.helpers import Fleet, WorkerProcess, stop_all, wait_until

pytestmark = [pytest.mark.db, pytest.mark.repeats_at_scale]

COMPANIES = 50
WINDOW = ["--start", "2024-01-01", "--end", "2026-01-01", "--page-size", "10"]


@pytest.fixture(scope="module")
def sandbox_config() -> dict[str, Any]:
    return {"realms": COMPANIES, "invoices": 40, "customers": 5, "items": 3, "latency_ms": 40}


def test_fifty_companies_survive_a_killed_worker(fleet: Fleet) -> None:
    fleet.enqueue("backfill", "Invoice", *WINDOW)
    fleet.sandbox.reset_counters()

    doomed = fleet.start_worker("doomed")
    steady = fleet.start_worker("steady")
    late: WorkerProcess | None = None
    try:
        wait_until(lambda: fleet.done_chunks() >= 5, 120, "5 chunks")
        doomed.kill()
        late = fleet.start_worker("late")
        fleet.wait_idle(180)
    finally:
        codes = stop_all([steady] + ([late] if late else []))
    assert codes == [0, 0]

    fleet.assert_exact("Invoice")
    chunks = fleet.chunks()
    assert {c[2] for c in chunks} == {"done"}
    assert all(c[3] <= 2 for c in chunks)  # at most the killed attempt and its rerun
    shown = fleet.status()
    assert shown["realms"] == COMPANIES
    assert shown["jobs"]["failed"] == 0
    assert sum(c["rows"] for c in shown["companies"]) == COMPANIES * 40
    for realm, counters in fleet.sandbox.counters()["realms"].items():
        assert counters["throttled"] == 0, realm
        assert counters["max_in_flight_seen"] <= 10, realm
