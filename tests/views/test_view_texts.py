"""The installer's memo of view texts: the same text as generating it, generated once per
set of inputs (each sync used to generate every view's SELECT again)."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from psycopg import sql

from qbo_backfill.views.catalog import definitions
from qbo_backfill.views.definition import RawTables, ViewDefinition
from qbo_backfill.views.install import ViewTexts

pytestmark = pytest.mark.db


def test_a_text_is_generated_once_and_equals_the_generated_one(database_url: str) -> None:
    first = definitions()[0]
    calls: list[int] = []

    def counted(raw: RawTables, realm: str | None) -> sql.Composable:
        calls.append(1)
        return first.build(raw, realm)

    view = ViewDefinition(first.name, first.tables, first.columns, counted)
    raw: RawTables = {t: sql.Identifier("s", t) for t in first.tables}
    missing: RawTables = dict.fromkeys(first.tables)

    async def texts() -> tuple[str, str, str, str]:
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            memo = ViewTexts()
            return (
                memo.text(conn, view, raw, None),
                memo.text(conn, view, raw, None),
                memo.text(conn, view, missing, None),
                first.build(raw, None).as_string(conn),
            )

    once, again, other, generated = asyncio.run(texts())
    assert once == again == generated
    assert other != once  # a missing table is another input
    assert len(calls) == 2
