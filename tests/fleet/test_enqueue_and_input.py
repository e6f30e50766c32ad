"""Enqueueing without workers, and bad input: one line, exit 2, never a token."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.fleet.helpers import fleet_env, import_tokens, jobs_by_status, run_cli

from qbo_backfill.integrations.mage import enqueue_fleet
from qbo_backfill.sandbox import Sandbox, SandboxConfig
from qbo_backfill.settings import Settings

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(realms=3, invoices=10, customers=5, items=3, other_records=0)) as sb:
        yield sb


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("not json", "is not JSON"),
        ("[]", "must hold a non-empty object"),
        ('{"12a": "token-value"}', "realm ids must be digits"),
        ('{"123": ""}', "the refresh token of realm 123 must be a non-empty string"),
    ],
)
def test_a_bad_token_file_is_one_line_and_exit_2(
    sandbox: Sandbox,
    database_url: str,
    schema: str,
    home: Path,
    tmp_path: Path,
    content: str,
    says: str,
) -> None:
    env = fleet_env(sandbox, database_url, schema, home)
    path = tmp_path / "tokens.json"
    path.write_text(content, encoding="utf-8")
    result = run_cli(["auth", "import", "--from-json", str(path)], env, tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert says in result.stderr
    assert "token-value" not in result.stderr + result.stdout


def test_the_sandbox_start_up_line_is_accepted(
    sandbox: Sandbox, database_url: str, schema: str, home: Path, tmp_path: Path
) -> None:
    env = fleet_env(sandbox, database_url, schema, home)
    path = tmp_path / "startup.json"
    path.write_text(json.dumps({"realm_id": "1", "refresh_tokens": sandbox.info.refresh_tokens}))
    result = run_cli(["auth", "import", "--from-json", str(path)], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "3 companies" in result.stdout


def test_fleet_commands_refuse_unknown_companies(
    sandbox: Sandbox, database_url: str, schema: str, home: Path, tmp_path: Path
) -> None:
    env = fleet_env(sandbox, database_url, schema, home)
    empty = run_cli(["fleet", "backfill", "Invoice"], env, tmp_path)
    assert empty.returncode == 2
    assert "auth import --from-json" in empty.stderr
    assert import_tokens(sandbox, env, tmp_path).returncode == 0
    unknown = run_cli(["fleet", "backfill", "Invoice", "--realm", "999"], env, tmp_path)
    assert unknown.returncode == 2
    assert "no refresh token stored for realm 999" in unknown.stderr
    bad_entity = run_cli(["fleet", "backfill", "Invoicez"], env, tmp_path)
    assert bad_entity.returncode == 2


def test_sync_and_backfill_enqueue_once_per_company(
    sandbox: Sandbox, database_url: str, schema: str, home: Path, tmp_path: Path
) -> None:
    env = fleet_env(sandbox, database_url, schema, home)
    assert import_tokens(sandbox, env, tmp_path).returncode == 0
    first, second = (run_cli(["fleet", "sync", "Invoice"], env, tmp_path) for _ in range(2))
    assert "3 companies: 3 sync jobs enqueued" in first.stdout
    assert "0 sync jobs enqueued, 3 already waiting" in second.stdout
    realm = sandbox.info.realm_ids[0]
    one = run_cli(["fleet", "backfill", "Customer", "--realm", realm], env, tmp_path)
    assert "1 companies: 1 plan jobs enqueued" in one.stdout
    assert jobs_by_status(database_url, schema) == {"todo": 4}
    shown = run_cli(["fleet", "status", "--format", "json"], env, tmp_path)
    body = json.loads(shown.stdout)
    assert body["realms"] == 3
    assert body["jobs"] == {"todo": 4, "doing": 0, "succeeded": 0, "failed": 0}
    assert all(token not in shown.stdout for token in sandbox.info.refresh_tokens.values())


def test_the_mage_block_enqueues_like_the_command(
    sandbox: Sandbox, database_url: str, schema: str, home: Path, tmp_path: Path
) -> None:
    env = fleet_env(sandbox, database_url, schema, home)
    assert import_tokens(sandbox, env, tmp_path).returncode == 0
    settings = Settings.load(environ=env, dotenv_path=None)
    variables = {"entities": "Invoice, Customer", "start_date": "2024-01-01"}
    first = enqueue_fleet(variables | {"end_date": "2026-01-01"}, settings=settings)
    assert first == {
        "realms": 3,
        "enqueued": 6,
        "already_queued": 0,
        "already_done": 0,
        "budget_reached": None,
    }
    again = enqueue_fleet(variables | {"end_date": "2026-01-01"}, settings=settings)
    assert again["enqueued"] == 0
    assert again["already_queued"] == 6
