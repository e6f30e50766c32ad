"""PostgreSQL stopped for 20 s under running workers, then started again: the workers
reconnect by themselves, no job is lost or fails, and every company ends exact.

The server is a private embedded PostgreSQL under the test's own QBO_HOME (`qbo-backfill
db start | stop`), so the shared test server is never stopped."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from tests.fleet.helpers import (
    WorkerProcess,
    assert_exact,
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

SCHEMA = "fleet_restart"
DOWN_SECONDS = 20
WINDOW = ["--start", "2024-01-01", "--end", "2026-01-01", "--chunk-days", "30", "--page-size", "10"]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    config = SandboxConfig(
        realms=3, invoices=240, customers=20, items=10, other_records=0, latency_ms=100
    )
    with Sandbox(config) as sb:
        yield sb


@pytest.fixture
def private_server(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """A PostgreSQL of this test's own; the environment that starts and stops it."""
    pg_home = tmp_path / "pg-home"
    env = {k: v for k, v in os.environ.items() if k != "QBO_DATABASE_URL"}
    env |= {"QBO_HOME": str(pg_home), "PYTHONPATH": str(Path(__file__).parents[2] / "src")}
    yield pg_home, env
    run_cli(["db", "stop"], env, tmp_path)


def _done_chunks(url: str) -> int:
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            row = conn.execute(
                sql.SQL("SELECT count(*) FROM {} WHERE status = 'done'").format(
                    sql.Identifier(SCHEMA, "qbo_backfill_chunks")
                )
            ).fetchone()
    except psycopg.errors.UndefinedTable:
        return 0
    return int(row[0]) if row else 0


def test_workers_outlive_a_database_restart(
    sandbox: Sandbox, private_server: tuple[Path, dict[str, str]], home: Path, tmp_path: Path
) -> None:
    _, server_env = private_server
    started = run_cli(["db", "start"], server_env, tmp_path)
    assert started.returncode == 0, started.stderr
    url = started.stdout.strip()
    env = fleet_env(sandbox, url, SCHEMA, home, QBO_MAX_IN_FLIGHT="2", QBO_QUEUE_LOG_LEVEL="INFO")
    assert import_tokens(sandbox, env, tmp_path).returncode == 0
    enqueued = run_cli(["fleet", "backfill", "Invoice", *WINDOW], env, tmp_path)
    assert enqueued.returncode == 0, enqueued.stderr

    workers = [WorkerProcess(env, tmp_path, f"worker{n}", concurrency=2) for n in range(2)]
    try:
        wait_until(lambda: _done_chunks(url) >= 2, 120, "the first chunks", step=0.2)
        stopped = run_cli(["db", "stop"], server_env, tmp_path)
        assert stopped.stdout.strip() == "stopped", stopped.stderr
        time.sleep(DOWN_SECONDS)
        assert all(w.process.poll() is None for w in workers), "a worker gave up"
        again = run_cli(["db", "start"], server_env, tmp_path)
        assert again.stdout.strip() == url
        wait_until(lambda: queue_idle(url, SCHEMA), 180, "the queue to drain after the restart")
    finally:
        codes = stop_all(workers)
    logs = [w.log() for w in workers]
    assert codes == [0, 0], [log[-2000:] for log in logs]
    assert any("connecting again in" in log for log in logs)

    for realm in sandbox.info.realm_ids:
        assert_exact(sandbox, url, SCHEMA, realm, "Invoice")
    shown = status(env, tmp_path)
    assert shown["jobs"]["failed"] == 0
    assert all(c["chunks_done"] == c["chunks_total"] for c in shown["companies"])
