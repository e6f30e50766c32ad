"""The issue's run: 50 companies, two workers, one SIGKILLed mid-run and another started.
Every company ends exact, no job fails, no chunk is counted twice, and no company sees a
throttled answer or more than 10 requests in flight (the sandbox's own counters)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.fleet.helpers import (
    WorkerProcess,
    assert_exact,
    chunk_attempts,
    fleet_env,
    import_tokens,
    queue_idle,
    run_cli,
    status,
    stop_all,
    wait_until,
)

from qbo_backfill.sandbox import Sandbox, SandboxConfig

pytestmark = pytest.mark.db

COMPANIES = 50


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    config = SandboxConfig(
        realms=COMPANIES, invoices=40, customers=5, items=3, other_records=0, latency_ms=40
    )
    with Sandbox(config) as sb:
        yield sb


def _done(chunks: list[tuple[str, int, str, int, int]]) -> int:
    return sum(1 for c in chunks if c[2] == "done")


def test_fifty_companies_survive_a_killed_worker(
    sandbox: Sandbox, database_url: str, schema: str, home: Path, tmp_path: Path
) -> None:
    env = fleet_env(sandbox, database_url, schema, home)
    assert import_tokens(sandbox, env, tmp_path).returncode == 0
    window = ["--start", "2024-01-01", "--end", "2026-01-01", "--page-size", "10"]
    assert run_cli(["fleet", "backfill", "Invoice", *window], env, tmp_path).returncode == 0
    sandbox.reset_counters()

    doomed = WorkerProcess(env, tmp_path, "doomed")
    steady = WorkerProcess(env, tmp_path, "steady")
    late: WorkerProcess | None = None
    try:
        wait_until(lambda: _done(chunk_attempts(database_url, schema)) >= 5, 120, "5 chunks")
        doomed.kill()
        late = WorkerProcess(env, tmp_path, "late")
        wait_until(lambda: queue_idle(database_url, schema), 180, "the queue to drain")
    finally:
        codes = stop_all([steady] + ([late] if late else []))
    assert codes == [0, 0]

    for realm in sandbox.info.realm_ids:
        assert_exact(sandbox, database_url, schema, realm, "Invoice")
    chunks = chunk_attempts(database_url, schema)
    assert {c[2] for c in chunks} == {"done"}
    assert all(c[3] <= 2 for c in chunks)  # at most the killed attempt and its rerun
    shown = status(env, tmp_path)
    assert shown["realms"] == COMPANIES
    assert shown["jobs"]["failed"] == 0
    assert sum(c["rows"] for c in shown["companies"]) == COMPANIES * 40
    for realm, counters in sandbox.counters()["realms"].items():
        assert counters["throttled"] == 0, realm
        assert counters["max_in_flight_seen"] <= 10, realm
