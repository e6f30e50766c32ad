"""QBO_MONTHLY_CALL_BUDGET: once the month's calls reach it, no new work starts; the worker
says so in one line, `fleet status` shows it, and the jobs wait for the next month."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.fleet.helpers import (
    WorkerProcess,
    fleet_env,
    import_tokens,
    run_cli,
    status,
    stop_all,
    wait_until,
)

from qbo_backfill.sandbox import Sandbox, SandboxConfig

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    config = SandboxConfig(realms=3, invoices=30, customers=10, items=5, other_records=0)
    with Sandbox(config) as sb:
        yield sb


def test_the_budget_stops_new_work(
    sandbox: Sandbox, database_url: str, schema: str, home: Path, tmp_path: Path
) -> None:
    env = fleet_env(sandbox, database_url, schema, home, QBO_MONTHLY_CALL_BUDGET="1")
    assert import_tokens(sandbox, env, tmp_path).returncode == 0
    window = ["--start", "2024-01-01", "--end", "2026-01-01"]
    assert run_cli(["fleet", "backfill", "Invoice", *window], env, tmp_path).returncode == 0
    sandbox.reset_counters()

    worker = WorkerProcess(env, tmp_path, "worker", concurrency=1)
    try:
        wait_until(lambda: "monthly API call budget reached" in worker.log(), 60, "the budget line")
        wait_until(lambda: status(env, tmp_path)["jobs"]["doing"] == 0, 60, "no job running")
    finally:
        assert stop_all([worker]) == [0]

    shown = status(env, tmp_path)
    assert shown["budget"] == 1
    assert shown["budget_reached"] is True
    # One company's job ran (the budget was not reached when it started); the other two wait.
    done = [
        c for c in shown["companies"] if c["chunks_total"] and c["chunks_done"] == c["chunks_total"]
    ]
    assert len(done) == 1
    assert shown["jobs"]["todo"] == 2
    counters = sandbox.counters()["realms"]
    spent = sum(sum(c["requests"].values()) for c in counters.values())
    assert shown["api_calls"] == spent
    again = run_cli(["fleet", "backfill", "Invoice", *window], env, tmp_path)
    assert "monthly API call budget reached" in again.stderr
