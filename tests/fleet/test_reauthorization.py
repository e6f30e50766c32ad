"""One company's refresh token revoked: that company alone is marked "needs
re-authorization" (its jobs fail at once, without retries); the others end exact."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
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


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    config = SandboxConfig(realms=4, invoices=80, customers=20, items=10, other_records=0)
    with Sandbox(config) as sb:
        yield sb


def test_a_revoked_company_is_marked_and_the_others_finish(
    sandbox: Sandbox, database_url: str, schema: str, home: Path, tmp_path: Path
) -> None:
    env = fleet_env(sandbox, database_url, schema, home)
    assert import_tokens(sandbox, env, tmp_path).returncode == 0
    revoked, *others = sandbox.info.realm_ids
    info = sandbox.info
    answer = httpx.post(
        info.revoke_url,
        json={"token": info.refresh_tokens[revoked]},
        auth=(info.client_id, info.client_secret),
    )
    assert answer.status_code == 200

    enqueued = run_cli(["fleet", "backfill", "Invoice", "Customer"], env, tmp_path)
    assert enqueued.returncode == 0, enqueued.stderr
    worker = WorkerProcess(env, tmp_path, "worker")
    try:
        wait_until(lambda: queue_idle(database_url, schema), 120, "the queue to drain")
    finally:
        assert worker.terminate() == 0, worker.log()[-2000:]

    shown = status(env, tmp_path)
    assert shown["needs_reauthorization"] == [revoked]
    by_realm = {c["realm_id"]: c for c in shown["companies"]}
    assert by_realm[revoked]["rows"] == 0
    assert "invalid_grant" in by_realm[revoked]["reason"]
    for realm in others:
        assert not by_realm[realm]["needs_reauthorization"]
        for entity in ("Invoice", "Customer"):
            assert_exact(sandbox, database_url, schema, realm, entity)
    # The revoked company's two plan jobs failed, once each; nothing else did.
    assert shown["jobs"]["failed"] == 2
    table = run_cli(["fleet", "status"], env, tmp_path)
    assert "needs re-authorization" in table.stdout
    assert info.refresh_tokens[revoked] not in worker.log() + table.stdout

    # A new token clears the mark: the company is no longer shown as blocked.
    assert import_tokens(sandbox, env, tmp_path).returncode == 0
    assert status(env, tmp_path)["needs_reauthorization"] == []
