"""A worker SIGKILLed in the middle of a chunk: another worker's sweep puts the job back,
the chunk runs again within 15 s, and its rows are counted once."""

from __future__ import annotations

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
    wait_until,
)

from qbo_backfill.sandbox import Sandbox, SandboxConfig

pytestmark = pytest.mark.db

SLOW_PAGES = ["--chunk-days", "90", "--page-size", "5"]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    config = SandboxConfig(
        realms=2, invoices=240, customers=20, items=10, other_records=0, latency_ms=150
    )
    with Sandbox(config) as sb:
        yield sb


def _running(url: str, schema: str) -> list[tuple[int, int]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            sql.SQL("SELECT chunk_id, attempts FROM {} WHERE status = 'running'").format(
                sql.Identifier(schema, "qbo_backfill_chunks")
            )
        ).fetchall()
    return [(r[0], r[1]) for r in rows]


def test_a_killed_workers_chunk_runs_again_and_counts_once(
    sandbox: Sandbox, database_url: str, schema: str, home: Path, tmp_path: Path
) -> None:
    env = fleet_env(sandbox, database_url, schema, home, QBO_MAX_IN_FLIGHT="2")
    assert import_tokens(sandbox, env, tmp_path).returncode == 0
    enqueued = run_cli(["fleet", "backfill", "Invoice", *SLOW_PAGES], env, tmp_path)
    assert enqueued.returncode == 0, enqueued.stderr

    doomed = WorkerProcess(env, tmp_path, "doomed", concurrency=2)
    wait_until(lambda: bool(_running(database_url, schema)), 60, "a chunk to start", step=0.1)
    doomed.kill()
    with psycopg.connect(database_url) as conn:
        killed_at = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
    interrupted = {chunk for chunk, _ in _running(database_url, schema)}
    assert interrupted

    survivor = WorkerProcess(env, tmp_path, "survivor", concurrency=2)
    try:
        wait_until(lambda: queue_idle(database_url, schema), 180, "the queue to drain")
    finally:
        assert survivor.terminate() == 0, survivor.log()[-2000:]

    chunks = sql.Identifier(schema, "qbo_backfill_chunks")
    with psycopg.connect(database_url) as conn:
        again = conn.execute(
            sql.SQL(
                "SELECT chunk_id, status, attempts, started_at - %s, rows_extracted, "
                "rows_inserted, rows_in_table FROM {} WHERE chunk_id = ANY(%s)"
            ).format(chunks),
            (killed_at, list(interrupted)),
        ).fetchall()
    for _chunk, state, attempts, delay, extracted, inserted, in_table in again:
        assert state == "done"
        assert attempts == 2
        assert delay.total_seconds() < 15, f"the chunk ran again {delay} after the kill"
        print(f"chunk {_chunk} ran again {delay.total_seconds():.1f} s after the kill")
        assert extracted == inserted == in_table  # the killed attempt left nothing behind
    for realm in sandbox.info.realm_ids:
        assert_exact(sandbox, database_url, schema, realm, "Invoice")
    shown = status(env, tmp_path)
    assert shown["jobs"]["failed"] == 0
    assert "retrying it" in survivor.log()
