"""Creating the typed views in a schema: every view (or those of some entities), over the
raw tables of the copy's schema, optionally for one company, plain or materialized
(`forms`).

A view whose raw table does not exist yet is still created, over an empty relation of the
same columns (dbt needs every default table): no raw table is created here, so `sync`
never mistakes a table made for a view for an entity that was copied. When `backfill` or
`sync` later creates the table, they install the view again, now over it."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import psycopg
from psycopg import sql

from qbo_backfill.load.db import DDL_LOCK
from qbo_backfill.views import forms
from qbo_backfill.views.catalog import definitions
from qbo_backfill.views.definition import ViewDefinition
from qbo_backfill.views.forms import Form


@dataclass(frozen=True)
class Installed:
    """What an install did: the views it covers, those that read no table yet, those left
    as they were (their definition unchanged), the time taken."""

    schema: str
    views: tuple[str, ...]
    over_missing_tables: tuple[str, ...]
    seconds: float
    unchanged: tuple[str, ...] = ()
    materialized: bool = False


def chosen(
    entity_names: Iterable[str] | None, extra: Iterable[ViewDefinition] = ()
) -> list[ViewDefinition]:
    """Every view, or those reading one of `entity_names` (views reading no entity, such
    as one over stored reports, always)."""
    wanted = set(entity_names) if entity_names is not None else None
    return [
        d
        for d in [*definitions(), *extra]
        if wanted is None or not d.entity_names or wanted & set(d.entity_names)
    ]


async def install_views(
    conn: psycopg.AsyncConnection,
    raw_schema: str,
    views_schema: str,
    *,
    realm: str | None = None,
    materialized: bool = False,
    entity_names: Iterable[str] | None = None,
    extra: Iterable[ViewDefinition] = (),
) -> Installed:
    """Create or replace the views (all, or those reading `entity_names`) in
    `views_schema`, in one transaction: readers see the old views or the new, never none."""
    started = time.perf_counter()
    form = Form(realm, materialized)
    views = chosen(entity_names, extra)
    existing = await _tables(conn, raw_schema)
    missing: list[str] = []
    unchanged: list[str] = []
    async with conn.transaction():
        await conn.execute(DDL_LOCK)
        await conn.execute(
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(views_schema))
        )
        relations = await forms.present(conn, views_schema)
        for definition in views:
            raw = {
                t: (sql.Identifier(raw_schema, t) if t in existing else None)
                for t in definition.tables
            }
            if all(v is None for v in raw.values()):
                missing.append(definition.name)
            query = definition.build(raw, realm)
            there = relations.get(definition.name)
            if there is not None and there.mark == form.mark(query.as_string(conn)):
                unchanged.append(definition.name)
                continue
            target = (views_schema, definition.name)
            await forms.make(conn, target, query, definition.keys, form, there)
    return Installed(
        views_schema,
        tuple(d.name for d in views),
        tuple(missing),
        time.perf_counter() - started,
        tuple(unchanged),
        materialized,
    )


async def _tables(conn: psycopg.AsyncConnection, schema: str) -> set[str]:
    cursor = await conn.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = %s AND table_type = 'BASE TABLE'",
        (schema,),
    )
    return {str(row[0]) for row in await cursor.fetchall()}
