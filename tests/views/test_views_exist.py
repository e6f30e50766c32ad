"""Every view exists after a backfill of every entity, reads, and has its declared types."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql
from tests.views.conftest import Copy

from qbo_backfill.views.catalog import DBT_DEFAULT_VIEWS, definitions

pytestmark = pytest.mark.db

PG_TYPES = {
    "text": "text",
    "numeric": "numeric",
    "date": "date",
    "timestamptz": "timestamp with time zone",
    "boolean": "boolean",
    "integer": "integer",
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
