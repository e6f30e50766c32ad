"""Two processes running the same backfill at once: no duplicates, no lost rows, no refresh
token spent twice, no chunk processed twice at once."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from tests.reliability.harness import (
    ENTITIES,
    cli_env,
    compare,
    done_chunks_without_rows,
    duplicate_ids,
    record_figures,
    sandbox_process,
    start_cli,
)

# Not `repeats_at_scale`: the cheapest test where a chunk's advisory lock is waited for
# (`pg_advisory_lock`), so it stays in CI's rerun against the server PostgreSQL.
pytestmark = pytest.mark.db

ARGS = [
    "backfill",
    *ENTITIES,
    "--start=2024-01-01",
    "--end=2026-01-01",
    "--chunk-days=14",
    "--page-size=50",
]
PROCESSES = 2


def test_two_processes_share_one_backfill_without_duplicates_or_spent_tokens(
    database_url: str, schema: str, home: Path, tmp_path: Path
) -> None:
    # Grace 0 and a new refresh token on every refresh: a token spent twice is an
    # invalid_grant at once. A 60.5 s access token is refreshed every ~0.5 s (60 s margin).
    with sandbox_process(
        invoices=6000,
        customers=150,
        items=40,
        latency_ms=40,
        max_in_flight=0,
        refresh_rotation="every",
        refresh_grace_seconds=0,
        access_token_ttl=60.5,
    ) as sandbox:
        env = cli_env(sandbox.info, database_url, schema, home, QBO_TOKEN_KEY="shared-key-1")
        runs = [start_cli(ARGS, env, tmp_path) for _ in range(PROCESSES)]
        outputs = [run.communicate(timeout=240) for run in runs]
        codes = [run.returncode for run in runs]
        oauth = sandbox.counters()["oauth"]
        comparisons = [compare(sandbox, database_url, schema, e) for e in ENTITIES]
    assert codes == [0] * PROCESSES, [err[-1500:] for _, err in outputs]
    for result in comparisons:
        assert result.exact, result.summary()
        assert duplicate_ids(database_url, schema, result.entity) == 0
    assert oauth["invalid_grant"] == 0, oauth
    assert oauth["refresh"] >= PROCESSES, oauth
    assert done_chunks_without_rows(database_url, schema) == []
    chunks = sql.Identifier(schema, "qbo_backfill_chunks")
    runs_table = sql.Identifier(schema, "qbo_backfill_runs")
    with psycopg.connect(database_url) as conn:
        attempts = conn.execute(
            sql.SQL("SELECT status, attempts, count(*) FROM {} GROUP BY 1, 2").format(chunks)
        ).fetchall()
        run_count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(runs_table)).fetchone()
    # Each chunk was claimed once: the other process saw it locked or done and skipped it.
    assert {(status, tries) for status, tries, _ in attempts} == {("done", 1)}, attempts
    assert run_count == (len(ENTITIES),), "both processes resume one run per entity"
    record_figures(
        "concurrency",
        {
            "processes": PROCESSES,
            "rows_compared": sum(c.compared for c in comparisons),
            "refreshes": oauth["refresh"],
            "invalid_grant": oauth["invalid_grant"],
            "chunks": sum(n for *_, n in attempts),
        },
    )
