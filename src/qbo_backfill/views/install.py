"""Creating the typed views in a schema: every view (or those of some entities), over the
raw tables of the copy's schema, optionally for one company.

A view whose raw table does not exist yet is still created, over an empty relation of the
same columns (dbt needs every default table): no raw table is created here, so `sync`
never mistakes a table made for a view for an entity that was copied. When `backfill` or
`sync` later creates the table, they install the view again, now over it."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass

import psycopg
from psycopg import errors, sql

from qbo_backfill.load.db import DDL_LOCK
from qbo_backfill.views.catalog import definitions
from qbo_backfill.views.definition import ViewDefinition

DEFAULT_VIEWS_SCHEMA = "quickbooks"


@dataclass(frozen=True)
class Installed:
    """What an install did: the views it covers, those that read no table yet, those left
    as they were (their definition unchanged), the time taken."""

    schema: str
    views: tuple[str, ...]
    over_missing_tables: tuple[str, ...]
    seconds: float
    unchanged: tuple[str, ...] = ()


async def install_views(
    conn: psycopg.AsyncConnection,
    raw_schema: str,
    views_schema: str,
    *,
    realm: str | None = None,
    entity_names: Iterable[str] | None = None,
    extra: Iterable[ViewDefinition] = (),
) -> Installed:
    """Create or replace the views (all, or those reading `entity_names`) in
    `views_schema`, in one transaction: readers see the old views or the new, never none."""
    started = time.perf_counter()
    wanted = set(entity_names) if entity_names is not None else None
    chosen = [
        d
        for d in [*definitions(), *extra]
        if wanted is None or not d.entity_names or wanted & set(d.entity_names)
    ]
    existing = await _tables(conn, raw_schema)
    missing: list[str] = []
    unchanged: list[str] = []
    async with conn.transaction():
        await conn.execute(DDL_LOCK)
        await conn.execute(
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(views_schema))
        )
        marks = await _marks(conn, views_schema)
        for definition in chosen:
            raw = {
                t: (sql.Identifier(raw_schema, t) if t in existing else None)
                for t in definition.tables
            }
            if all(v is None for v in raw.values()):
                missing.append(definition.name)
            query = definition.build(raw, realm)
            mark = _mark(query.as_string(conn), realm)
            if marks.get(definition.name) == mark:
                unchanged.append(definition.name)
                continue
            await _create(conn, views_schema, definition.name, query)
            await conn.execute(
                sql.SQL("COMMENT ON VIEW {} IS {}").format(
                    sql.Identifier(views_schema, definition.name), sql.Literal(mark)
                )
            )
    return Installed(
        views_schema,
        tuple(d.name for d in chosen),
        tuple(missing),
        time.perf_counter() - started,
        tuple(unchanged),
    )


def _mark(query: str, realm: str | None) -> str:
    """The view's comment: what made it, and a digest of its definition. A view whose
    comment matches is left alone: no lock taken on it, so a `backfill` or `sync` that
    installs its views again does not wait for a long query over them."""
    digest = hashlib.sha256(query.encode("utf-8")).hexdigest()[:16]
    who = f"company {realm}" if realm is not None else "every company"
    return f"typed view made by qbo-backfill (docs/typed-views.md); {who}; definition {digest}"


async def installed_realm(conn: psycopg.AsyncConnection, schema: str) -> str | None:
    """The company the schema's views were made for with `--realm`; None for every
    company (or no view yet)."""
    for note in (await _marks(conn, schema)).values():
        found = re.search(r"; company (\d+);", note)
        if found:
            return found[1]
    return None


async def _marks(conn: psycopg.AsyncConnection, schema: str) -> dict[str, str]:
    cursor = await conn.execute(
        "SELECT c.relname, obj_description(c.oid, 'pg_class') FROM pg_class AS c "
        "JOIN pg_namespace AS n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind = 'v'",
        (schema,),
    )
    return {str(name): str(note) for name, note in await cursor.fetchall() if note}


async def _create(
    conn: psycopg.AsyncConnection, schema: str, name: str, query: sql.Composable
) -> None:
    """CREATE OR REPLACE; a view whose columns changed (an older version of this tool) is
    dropped and made again, unless other views depend on it (then the error says so)."""
    view = sql.Identifier(schema, name)
    try:
        async with conn.transaction():
            await conn.execute(sql.SQL("CREATE OR REPLACE VIEW {} AS ").format(view) + query)
    except (errors.InvalidTableDefinition, errors.DatatypeMismatch, errors.FeatureNotSupported):
        await conn.execute(sql.SQL("DROP VIEW {}").format(view))
        await conn.execute(sql.SQL("CREATE VIEW {} AS ").format(view) + query)


async def _tables(conn: psycopg.AsyncConnection, schema: str) -> set[str]:
    cursor = await conn.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = %s AND table_type = 'BASE TABLE'",
        (schema,),
    )
    return {str(row[0]) for row in await cursor.fetchall()}


async def view_row_counts(
    conn: psycopg.AsyncConnection, views_schema: str
) -> list[tuple[str, int]]:
    """(view, rows) of every typed view present in the schema, in catalog order."""
    cursor = await conn.execute(
        "SELECT table_name FROM information_schema.views WHERE table_schema = %s",
        (views_schema,),
    )
    present = {str(row[0]) for row in await cursor.fetchall()}
    counts: list[tuple[str, int]] = []
    for definition in definitions():
        if definition.name in present:
            row = await (
                await conn.execute(
                    sql.SQL("SELECT count(*) FROM {}").format(
                        sql.Identifier(views_schema, definition.name)
                    )
                )
            ).fetchone()
            counts.append((definition.name, int(row[0]) if row else 0))
    return counts
