"""What a sync makes sure of before it reads anything: the ledger's tables, each raw table's
current columns, the typed views; and where each entity's sync starts.

A long-lived process passes what it has `prepared` (`run/prepared.py`): the schema's shape
is then checked once a minute, not at every company's sync."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import psycopg
from psycopg import sql

from qbo_backfill.entities import Entity, resolve_entity
from qbo_backfill.errors import ConfigError
from qbo_backfill.load.cursors import CURSORS, SyncCursors
from qbo_backfill.load.ledger import CHUNKS, RUNS, Ledger
from qbo_backfill.load.rawtable import RawTable
from qbo_backfill.load.syncruns import SYNC_RUNS, SyncRuns
from qbo_backfill.run.prepared import Prepared
from qbo_backfill.run.session import Session
from qbo_backfill.views.keep import keep_views

__all__ = ["plain_views_known", "starting_points"]

_SYNC_TABLES = (RUNS, CHUNKS, CURSORS, SYNC_RUNS)


async def starting_points(
    session: Session,
    conn: psycopg.AsyncConnection,
    entities: Sequence[Entity],
    prepared: Prepared,
) -> dict[str, datetime]:
    """Entity name -> where its sync starts: `entities`, or every entity copied for the
    realm; a named entity never copied, or nothing copied at all, is a ConfigError."""
    realm = session.realm_id
    await _ledger_tables(session, conn, prepared)
    known = await SyncCursors(session.schema).starting_points(conn, realm)
    names = [e.name for e in entities] or sorted(known)
    never = [name for name in names if name not in known]
    if never:
        raise ConfigError(
            f"{', '.join(never)} never copied for realm {realm}: "
            f"run `qbo-backfill backfill {' '.join(never)}` first"
        )
    if not names:
        raise ConfigError(f"nothing copied for realm {realm} yet: run `qbo-backfill backfill`")
    await _raw_tables(session, conn, names, prepared)
    await _views(session, conn, prepared)
    return {name: known[name] for name in names}


def plain_views_known(session: Session, prepared: Prepared) -> bool:
    """Whether the views were found plain lately (so there is nothing to refresh)."""
    return prepared.holds("plain views", session.schema, session.settings.views_schema)


async def _ledger_tables(
    session: Session, conn: psycopg.AsyncConnection, prepared: Prepared
) -> None:
    """Their DDL only creates what is missing: once all four are there (every sync but a
    schema's first), one catalog read replaces it and the DDL lock all syncs share."""
    schema = session.schema
    if prepared.holds("sync tables", schema):
        return
    if not await _tables_exist(conn, schema, _SYNC_TABLES):
        await Ledger(schema).create(conn)
        await SyncCursors(schema).create(conn)
        await SyncRuns(schema).create(conn)
    await conn.commit()  # DDL's locks go before any raw table is touched
    prepared.note("sync tables", schema)


async def _raw_tables(
    session: Session, conn: psycopg.AsyncConnection, names: list[str], prepared: Prepared
) -> None:
    """Older raw tables gain their newer columns (`deleted_at_utc`)."""
    schema = session.schema
    for name in names:
        if not prepared.holds("raw table", schema, name):
            await RawTable(schema, resolve_entity(name)).create(conn)
            await conn.commit()
            prepared.note("raw table", schema, name)


async def _views(session: Session, conn: psycopg.AsyncConnection, prepared: Prepared) -> None:
    """Every typed view current over the raw tables; plain ones need no refresh later."""
    if plain_views_known(session, prepared):
        return
    schema, views = session.schema, session.settings.views_schema
    installed = await keep_views(session.url, schema, views, conn)
    if installed is not None and not installed.materialized:
        prepared.note("plain views", schema, views)


async def _tables_exist(conn: psycopg.AsyncConnection, schema: str, tables: Sequence[str]) -> bool:
    """Whether every one of `tables` exists in `schema` (one catalog read)."""
    names = [sql.Identifier(schema, table).as_string(conn) for table in tables]
    cursor = await conn.execute(
        "SELECT count(*) FROM unnest(%s::text[]) AS n WHERE to_regclass(n) IS NULL", (names,)
    )
    row = await cursor.fetchone()
    return row is not None and row[0] == 0
