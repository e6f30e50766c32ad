"""The one generator: a declared `ViewSpec` to its SELECT, every name through
`sql.Identifier` and every path key through `sql.Literal`.

Rows come from the raw table `r` (`RAW_ROWS`: each payload decompressed once). A view of lines
adds one `jsonb_array_elements ... WITH ORDINALITY` per level (`e1`, `e2`), over the array
made tolerant first: an object counts as an array of one, anything else (absent, null, a
string) as no element."""

from __future__ import annotations

import re

from psycopg import sql

from qbo_backfill.views.casts import cast
from qbo_backfill.views.model import ColumnType, ViewSpec

# What a view reads when its raw table does not exist yet: the raw table's columns, no row.
EMPTY_RAW = sql.SQL(
    "(SELECT NULL::text AS realm_id, NULL::bigint AS id, NULL::jsonb AS payload, "
    "NULL::timestamptz AS ingested_at_utc, NULL::timestamptz AS deleted_at_utc WHERE false)"
)
_LINKED = re.compile(r"^(?P<array>[^\[]+)\[(?P<types>[\w,]+)\]\.(?P<rest>.+)$")
_WHEN = re.compile(r"^(?P<path>[^|]+)\|(?P<key>[\w.]+)=(?P<values>[\w,]+)$")


# The raw rows a view reads, the payload decompressed once per row (a payload over about
# 2 KB is stored compressed, and each `->` on it would decompress it again; concatenating
# the empty object hands every column the decompressed copy). OFFSET 0 keeps this a
# subquery of its own, so the copy is made once, below any join; a query that reads no
# column of the payload does not pay for it (PostgreSQL drops unused subquery outputs).
RAW_ROWS = sql.SQL(
    "(SELECT r.realm_id, r.id, r.ingested_at_utc, r.deleted_at_utc, "
    "{payload} AS payload FROM {source} AS r{where} OFFSET 0)"
)
DECOMPRESSED = sql.SQL("r.payload || '{}'::jsonb")
RECORD = sql.SQL("r.payload")
Base = sql.Composable


def select(spec: ViewSpec, raw_table: sql.Composable | None, realm: str | None) -> sql.Composed:
    """The view's query over `raw_table` (None: an empty relation of the same columns),
    keeping one company's rows when `realm` is given."""
    source = raw_table if raw_table is not None else EMPTY_RAW
    bases: list[Base] = [RECORD]
    items: list[sql.Composable] = [
        sql.SQL("r.id::text AS {}").format(sql.Identifier(spec.parent_key))
    ]
    joins: list[sql.Composable] = []
    for depth, level in enumerate(spec.levels, start=1):
        alias = sql.Identifier(f"e{depth}")
        joins.append(
            sql.SQL(
                " CROSS JOIN LATERAL jsonb_array_elements({arr}) WITH ORDINALITY AS {a}(value, ord)"
            ).format(arr=as_array(walk(bases[-1], level.path)), a=alias)
        )
        bases.append(sql.SQL("{}.value").format(alias))
        items.append(
            sql.SQL("({}.ord - 1)::integer AS {}").format(alias, sql.Identifier(level.index_name))
        )
    for column in spec.columns:
        value = cast(value_of(column.path, bases), column.type)
        items.append(
            sql.SQL("({v})::{t} AS {n}").format(
                v=value, t=sql.SQL(column.type.value), n=sql.Identifier(column.name)
            )
        )
    items += [
        sql.SQL("r.realm_id"),
        sql.SQL("r.ingested_at_utc AS _fivetran_synced"),
        sql.SQL("(r.deleted_at_utc IS NOT NULL) AS _fivetran_deleted"),
    ]
    realm_filter = sql.Composed([])
    if realm is not None:
        realm_filter = sql.SQL(" WHERE r.realm_id = {}").format(sql.Literal(realm))
    # A view of lines reads one key of the record (its array): no copy is worth making.
    payload = DECOMPRESSED if _reads_record(spec) else RECORD
    rows = RAW_ROWS.format(payload=payload, source=source, where=realm_filter)
    where = sql.Composed([])
    if spec.where is not None:
        path, wanted = spec.where
        where = sql.SQL(" WHERE ({} #>> '{{}}') = {}").format(
            walk(RECORD, path), sql.Literal(wanted)
        )
    # OFFSET 0 again: the view stays a subquery in the queries over it, so the columns a
    # query reads are computed below its joins (and the others not at all), and a join
    # carries those values rather than the payload.
    return sql.SQL("SELECT {items} FROM {rows} AS r{joins}{where} OFFSET 0").format(
        items=sql.SQL(", ").join(items), rows=rows, joins=sql.Composed(joins), where=where
    )


def _reads_record(spec: ViewSpec) -> bool:
    """Whether the view's columns read the record (a view of records, or `@` columns)."""
    return not spec.levels or any(c.path.startswith("@") for c in spec.columns)


def walk(base: Base, path: str) -> sql.Composable:
    """`base -> 'A' -> 'B'` for the path `A.B` (NULL wherever a part is missing)."""
    expr: sql.Composable = base
    for key in path.split("."):
        expr = sql.SQL("{} -> {}").format(expr, sql.Literal(key))
    return sql.SQL("({})").format(expr)


def as_array(value: sql.Composable) -> sql.Composable:
    """An array as is, an object as an array of one, anything else as an empty array."""
    return sql.SQL(
        "CASE jsonb_typeof({v}) WHEN 'array' THEN {v} WHEN 'object' THEN jsonb_build_array({v}) "
        "ELSE '[]'::jsonb END"
    ).format(v=value)


def value_of(path: str, bases: list[Base]) -> sql.Composable:
    """The JSON at a column's path (the forms `Column` documents), for a row whose JSON is
    `bases[-1]` (the record first, then each level's element)."""
    base = bases[-1]
    if path.startswith("@"):
        base, path = bases[0], path[1:]
    elif path.startswith("^"):
        base, path = bases[max(len(bases) - 2, 0)], path[1:]
    linked = _LINKED.match(path)
    if linked:
        return sql.SQL(
            "(SELECT {value} FROM jsonb_array_elements({arr}) AS x(value) "
            "WHERE x.value ->> 'TxnType' IN ({kinds}) LIMIT 1)"
        ).format(
            value=walk(sql.SQL("x.value"), linked["rest"]),
            arr=as_array(walk(base, linked["array"])),
            kinds=_literals(linked["types"]),
        )
    when = _WHEN.match(path)
    if when:
        return sql.SQL("(CASE WHEN ({k} #>> '{{}}') IN ({v}) THEN {value} END)").format(
            k=walk(base, when["key"]), v=_literals(when["values"]), value=walk(base, when["path"])
        )
    return walk(base, path)


def _literals(names: str) -> sql.Composable:
    return sql.SQL(", ").join(sql.Literal(name) for name in names.split(","))


def empty_select(names_and_types: list[tuple[str, ColumnType]]) -> sql.Composed:
    """A relation of these typed columns and no row (a view whose sources are all absent)."""
    items = [
        sql.SQL("NULL::{} AS {}").format(sql.SQL(t.value), sql.Identifier(n))
        for n, t in names_and_types
    ]
    return sql.SQL("SELECT {} WHERE false").format(sql.SQL(", ").join(items))
