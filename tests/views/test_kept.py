"""`backfill` and `sync` keep the views in place: made by the backfill, following the
sync's deletes and restores (`_fivetran_deleted`), never in the fixed `quickbooks`."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from tests.helpers import MakeSandbox, settings_for, views_schema_of

from qbo_backfill.entities import resolve_entity
from qbo_backfill.run.engine import BackfillOptions, backfill
from qbo_backfill.run.sync import SyncOptions, sync
from qbo_backfill.views.catalog import definitions
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


def test_backfill_makes_the_views_and_sync_marks_deletes_and_restores(
    make_sandbox: MakeSandbox, database_url: str, schema: str, home: Path
) -> None:
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
    victim = int(sb.records("Invoice")[0]["Id"])
    assert _flags(database_url, views, victim) == ([False], [False])

    sb.delete("Invoice", victim)
    assert sync(settings, SyncOptions()).ok
    assert _flags(database_url, views, victim) == ([True], [True])

    sb.restore("Invoice", victim)
    assert sync(settings, SyncOptions()).ok
    assert _flags(database_url, views, victim) == ([False], [False])
