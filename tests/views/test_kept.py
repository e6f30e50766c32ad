"""`backfill` and `sync` keep the views in place: made by the backfill, following the
sync's deletes and restores (`_fivetran_deleted`), never in the fixed `quickbooks`."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from tests.helpers import MakeSandbox, settings_for, views_schema_of

from qbo_backfill import report
from qbo_backfill.entities import resolve_entity
from qbo_backfill.report.html import render_html
from qbo_backfill.run.engine import BackfillOptions, backfill
from qbo_backfill.run.sync import SyncOptions, sync
from qbo_backfill.views.catalog import definitions
from qbo_backfill.views.install import install_views
from qbo_backfill.windows import ExtractWindow

pytestmark = pytest.mark.db


def _flags(url: str, views: str, invoice_id: int) -> tuple[list[bool], list[bool]]:
    """`_fivetran_deleted` of the invoice's row and of its lines."""
    with psycopg.connect(url) as conn:
        header = conn.execute(
            sql.SQL("SELECT _fivetran_deleted FROM {} WHERE id = %s").format(
                sql.Identifier(views, "invoice")
            ),
            (str(invoice_id),),
        ).fetchall()
        lines = conn.execute(
            sql.SQL("SELECT DISTINCT _fivetran_deleted FROM {} WHERE invoice_id = %s").format(
                sql.Identifier(views, "invoice_line")
            ),
            (str(invoice_id),),
        ).fetchall()
    return [r[0] for r in header], [r[0] for r in lines]


@pytest.mark.parametrize("materialized", [False, True], ids=["plain", "materialized"])
def test_backfill_makes_the_views_and_sync_marks_deletes_and_restores(
    make_sandbox: MakeSandbox, database_url: str, schema: str, home: Path, materialized: bool
) -> None:
    """Plain views follow the raw tables by themselves; materialized ones are refreshed
    (concurrently) by the sync."""
    sb = make_sandbox(customers=10, items=5, invoices=40, other_records=0)
    settings = settings_for(sb, database_url, schema, home)
    views = views_schema_of(schema)
    assert settings.views_schema == views
    options = BackfillOptions(
        entities=(resolve_entity("Customer"), resolve_entity("Invoice")),
        window=ExtractWindow.whole(),
        chunk_days=None,
    )
    assert backfill(settings, options).ok
    with psycopg.connect(database_url) as conn:
        made = conn.execute(
            "SELECT table_name FROM information_schema.views WHERE table_schema = %s", (views,)
        ).fetchall()
        invoices = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(views, "invoice"))
        ).fetchone()
    assert {r[0] for r in made} == {d.name for d in definitions()}
    assert invoices == (40,)
    if materialized:
        asyncio.run(_materialize(database_url, schema, views))
        assert _kinds(database_url, views) == {"m"}
    victim = int(sb.records("Invoice")[0]["Id"])
    assert _flags(database_url, views, victim) == ([False], [False])

    sb.delete("Invoice", victim)
    assert sync(settings, SyncOptions()).ok
    assert _flags(database_url, views, victim) == ([True], [True])

    sb.restore("Invoice", victim)
    assert sync(settings, SyncOptions()).ok
    assert _flags(database_url, views, victim) == ([False], [False])
    assert _kinds(database_url, views) == ({"m"} if materialized else {"v"})


async def _materialize(url: str, raw: str, views: str) -> None:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        await install_views(conn, raw, views, materialized=True)


def _kinds(url: str, schema: str) -> set[str]:
    """The kinds of the schema's relations that are views (`v`) or materialized (`m`)."""
    with psycopg.connect(url) as conn:
        found = conn.execute(
            "SELECT DISTINCT c.relkind::text FROM pg_class AS c JOIN pg_namespace AS n "
            "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind IN ('v', 'm')",
            (schema,),
        ).fetchall()
    return {r[0] for r in found}


def test_report_lists_the_views_and_their_rows(
    make_sandbox: MakeSandbox, database_url: str, schema: str, home: Path, tmp_path: Path
) -> None:
    sb = make_sandbox(customers=8, items=4, invoices=30, other_records=0)
    settings = settings_for(sb, database_url, schema, home)
    options = BackfillOptions(
        entities=(resolve_entity("Invoice"),), window=ExtractWindow.whole(), chunk_days=None
    )
    assert backfill(settings, options).ok
    evidence = report.build_report(settings, report.Selection((), True, None))
    rows = dict(evidence.views)
    assert evidence.views_schema == settings.views_schema
    assert set(rows) == {d.name for d in definitions()}
    assert rows["invoice"] == 30
    assert rows["invoice_line"] == sum(len(r["Line"]) for r in sb.records("Invoice"))
    assert rows["customer"] == 0  # not copied: its view is there, empty
    assert json.loads(report.to_json(evidence))["views"]["rows"]["invoice"] == 30
    assert "invoice_line," in report.views_csv(evidence)
    assert "Typed views" in render_html(evidence)
    written = report.write_all(evidence, tmp_path / "out", "table", render_html(evidence))
    assert tmp_path / "out" / "report-views.csv" in written
