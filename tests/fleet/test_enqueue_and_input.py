"""Enqueueing without workers, and bad input: one line, exit 2, never a token."""

from __future__ import annotations

import json

import pytest
from tests.fleet.helpers import Fleet, MakeFleet

from qbo_backfill.integrations.mage import enqueue_fleet
from qbo_backfill.settings import Settings

pytestmark = pytest.mark.db


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
    make_fleet: MakeFleet, content: str, says: str
) -> None:
    fleet = make_fleet()
    path = fleet.cwd / "tokens.json"
    path.write_text(content, encoding="utf-8")
    result = fleet.cli("auth", "import", "--from-json", str(path))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert says in result.stderr
    assert "token-value" not in result.stderr + result.stdout


def test_the_sandbox_start_up_line_is_accepted(make_fleet: MakeFleet) -> None:
    fleet = make_fleet()
    path = fleet.cwd / "startup.json"
    tokens = fleet.sandbox.info.refresh_tokens
    path.write_text(json.dumps({"realm_id": "1", "refresh_tokens": tokens}))
    result = fleet.cli("auth", "import", "--from-json", str(path))
    assert result.returncode == 0, result.stderr
    assert "3 companies" in result.stdout


def test_fleet_commands_refuse_unknown_companies(make_fleet: MakeFleet) -> None:
    fleet = make_fleet()
    empty = fleet.cli("fleet", "backfill", "Invoice")
    assert empty.returncode == 2
    assert "auth import --from-json" in empty.stderr
    assert fleet.import_tokens().returncode == 0
    unknown = fleet.cli("fleet", "backfill", "Invoice", "--realm", "999")
    assert unknown.returncode == 2
    assert "no refresh token stored for realm 999" in unknown.stderr
    bad_entity = fleet.cli("fleet", "backfill", "Invoicez")
    assert bad_entity.returncode == 2


def test_sync_and_backfill_enqueue_once_per_company(fleet: Fleet) -> None:
    alone = ("fleet", "sync", "Invoice", "--companies-per-job", "1")
    first, second = (fleet.cli(*alone) for _ in range(2))
    assert "3 companies: 3 sync jobs enqueued" in first.stdout
    assert "0 sync jobs enqueued, 3 already waiting" in second.stdout
    grouped, again = (fleet.cli("fleet", "sync", "Invoice") for _ in range(2))
    assert "3 companies: 1 sync jobs enqueued" in grouped.stdout  # 20 companies a job
    assert "0 sync jobs enqueued, 1 already waiting" in again.stdout
    realm = fleet.sandbox.info.realm_ids[0]
    one = fleet.cli("fleet", "backfill", "Customer", "--realm", realm)
    assert "1 companies: 1 plan jobs enqueued" in one.stdout
    assert fleet.jobs() == {"todo": 5}
    shown = fleet.cli("fleet", "status", "--format", "json")
    body = json.loads(shown.stdout)
    assert body["realms"] == 3
    assert body["jobs"] == {"todo": 5, "doing": 0, "succeeded": 0, "failed": 0}
    assert all(token not in shown.stdout for token in fleet.sandbox.info.refresh_tokens.values())


def test_the_mage_block_enqueues_like_the_command(fleet: Fleet) -> None:
    settings = Settings.load(environ=fleet.env, dotenv_path=None)
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
