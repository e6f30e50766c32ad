"""Backfill and sync of every entity the sandbox serves, on its richer data: exact."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from psycopg import sql
from tests.helpers import MakeSandbox, count, run_cli, sandbox_env, settings_for, tables_in
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


@pytest.mark.repeats_at_scale
def test_all_names_every_entity_for_backfill_and_sync(
    make_sandbox: MakeSandbox, database_url: str, schema: str, home: Path, tmp_path: Path
) -> None:
    sb = make_sandbox(customers=10, items=5, invoices=40, other_records=10)
    env = sandbox_env(sb, database_url, schema, home)
    copied = run_cli(["backfill", "ALL", "Invoice"], env, tmp_path)
    assert copied.returncode == 0, copied.stderr
    runs = count(
        database_url,
        sql.SQL("SELECT count(DISTINCT entity) FROM {}").format(
            sql.Identifier(schema, "qbo_backfill_runs")
        ),
    )
    assert runs == len(CATALOG) == 37
    for name in ENTITIES:
        assert compare(sb, database_url, schema, name).exact, name
    sb.update("Bill", 1, {"PrivateNote": "edited after the backfill"})
    synced = run_cli(["sync", "all"], env, tmp_path)
    assert synced.returncode == 0, synced.stderr
    assert compare(sb, database_url, schema, "Bill").exact


def test_all_beside_an_unknown_name_is_bad_input(
    sandbox: Sandbox, database_url: str, schema: str, home: Path, tmp_path: Path
) -> None:
    result = run_cli(
        ["backfill", "all", "Invoices"], sandbox_env(sandbox, database_url, schema, home), tmp_path
    )
    assert result.returncode == 2
    assert "unknown entity 'Invoices'" in result.stderr
    assert tables_in(database_url, schema) == []
