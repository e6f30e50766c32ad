"""Every view exists after a backfill of every entity, reads, and has its declared types."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from psycopg import sql
from tests.views.conftest import Copy

from qbo_backfill.views.catalog import DBT_DEFAULT_VIEWS, definitions
from qbo_backfill.views.definition import RawTables, ViewDefinition
from qbo_backfill.views.install import install_views
from qbo_backfill.views.model import ColumnType

pytestmark = pytest.mark.db

PG_TYPES = {
    "text": "text",
    "numeric": "numeric",
    "date": "date",
    "timestamptz": "timestamp with time zone",
    "boolean": "boolean",
    "integer": "integer",
    "bigint": "bigint",
    "text[]": "ARRAY",
}


def test_every_view_exists_reads_and_is_typed(copy: Copy, views_schema: str) -> None:
    installed = copy.install(views_schema)
    assert set(installed.views) >= DBT_DEFAULT_VIEWS
    with psycopg.connect(copy.url) as conn:
        for definition in definitions():
            view = sql.Identifier(views_schema, definition.name)
            conn.execute(sql.SQL("SELECT * FROM {}").format(view)).fetchall()
            got = conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
                (views_schema, definition.name),
            ).fetchall()
            want = [(n, PG_TYPES[t.value]) for n, t in definition.columns]
            assert got == want, definition.name


def _counts(url: str, schema: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {
            d.name: conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, d.name))
            ).fetchone()[0]  # type: ignore[index]
            for d in definitions()
        }


def test_realm_keeps_one_company(copy: Copy, views_schema: str, installed: str) -> None:
    realm = copy.settings.realm_id
    assert realm is not None
    copy.install(views_schema, realm=realm)
    assert _counts(copy.url, views_schema) == _counts(copy.url, installed)
    copy.install(views_schema, realm="1" + realm)
    assert set(_counts(copy.url, views_schema).values()) == {0}


def test_install_again_replaces_in_place(copy: Copy, installed: str) -> None:
    """A second install over the same schema (what every backfill and sync does) keeps the
    views and what depends on them."""
    with psycopg.connect(copy.url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE VIEW {} AS SELECT id FROM {}").format(
                sql.Identifier(installed, "users_own"), sql.Identifier(installed, "invoice")
            )
        )
    again = copy.install(installed)
    assert again.seconds < 5
    assert _counts(copy.url, installed)["invoice"] > 0


def test_materialized_form_holds_the_same_rows(
    copy: Copy, views_schema: str, installed: str
) -> None:
    """`--materialized`: every view stored, with the unique index a concurrent refresh
    needs, holding what the plain view shows; installing plain again turns them back."""

    async def install(materialized: bool) -> None:
        async with await psycopg.AsyncConnection.connect(copy.url) as conn:
            await install_views(conn, copy.raw_schema, views_schema, materialized=materialized)

    asyncio.run(install(True))
    with psycopg.connect(copy.url) as conn:
        unique = conn.execute(
            "SELECT count(*) FROM pg_matviews AS m JOIN pg_indexes AS i ON i.schemaname = "
            "m.schemaname AND i.tablename = m.matviewname AND i.indexdef LIKE 'CREATE UNIQUE%%' "
            "WHERE m.schemaname = %s",
            (views_schema,),
        ).fetchone()
    assert unique == (len(definitions()),)
    assert _counts(copy.url, views_schema) == _counts(copy.url, installed)
    asyncio.run(install(False))
    with psycopg.connect(copy.url) as conn:
        left = conn.execute(
            "SELECT count(*) FROM pg_matviews WHERE schemaname = %s", (views_schema,)
        ).fetchone()
    assert left == (0,)
    assert _counts(copy.url, views_schema) == _counts(copy.url, installed)


def test_a_view_defined_elsewhere_installs_with_the_others(copy: Copy, views_schema: str) -> None:
    """The installer's extension point: a `ViewDefinition` handed in as `extra` (as a view
    over stored reports will be) is made with the rest, over its table or, missing, empty."""

    def build(raw: RawTables, realm: str | None) -> sql.Composable:
        table = raw.get("qb_invoice")
        if table is None:
            return sql.SQL("SELECT NULL::bigint AS invoices WHERE false")
        return sql.SQL("SELECT count(*) AS invoices FROM {}").format(table)

    extra = ViewDefinition(
        "invoice_count", ("qb_invoice",), (("invoices", ColumnType.INTEGER),), build
    )

    async def install() -> None:
        async with await psycopg.AsyncConnection.connect(copy.url) as conn:
            await install_views(conn, copy.raw_schema, views_schema, extra=[extra])

    asyncio.run(install())
    with psycopg.connect(copy.url) as conn:
        got = conn.execute(
            sql.SQL("SELECT invoices FROM {}").format(sql.Identifier(views_schema, "invoice_count"))
        ).fetchone()
    assert got is not None
    assert got[0] == _counts(copy.url, views_schema)["invoice"] > 0
