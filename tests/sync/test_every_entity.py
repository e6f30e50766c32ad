"""Backfill and sync of every entity the sandbox serves, on its richer data: exact."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from tests.helpers import MakeSandbox, settings_for
from tests.sync.churn import compare

from qbo_backfill.entities import CATALOG, EntityKind, resolve_entity
from qbo_backfill.run.engine import BackfillOptions, backfill
from qbo_backfill.run.sync import SyncOptions, sync
from qbo_backfill.sandbox import Sandbox
from qbo_backfill.sandbox.catalog import CATALOG as SERVED
from qbo_backfill.windows import ExtractWindow

pytestmark = pytest.mark.db

# Their QBO shapes have no top-level Id the sandbox could key on: it holds none.
WITHOUT_DATA = {"ExchangeRate", "RecurringTransaction", "TaxClassification"}
SINGLETONS = {"CompanyInfo", "Preferences"}
ENTITIES = sorted(set(CATALOG) - WITHOUT_DATA)


@pytest.fixture
def rich(make_sandbox: MakeSandbox) -> Sandbox:
    return make_sandbox(customers=40, items=20, invoices=300, other_records=40, max_in_flight=10)


def test_client_catalog_matches_the_sandbox() -> None:
    assert set(CATALOG) == set(SERVED)
    for name, entity in CATALOG.items():
        assert entity.kind.value == SERVED[name].kind, name
        assert entity.has_active_flag == SERVED[name].has_active, name
        if entity.kind is EntityKind.TRANSACTION:
            assert SERVED[name].field("TxnDate") is not None, name


def test_every_entity_backfills_and_syncs_exactly(
    rich: Sandbox, database_url: str, schema: str, home: Path
) -> None:
    settings = settings_for(rich, database_url, schema, home)
    options = BackfillOptions(
        entities=tuple(resolve_entity(n) for n in ENTITIES),
        window=ExtractWindow.whole(),
        chunk_days=None,
    )
    assert backfill(settings, options).ok
    for name in ENTITIES:
        assert compare(rich, database_url, schema, name).exact, name
    deleted = _churn_every_entity(rich, random.Random(23))
    result = sync(settings, SyncOptions())
    assert result.ok, [r for r in result.records if r.status != "done"]
    assert {r.entity for r in result.records} == set(ENTITIES)
    for name in ENTITIES:
        diff = compare(rich, database_url, schema, name, deleted.get(name))
        assert diff.exact, diff
    paths = {r.entity: r.path for r in result.records}
    assert paths["TimeActivity"] == paths["TaxAgency"] == "last-updated"
    assert paths["Bill"] == "cdc"


def _churn_every_entity(sb: Sandbox, rng: random.Random) -> dict[str, set[int]]:
    """Per entity: one record edited, one deleted (a list record made inactive), one voided
    where QBO voids; the Ids deleted for good."""
    deleted: dict[str, set[int]] = {}
    for name in ENTITIES:
        ids = sorted(int(r["Id"]) for r in sb.records(name))
        if not ids:
            continue
        sb.update(name, rng.choice(ids), {"PrivateNote": "edited after the backfill"})
        if name in SINGLETONS or len(ids) < 3:
            continue
        victim = rng.choice(ids)
        answer = sb.delete(name, victim)
        if "record" not in answer:
            deleted[name] = {victim}
        if CATALOG[name].kind is EntityKind.TRANSACTION and name != "TimeActivity":
            sb.void(name, rng.choice(sorted(set(ids) - {victim})))
    return deleted
