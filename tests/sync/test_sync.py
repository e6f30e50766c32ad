"""`sync` end to end: the sandbox over real HTTP into a real PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from tests.helpers import run_cli, sandbox_env
from tests.sync.churn import churn, compare, deleted_rows, raw_writes
from tests.sync.conftest import ENTITIES, backfill_all

from qbo_backfill.entities import resolve_entity
from qbo_backfill.run.sync import SyncOptions, sync
from qbo_backfill.sandbox import Sandbox
from qbo_backfill.settings import Settings

pytestmark = pytest.mark.db


def _requests(sb: Sandbox) -> int:
    counted = sb.counters()["realms"][sb.info.realm_id]["requests"]
    return sum(counted.values())


def test_sync_after_churn_is_exact_and_marks_deletes(
    sandbox: Sandbox, settings: Settings, database_url: str, schema: str
) -> None:
    backfill_all(settings)
    done = churn(sandbox, seed=11)
    result = sync(settings, SyncOptions())
    assert result.ok, result.records
    assert {r.path for r in result.records} == {"cdc"}
    for entity in ENTITIES:
        diff = compare(sandbox, database_url, schema, entity, done.deleted.get(entity))
        assert diff.exact, diff
    invoices = deleted_rows(database_url, schema, "Invoice")
    assert set(invoices) == done.deleted["Invoice"]
    assert all(p["Id"] == str(i) for i, p in invoices.items()), "payload kept"
    by_entity = {r.entity: r.figures for r in result.records}
    assert by_entity["Invoice"].deleted == len(done.deleted["Invoice"])
    assert by_entity["Customer"].inserted == 10


def test_idle_sync_writes_nothing_in_at_most_two_calls(
    sandbox: Sandbox, settings: Settings, database_url: str, schema: str
) -> None:
    backfill_all(settings, *ENTITIES, "TaxCode")
    churn(sandbox, seed=3, size=4)
    assert sync(settings, SyncOptions()).ok
    before = raw_writes(database_url, schema, [*ENTITIES, "TaxCode"])
    sandbox.reset_counters()
    idle = sync(settings, SyncOptions())
    assert idle.ok
    assert _requests(sandbox) <= 2
    assert idle.api_calls == _requests(sandbox)
    assert sum(r.figures.rows_written for r in idle.records) == 0
    assert raw_writes(database_url, schema, [*ENTITIES, "TaxCode"]) == before


def test_undo_makes_a_deleted_row_live_again(
    sandbox: Sandbox, settings: Settings, database_url: str, schema: str
) -> None:
    backfill_all(settings, "Invoice")
    victim = int(sandbox.records("Invoice")[5]["Id"])
    sandbox.delete("Invoice", victim)
    sync(settings, SyncOptions((resolve_entity("Invoice"),)))
    assert victim in deleted_rows(database_url, schema, "Invoice")
    sandbox.restore("Invoice", victim)
    again = sync(settings, SyncOptions((resolve_entity("Invoice"),)))
    assert again.records[0].figures.reactivated == 1
    assert compare(sandbox, database_url, schema, "Invoice").exact


def test_cli_sync_and_its_bad_input(
    sandbox: Sandbox, settings: Settings, database_url: str, schema: str, home: Path
) -> None:
    env = sandbox_env(sandbox, database_url, schema, home, PYTHONPATH=_src())
    never = run_cli(["sync", "Invoice"], env, home)
    assert never.returncode == 2, never.stderr
    assert never.stderr.strip().splitlines()[-1].startswith("error: Invoice never copied")
    unknown = run_cli(["sync", "Nonsense"], env, home)
    assert unknown.returncode == 2
    backfill_all(settings, "Invoice")
    churn_invoice = int(sandbox.records("Invoice")[0]["Id"])
    sandbox.delete("Invoice", churn_invoice)
    done = run_cli(["sync"], env, home)
    assert done.returncode == 0, done.stderr
    assert "Invoice" in done.stdout
    assert churn_invoice in deleted_rows(database_url, schema, "Invoice")
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            sql.SQL("SELECT deleted, path FROM {} ORDER BY sync_run_id DESC LIMIT 1").format(
                sql.Identifier(schema, "qbo_backfill_sync_runs")
            )
        ).fetchone()
    assert row == (1, "cdc")
    assert "sync" in run_cli(["sync", "--help"], env, home).stdout
    shown = run_cli(["report", "--last", "--format", "json"], env, home)
    assert shown.returncode == 0, shown.stderr
    syncs = json.loads(shown.stdout)["syncs"]
    assert syncs[0]["entity"] == "Invoice"
    assert syncs[0]["deleted"] == 1
    assert syncs[0]["path"] == "cdc"
    assert "sync runs" in run_cli(["report", "--last"], env, home).stdout
    page = run_cli(["report", "--last", "--format", "html"], env, home).stdout
    section = page[page.index("<h2>Syncs</h2>") :]
    assert "<td>Invoice</td><td>cdc</td><td>done</td><td>0</td><td>0</td><td>1</td>" in section


def _src() -> str:
    return str(Path(__file__).resolve().parents[2] / "src")
