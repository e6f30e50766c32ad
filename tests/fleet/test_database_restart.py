"""PostgreSQL stopped for 20 s under running workers, then started again: the workers
reconnect by themselves, no job is lost or fails, and every company ends exact.

The server is a private embedded PostgreSQL under the test's own QBO_HOME (`qbo-backfill
db start | stop`), so the shared test server is never stopped."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.fleet.helpers import SRC, MakeFleet, run_cli, stop_all, wait_until

pytestmark = [pytest.mark.db, pytest.mark.own_server]

SCHEMA = "fleet_restart"
DOWN_SECONDS = 20
WINDOW = ["--start", "2024-01-01", "--end", "2026-01-01", "--chunk-days", "30", "--page-size", "10"]


@pytest.fixture(scope="module")
def sandbox_config() -> dict[str, Any]:
    return {"realms": 3, "invoices": 240, "customers": 20, "items": 10, "latency_ms": 100}


@pytest.fixture
def private_server(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """A PostgreSQL of this test's own; the environment that starts and stops it."""
    pg_home = tmp_path / "pg-home"
    env = {k: v for k, v in os.environ.items() if k != "QBO_DATABASE_URL"}
    env |= {"QBO_HOME": str(pg_home), "PYTHONPATH": str(SRC)}
    yield pg_home, env
    run_cli(["db", "stop"], env, tmp_path)


def test_workers_outlive_a_database_restart(
    make_fleet: MakeFleet, private_server: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    _, server_env = private_server
    started = run_cli(["db", "start"], server_env, tmp_path)
    assert started.returncode == 0, started.stderr
    url = started.stdout.strip()
    fleet = make_fleet(
        database_url=url, schema=SCHEMA, QBO_MAX_IN_FLIGHT="2", QBO_QUEUE_LOG_LEVEL="INFO"
    )
    assert fleet.import_tokens().returncode == 0
    fleet.enqueue("backfill", "Invoice", *WINDOW)

    workers = [fleet.start_worker(f"worker{n}", concurrency=2) for n in range(2)]
    try:
        wait_until(lambda: fleet.done_chunks() >= 2, 120, "the first chunks", step=0.2)
        stopped = run_cli(["db", "stop"], server_env, tmp_path)
        assert stopped.stdout.strip() == "stopped", stopped.stderr
        time.sleep(DOWN_SECONDS)
        assert all(w.process.poll() is None for w in workers), "a worker gave up"
        again = run_cli(["db", "start"], server_env, tmp_path)
        assert again.stdout.strip() == url
        fleet.wait_idle(180, "the queue to drain after the restart")
    finally:
        codes = stop_all(workers)
    logs = [w.log() for w in workers]
    assert codes == [0, 0], [log[-2000:] for log in logs]
    assert any("connecting again in" in log for log in logs)

    fleet.assert_exact("Invoice")
    shown = fleet.status()
    assert shown["jobs"]["failed"] == 0
    assert all(c["chunks_done"] == c["chunks_total"] for c in shown["companies"])
