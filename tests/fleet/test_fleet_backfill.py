"""Several companies, `auth import --from-json`, `fleet backfill` (twice), two worker
processes: every company ends exact, each chunk copied once, nothing enqueued twice."""

from __future__ import annotations

from typing import Any

import pytest
from psycopg import sql
from tests.fleet.helpers import Fleet, MakeFleet, stop_all, wait_until

pytestmark = [pytest.mark.db, pytest.mark.repeats_at_scale]

ENTITIES = ["Invoice", "Customer"]
WINDOW = ["--start", "2024-01-01", "--end", "2026-01-01"]


@pytest.fixture(scope="module")
def sandbox_config() -> dict[str, Any]:
    return {"realms": 5, "invoices": 120, "customers": 30, "items": 10}


def test_fleet_copies_every_company_exactly(make_fleet: MakeFleet) -> None:
    fleet = make_fleet()
    imported = fleet.import_tokens()
    assert imported.returncode == 0, imported.stderr
    assert "5 companies" in imported.stdout
    for token in fleet.sandbox.info.refresh_tokens.values():
        assert token not in imported.stdout + imported.stderr

    first = fleet.enqueue("backfill", *ENTITIES, *WINDOW)
    assert "10 plan jobs enqueued" in first.stdout
    second = fleet.cli("fleet", "backfill", *ENTITIES, *WINDOW)
    assert "0 plan jobs enqueued, 10 already waiting" in second.stdout
    assert fleet.jobs() == {"todo": 10}

    fleet.sandbox.reset_counters()
    workers = [fleet.start_worker(f"worker{n}") for n in range(2)]
    try:
        fleet.wait_idle(120)
    finally:
        codes = stop_all(workers)
    assert codes == [0, 0], [w.log()[-2000:] for w in workers]

    fleet.assert_exact(*ENTITIES)
    chunks = fleet.chunks()
    assert {c[2] for c in chunks} == {"done"}
    assert all(c[3] == 1 for c in chunks), "a chunk was claimed more than once"

    shown = fleet.status()
    assert shown["realms"] == 5
    assert shown["jobs"]["failed"] == 0
    assert shown["jobs"]["todo"] == shown["jobs"]["doing"] == 0
    assert all(c["chunks_done"] == c["chunks_total"] > 0 for c in shown["companies"])
    assert shown["needs_reauthorization"] == []
    assert shown["api_calls"] == fleet.api_calls()
    assert all(c["throttled"] == 0 for c in fleet.sandbox.counters()["realms"].values())

    again = fleet.cli("fleet", "backfill", *ENTITIES, *WINDOW)
    assert "0 plan jobs enqueued, 0 already waiting, 10 already done" in again.stdout
    _sync_after_changes(fleet)
    _old_jobs_pruned(fleet)


def _sync_after_changes(fleet: Fleet) -> None:
    """`fleet sync` after an edit and a hard delete at every company: a worker brings each
    copy true, the deleted invoice marked, not removed."""
    sandbox, deleted = fleet.sandbox, {}
    for realm in sandbox.info.realm_ids:
        customer, invoice = (int(sandbox.records(e, realm)[0]["Id"]) for e in ENTITIES[::-1])
        sandbox.update("Customer", customer, {"Notes": "changed"}, realm)
        sandbox.delete("Invoice", invoice, realm)
        deleted[realm] = invoice
    fleet.enqueue("sync")
    worker = fleet.start_worker("sync-worker")
    try:
        fleet.wait_idle(120, "the sync jobs to finish")
    finally:
        assert stop_all([worker]) == [0], worker.log()[-2000:]
    assert fleet.status()["jobs"]["failed"] == 0
    fleet.assert_exact(*ENTITIES)
    for realm, invoice in deleted.items():
        assert fleet.marked_deleted(realm, invoice), (
            f"{realm}: invoice {invoice} not marked deleted"
        )


def _old_jobs_pruned(fleet: Fleet) -> None:
    """A worker deletes the succeeded jobs finished over `--keep-finished-hours` ago (the
    plan jobs, made two days old here), keeps the recent one (the sync job of the five), and
    enqueueing still skips every run already done."""
    jobs, events = (
        sql.Identifier(fleet.schema, t) for t in ("procrastinate_jobs", "procrastinate_events")
    )
    aged = fleet.fetch(
        sql.SQL(
            "UPDATE {events} e SET at = e.at - interval '2 days' FROM {jobs} j "
            "WHERE j.id = e.job_id AND j.task_name = %s RETURNING e.job_id"
        ).format(events=events, jobs=jobs),
        ("qbo_backfill.plan_run",),
    )
    assert aged
    assert fleet.jobs() == {"succeeded": 11}
    worker = fleet.start_worker("pruner", 1, "--keep-finished-hours", "24")
    try:
        wait_until(lambda: fleet.jobs() == {"succeeded": 1}, 30, "the old jobs to be deleted")
    finally:
        assert stop_all([worker]) == [0], worker.log()[-2000:]
    again = fleet.cli("fleet", "backfill", *ENTITIES, *WINDOW)
    assert "0 plan jobs enqueued, 0 already waiting, 10 already done" in again.stdout
