"""Gaps CDC cannot cover in one answer: a month away (past its 30 days), and more than
1,000 changes between two syncs."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from tests.helpers import MakeSandbox, settings_for
from tests.sync.churn import churn, compare, deleted_rows
from tests.sync.conftest import ENTITIES, backfill_all

from qbo_backfill.run.sync import SyncOptions, sync
from qbo_backfill.sandbox import Sandbox
from qbo_backfill.settings import Settings

pytestmark = pytest.mark.db

FORTY_DAYS = 40 * 86400


def test_forty_days_away_with_deletes_before_the_move_is_exact(
    sandbox: Sandbox, settings: Settings, database_url: str, schema: str
) -> None:
    backfill_all(settings, *ENTITIES, "TaxCode")
    done = churn(sandbox, seed=5)
    sandbox.advance_clock(FORTY_DAYS)
    result = sync(settings, SyncOptions())
    assert result.ok, result.records
    paths = {r.entity: r.path for r in result.records}
    assert paths == dict.fromkeys([*ENTITIES, "TaxCode"], "last-updated")
    for entity in ENTITIES:
        diff = compare(sandbox, database_url, schema, entity, done.deleted.get(entity))
        assert diff.exact, diff
    assert set(deleted_rows(database_url, schema, "Invoice")) == done.deleted["Invoice"]
    # Back inside CDC's reach: the next sync takes CDC, and sees changes made since.
    later = churn(sandbox, seed=6, size=3)
    again = sync(settings, SyncOptions())
    assert {r.path for r in again.records if r.entity in ENTITIES} == {"cdc"}
    for entity in ENTITIES:
        deleted = done.deleted.get(entity, set()) | later.deleted.get(entity, set())
        assert compare(sandbox, database_url, schema, entity, deleted).exact


@pytest.fixture
def larger(make_sandbox: MakeSandbox) -> Sandbox:
    return make_sandbox(customers=60, items=25, invoices=1500, other_records=0, max_in_flight=10)


def test_more_than_a_thousand_changes_lose_none_at_the_cap(
    larger: Sandbox, database_url: str, schema: str, home: Path
) -> None:
    settings = settings_for(larger, database_url, schema, home)
    backfill_all(settings)
    rng = random.Random(17)
    ids = sorted(int(r["Id"]) for r in larger.records("Invoice"))
    picked = rng.sample(ids, 1300)
    for n, record_id in enumerate(picked):
        if n % 200 == 0:
            # The sandbox makes over 1,000 changes a second; QBO's own edits come slower.
            # Spread out, the answers are cut between instants (one instant holding 1,000
            # changes or more is the LastUpdatedTime fallback, exact as well).
            larger.advance_clock(1)
        if n < 1150:
            larger.update("Invoice", record_id, {"PrivateNote": f"bulk {record_id}"})
        else:
            larger.delete("Invoice", record_id)
    done = churn(larger, seed=8, size=5)
    result = sync(settings, SyncOptions())
    assert result.ok, result.records
    invoice = next(r for r in result.records if r.entity == "Invoice")
    assert invoice.path == "cdc-per-entity"
    assert invoice.figures.answers >= 2
    deleted = set(picked[1150:]) | done.deleted["Invoice"]
    diff = compare(larger, database_url, schema, "Invoice", deleted)
    assert diff.exact, diff
    for entity in ("Customer", "Item"):
        assert compare(larger, database_url, schema, entity, done.deleted.get(entity)).exact
