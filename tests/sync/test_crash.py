"""SIGKILL `qbo-backfill sync` at seeded instants, with changes made between the runs, then
sync once more: the copy is exact, deletes marked, nothing doubled.

Kill delays come from a seeded generator. A run that ends before its kill gets more
changes (and, once, a 40-day jump of the sandbox's clock, so kills land on the
LastUpdatedTime path too) until the wanted number of kills have landed mid-run.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from tests.helpers import MakeSandbox, run_cli, sandbox_env, settings_for
from tests.reliability.harness import duplicate_ids, start_cli
from tests.sync.churn import Churn, churn, compare, deleted_rows, live_rows
from tests.sync.conftest import ENTITIES, backfill_all

from qbo_backfill.sandbox import Sandbox

pytestmark = [pytest.mark.db, pytest.mark.slow, pytest.mark.repeats_at_scale]

KILLS = int(os.environ.get("QBO_SYNC_CRASH_KILLS", "6"))
SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.fixture
def slow_sandbox(make_sandbox: MakeSandbox) -> Sandbox:
    return make_sandbox(
        customers=80,
        items=25,
        invoices=2500,
        other_records=0,
        latency_ms=40,
        latency_jitter_ms=20,
        max_in_flight=10,
    )


def test_killed_syncs_end_exact(
    slow_sandbox: Sandbox, database_url: str, schema: str, home: Path, tmp_path: Path
) -> None:
    sb = slow_sandbox
    backfill_all(settings_for(sb, database_url, schema, home))
    copied = {e: max(int(r["Id"]) for r in sb.records(e)) for e in ENTITIES}
    env = sandbox_env(sb, database_url, schema, home, PYTHONPATH=SRC)
    rng = random.Random(int(os.environ.get("QBO_SYNC_CRASH_SEED", "31")))
    done, kills, attempts, jumped = Churn(), 0, 0, False
    while kills < KILLS and attempts < 5 * KILLS:
        attempts += 1
        done = _more_changes(sb, rng, done)
        if kills == KILLS // 2 and not jumped:
            sb.advance_clock(40 * 86400)
            jumped = True
        process = start_cli(["sync", "--json-logs"], env, tmp_path)
        try:
            process.wait(timeout=rng.uniform(0.8, 2.5))
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.communicate()
    assert kills == KILLS, f"only {kills} kills landed in {attempts} runs"
    final = run_cli(["sync"], env, tmp_path)
    assert final.returncode == 0, final.stderr[-2000:]
    for entity in ENTITIES:
        deleted = done.deleted.get(entity, set())
        # A record created and deleted while every sync in between was killed never reached
        # the table (CDC then gives only its Id): nothing to mark. Only records the churn
        # created may be absent; every other deleted record must be kept, marked.
        held = set(live_rows(database_url, schema, entity)) | set(
            deleted_rows(database_url, schema, entity)
        )
        never_copied = deleted - held
        assert all(i > copied[entity] for i in never_copied), (entity, sorted(never_copied))
        diff = compare(sb, database_url, schema, entity, deleted - never_copied)
        assert diff.exact, diff
        assert duplicate_ids(database_url, schema, entity) == 0
    assert _cursor_rows(database_url, schema) == len(ENTITIES)


def _more_changes(sb: Sandbox, rng: random.Random, done: Churn) -> Churn:
    """A churn plus 1,200 edits (more than one CDC answer holds), spread over seconds of
    the sandbox's clock."""
    done = churn(sb, seed=rng.randrange(1_000_000), size=6, churned=done)
    ids = sorted(int(r["Id"]) for r in sb.records("Invoice"))
    for n, record_id in enumerate(rng.sample(ids, 1200)):
        if n % 200 == 0:
            sb.advance_clock(1)
        sb.update("Invoice", record_id, {"PrivateNote": f"round {rng.random():.6f}"})
    return done


def _cursor_rows(database_url: str, schema: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(
                sql.Identifier(schema, "qbo_backfill_sync_cursors")
            )
        ).fetchone()
    return int(row[0]) if row else 0
