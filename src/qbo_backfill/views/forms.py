"""The two forms a typed view takes in the database, and how each is made and kept:

- a plain view (the default): always current, nothing stored;
- a materialized view (opt-in, `views --materialized`): the same query stored as a table
  with a unique index on its key, so `REFRESH MATERIALIZED VIEW CONCURRENTLY` brings it up
  to date without blocking readers; `backfill` and `sync` refresh it.

Each relation's comment says what made it (`mark`): its company, its form and a digest of
its definition; one whose comment matches what would be made is left alone (no lock)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import psycopg
from psycopg import errors, sql

from qbo_backfill.errors import ConfigError

_KINDS = {"v": "VIEW", "m": "MATERIALIZED VIEW"}


@dataclass(frozen=True)
class Form:
    """How a schema's views were made: for which company, materialized or not."""

    realm: str | None = None
    materialized: bool = False

    def mark(self, query: str) -> str:
        digest = hashlib.sha256(query.encode("utf-8")).hexdigest()[:16]
        who = f"company {self.realm}" if self.realm is not None else "every company"
        kind = "materialized; " if self.materialized else ""
        return f"typed view made by qbo-backfill (docs/typed-views.md); {who}; {kind}{digest}"


@dataclass(frozen=True)
class Present:
    """A relation of the views schema: its kind (`v` or `m`) and comment."""

    kind: str
    mark: str


async def present(conn: psycopg.AsyncConnection, schema: str) -> dict[str, Present]:
    """The views and materialized views of the schema, by name."""
    cursor = await conn.execute(
        "SELECT c.relname, c.relkind::text, coalesce(obj_description(c.oid, 'pg_class'), '') "
        "FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('v', 'm')",
        (schema,),
    )
    return {str(n): Present(str(k), str(m)) for n, k, m in await cursor.fetchall()}


def form_of(relations: dict[str, Present]) -> Form:
    """The form the schema's views were made in (the default form when there are none)."""
    for relation in relations.values():
        if relation.mark.startswith("typed view made by qbo-backfill"):
            found = re.search(r"; company (\d+);", relation.mark)
            return Form(found[1] if found else None, "; materialized; " in relation.mark)
    return Form()


async def make(
    conn: psycopg.AsyncConnection,
    where: tuple[str, str],
    query: sql.Composable,
    keys: tuple[str, ...],
    form: Form,
    existing: Present | None,
) -> None:
    """Create the view (schema, name) in `form`, replacing what is there under its name."""
    name = where[1]
    target = sql.Identifier(*where)
    wanted = "m" if form.materialized else "v"
    if existing is not None and (existing.kind != wanted or form.materialized):
        await _drop(conn, target, existing.kind)
    if form.materialized:
        await conn.execute(sql.SQL("CREATE MATERIALIZED VIEW {} AS ").format(target) + query)
        index = sql.Identifier(f"{name}_key"[:63])
        await conn.execute(
            sql.SQL("CREATE UNIQUE INDEX {} ON {} ({})").format(
                index, target, sql.SQL(", ").join(sql.Identifier(k) for k in keys)
            )
        )
    else:
        await _replace_view(conn, target, query)
    kind = sql.SQL(_KINDS[wanted])
    await conn.execute(
        sql.SQL("COMMENT ON {} {} IS {}").format(
            kind, target, sql.Literal(form.mark(query.as_string(conn)))
        )
    )


async def _replace_view(
    conn: psycopg.AsyncConnection, target: sql.Identifier, query: sql.Composable
) -> None:
    """CREATE OR REPLACE; a view whose columns changed (an older version of this tool) is
    dropped and made again."""
    try:
        async with conn.transaction():
            await conn.execute(sql.SQL("CREATE OR REPLACE VIEW {} AS ").format(target) + query)
    except errors.WrongObjectType:
        raise ConfigError(
            f"{target.as_string(conn)} exists and is not a view: "
            "choose another schema for the views (--schema, QBO_VIEWS_SCHEMA)"
        ) from None
    except (errors.InvalidTableDefinition, errors.DatatypeMismatch, errors.FeatureNotSupported):
        await _drop(conn, target, "v")
        await conn.execute(sql.SQL("CREATE VIEW {} AS ").format(target) + query)


async def _drop(conn: psycopg.AsyncConnection, target: sql.Identifier, kind: str) -> None:
    try:
        async with conn.transaction():
            await conn.execute(sql.SQL("DROP {} {}").format(sql.SQL(_KINDS[kind]), target))
    except errors.DependentObjectsStillExist as exc:
        detail = (exc.diag.message_detail or "").splitlines()
        raise ConfigError(
            f"cannot replace {target.as_string(conn)}: other objects depend on it "
            f"({'; '.join(detail[:3])}); drop them first (dbt makes its own again)"
        ) from None


async def refresh(
    conn: psycopg.AsyncConnection, schema: str, names: list[str], relations: dict[str, Present]
) -> list[str]:
    """Refresh the materialized ones among `names`, concurrently (readers keep reading the
    old rows meanwhile); the names refreshed."""
    done = []
    for name in names:
        if name in relations and relations[name].kind == "m":
            await conn.execute(
                sql.SQL("REFRESH MATERIALIZED VIEW CONCURRENTLY {}").format(
                    sql.Identifier(schema, name)
                )
            )
            done.append(name)
    return done
