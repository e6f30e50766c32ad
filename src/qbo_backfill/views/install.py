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
from qbo_backfill.views.definition import RawTables, ViewDefinition
from qbo_backfill.views.forms import Form, Present


class ViewTexts:
    """Each view's SQL text, generated once per process for one set of inputs (the raw
    tables it reads, whether they exist, the company). Generating every view's SELECT was
    most of a sync's CPU when nothing had changed (docs/webhooks.md, bench/RESULTS.md)."""

    def __init__(self, limit: int = 8192) -> None:
        self.limit = limit
        self._texts: dict[tuple[object, ...], str] = {}

    def text(
        self,
        conn: psycopg.AsyncConnection,
        definition: ViewDefinition,
        raw: RawTables,
        realm: str | None,
    ) -> str:
        """The view's SELECT as sent to the server."""
        shown = tuple((t, None if v is None else v.as_string(conn)) for t, v in raw.items())
        # The catalog builds its definitions anew on each call: a view is known by its name,
        # its tables and its typed columns, not by the object.
        key = (definition.name, definition.tables, definition.columns, shown, realm)
        text = self._texts.get(key)
        if text is None:
            text = definition.build(raw, realm).as_string(conn)
            if len(self._texts) >= self.limit:
                self._texts.clear()
            self._texts[key] = text
        return text

    def clear(self) -> None:
        self._texts.clear()


VIEW_TEXTS = ViewTexts()


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
    raws = {d.name: _raw(d, raw_schema, existing) for d in views}
    missing = [d.name for d in views if all(v is None for v in raws[d.name].values())]
    unchanged: list[str] = []
    # Every view as it should be already (the usual case, each sync): no lock, no DDL.
    if _all_current(conn, views, raws, realm, form, await forms.present(conn, views_schema)):
        unchanged = [d.name for d in views]
    else:
        async with conn.transaction():
            await conn.execute(DDL_LOCK)
            await conn.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(views_schema))
            )
            relations = await forms.present(conn, views_schema)
            for definition in views:
                raw = raws[definition.name]
                there = relations.get(definition.name)
                if there is not None and there.mark == form.mark(
                    VIEW_TEXTS.text(conn, definition, raw, realm)
                ):
                    unchanged.append(definition.name)
                    continue
                target = (views_schema, definition.name)
                query = definition.build(raw, realm)
                await forms.make(conn, target, query, definition.keys, form, there)
    return Installed(
        views_schema,
        tuple(d.name for d in views),
        tuple(missing),
        time.perf_counter() - started,
        tuple(unchanged),
        materialized,
    )


def _raw(definition: ViewDefinition, raw_schema: str, existing: set[str]) -> RawTables:
    return {
        t: (sql.Identifier(raw_schema, t) if t in existing else None) for t in definition.tables
    }


def _all_current(
    conn: psycopg.AsyncConnection,
    views: list[ViewDefinition],
    raws: dict[str, RawTables],
    realm: str | None,
    form: Form,
    relations: dict[str, Present],
) -> bool:
    """Whether every view is there with the mark of its present definition."""
    for definition in views:
        there = relations.get(definition.name)
        text = VIEW_TEXTS.text(conn, definition, raws[definition.name], realm)
        if there is None or there.mark != form.mark(text):
            return False
    return True


async def _tables(conn: psycopg.AsyncConnection, schema: str) -> set[str]:
    # pg_class, not information_schema.tables: the same tables for a fraction of the work
    # (that view checks privileges on every relation of the database).
    cursor = await conn.execute(
        "SELECT c.relname FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'p')",
        (schema,),
    )
    return {str(row[0]) for row in await cursor.fetchall()}
