"""QBO_MONTHLY_CALL_BUDGET: once the month's calls reach it, no new work starts; the worker
says so in one line, `fleet status` shows it, and the jobs wait for the next month."""

from __future__ import annotations

from typing import Any

import pytest
from tests.fleet.helpers import MakeFleet, stop_all, wait_until

pytestmark = pytest.mark.db

WINDOW = ["--start", "2024-01-01", "--end", "2026-01-01"]


@pytest.fixture(scope="module")
def sandbox_config() -> dict[str, Any]:
    return {"realms": 3, "invoices": 30, "customers": 10, "items": 5}


def test_the_budget_stops_new_work(make_fleet: MakeFleet) -> None:
    fleet = make_fleet(QBO_MONTHLY_CALL_BUDGET="1")
    assert fleet.import_tokens().returncode == 0
    fleet.enqueue("backfill", "Invoice", *WINDOW)
    fleet.sandbox.reset_counters()

    worker = fleet.start_worker("worker", concurrency=1)
    try:
        wait_until(lambda: "monthly API call budget reached" in worker.log(), 60, "the budget line")
        wait_until(lambda: fleet.status()["jobs"]["doing"] == 0, 60, "no job running")
    finally:
        assert stop_all([worker]) == [0]

    shown = fleet.status()
    assert shown["budget"] == 1
    assert shown["budget_reached"] is True
    # One company's job ran (the budget was not reached when it started); the other two wait.
    done = [
        c for c in shown["companies"] if c["chunks_total"] and c["chunks_done"] == c["chunks_total"]
    ]
    assert len(done) == 1
    assert shown["jobs"]["todo"] == 2
    assert shown["api_calls"] == fleet.api_calls()
    again = fleet.cli("fleet", "backfill", "Invoice", *WINDOW)
    assert "monthly API call budget reached" in again.stderr
