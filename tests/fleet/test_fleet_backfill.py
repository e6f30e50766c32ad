"""Several companies, `auth import --from-json`, `fleet backfill` (twice), two worker
processes: every company ends exact, each chunk copied once, nothing enqueued twice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.fleet.helpers import (
    WorkerProcess,
    assert_exact,
    chunk_attempts,
    count_marked,
    fleet_env,
    import_tokens,
    jobs_by_status,
    queue_idle,
    run_cli,
    status,
    stop_all,
    wait_until,
)

from qbo_backfill.sandbox import Sandbox, SandboxConfig

pytestmark = pytest.mark.db

ENTITIES = ["Invoice", "Customer"]
WINDOW = ["--start", "2024-01-01", "--end", "2026-01-01"]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    config = SandboxConfig(realms=5, invoices=120, customers=30, items=10, other_records=0)
    with Sandbox(config) as sb:
        yield sb


def test_fleet_copies_every_company_exactly(
    sandbox: Sandbox, database_url: str, schema: str, home: Path, tmp_path: Path
) -> None:
    env = fleet_env(sandbox, database_url, schema, home)
    imported = import_tokens(sandbox, env, tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert "5 companies" in imported.stdout
    for token in sandbox.info.refresh_tokens.values():
        assert token not in imported.stdout + imported.stderr

    first = run_cli(["fleet", "backfill", *ENTITIES, *WINDOW], env, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "10 plan jobs enqueued" in first.stdout
    second = run_cli(["fleet", "backfill", *ENTITIES, *WINDOW], env, tmp_path)
    assert "0 plan jobs enqueued, 10 already waiting" in second.stdout
    assert jobs_by_status(database_url, schema) == {"todo": 10}

    sandbox.reset_counters()
    workers = [WorkerProcess(env, tmp_path, f"worker{n}") for n in range(2)]
    try:
        wait_until(lambda: queue_idle(database_url, schema), 120, "the queue to drain")
    finally:
        codes = stop_all(workers)
    assert codes == [0, 0], [w.log()[-2000:] for w in workers]

    for realm in sandbox.info.realm_ids:
        for entity in ENTITIES:
            assert_exact(sandbox, database_url, schema, realm, entity)
    chunks = chunk_attempts(database_url, schema)
    assert {c[2] for c in chunks} == {"done"}
    assert all(c[3] == 1 for c in chunks), "a chunk was claimed more than once"

    shown = status(env, tmp_path)
    assert shown["realms"] == 5
    assert shown["jobs"]["failed"] == 0
    assert shown["jobs"]["todo"] == shown["jobs"]["doing"] == 0
    assert all(c["chunks_done"] == c["chunks_total"] > 0 for c in shown["companies"])
    assert shown["needs_reauthorization"] == []
    counters = sandbox.counters()["realms"]
    spent = sum(sum(c["requests"].values()) for c in counters.values())
    assert shown["api_calls"] == spent
    assert all(c["throttled"] == 0 for c in counters.values())

    again = run_cli(["fleet", "backfill", *ENTITIES, *WINDOW], env, tmp_path)
    assert "0 plan jobs enqueued, 0 already waiting, 10 already done" in again.stdout
    _sync_after_changes(sandbox, env, database_url, schema, tmp_path)


def _sync_after_changes(
    sandbox: Sandbox, env: dict[str, str], database_url: str, schema: str, tmp_path: Path
) -> None:
    """`fleet sync` after an edit and a hard delete at every company: a worker brings each
    copy true, the deleted invoice marked, not removed."""
    deleted = {}
    for realm in sandbox.info.realm_ids:
        customer, invoice = (int(sandbox.records(e, realm)[0]["Id"]) for e in ENTITIES[::-1])
        sandbox.update("Customer", customer, {"Notes": "changed"}, realm)
        sandbox.delete("Invoice", invoice, realm)
        deleted[realm] = invoice
    synced = run_cli(["fleet", "sync"], env, tmp_path)
    assert synced.returncode == 0, synced.stderr
    worker = WorkerProcess(env, tmp_path, "sync-worker")
    try:
        wait_until(lambda: queue_idle(database_url, schema), 120, "the sync jobs to finish")
    finally:
        assert stop_all([worker]) == [0], worker.log()[-2000:]
    assert status(env, tmp_path)["jobs"]["failed"] == 0
    for realm, invoice in deleted.items():
        for entity in ENTITIES:
            assert_exact(sandbox, database_url, schema, realm, entity)
        marked = count_marked(database_url, schema, realm, invoice)
        assert marked == 1, f"{realm}: invoice {invoice} not marked deleted"
