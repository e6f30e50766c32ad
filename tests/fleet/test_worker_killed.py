"""A worker SIGKILLed in the middle of a chunk: another worker's sweep puts the job back,
the chunk runs again within 15 s, and its rows are counted once."""

from __future__ import annotations

from typing import Any

import pytest
from psycopg import sql
from tests.fleet.helpers import Fleet, MakeFleet, wait_until

# Not `repeats_at_scale`: the cheapest test where procrastinate retries a stalled job and
# chunks are deferred again, so it stays in CI's rerun against the server PostgreSQL.
pytestmark = pytest.mark.db

SLOW_PAGES = ["--chunk-days", "90", "--page-size", "5"]


@pytest.fixture(scope="module")
def sandbox_config() -> dict[str, Any]:
    return {"realms": 2, "invoices": 240, "customers": 20, "items": 10, "latency_ms": 150}


def _running(fleet: Fleet) -> set[int]:
    """The chunks marked running."""
    chunks = sql.Identifier(fleet.schema, "qbo_backfill_chunks")
    query = sql.SQL("SELECT chunk_id FROM {} WHERE status = 'running'").format(chunks)
    return {r[0] for r in fleet.fetch(query)}


def test_a_killed_workers_chunk_runs_again_and_counts_once(make_fleet: MakeFleet) -> None:
    fleet = make_fleet(QBO_MAX_IN_FLIGHT="2")
    assert fleet.import_tokens().returncode == 0
    fleet.enqueue("backfill", "Invoice", *SLOW_PAGES)

    doomed = fleet.start_worker("doomed", concurrency=2)
    wait_until(lambda: bool(_running(fleet)), 60, "a chunk to start", step=0.1)
    doomed.kill()
    [(killed_at,)] = fleet.fetch(sql.SQL("SELECT now()"))
    interrupted = _running(fleet)
    assert interrupted

    survivor = fleet.start_worker("survivor", concurrency=2)
    try:
        fleet.wait_idle(180)
    finally:
        assert survivor.terminate() == 0, survivor.log()[-2000:]

    again = fleet.fetch(
        sql.SQL(
            "SELECT chunk_id, status, attempts, started_at - %s, rows_extracted, "
            "rows_inserted, rows_in_table FROM {} WHERE chunk_id = ANY(%s)"
        ).format(sql.Identifier(fleet.schema, "qbo_backfill_chunks")),
        [killed_at, list(interrupted)],
    )
    for _chunk, state, attempts, delay, extracted, inserted, in_table in again:
        assert state == "done"
        assert attempts == 2
        assert delay.total_seconds() < 15, f"the chunk ran again {delay} after the kill"
        print(f"chunk {_chunk} ran again {delay.total_seconds():.1f} s after the kill")
        assert extracted == inserted == in_table  # the killed attempt left nothing behind
    fleet.assert_exact("Invoice")
    assert fleet.status()["jobs"]["failed"] == 0
    assert "retrying it" in survivor.log()
