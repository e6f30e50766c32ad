"""The one generator: a declared `ViewSpec` to its SELECT, every name through
`sql.Identifier` and every path key through `sql.Literal`.

Rows come from the raw table `r`; a view of lines adds one `jsonb_array_elements ... WITH
ORDINALITY` per level (`e1`, `e2`), over the array made tolerant first: an object counts
as an array of one, anything else (absent, null, a string) as no element."""

from __future__ import annotations

import re

from psycopg import sql

from qbo_backfill.views.casts import cast
from qbo_backfill.views.model import ColumnType, ViewSpec

RAW = sql.Identifier("r")
# What a view reads when its raw table does not exist yet: the raw table's columns, no row.
EMPTY_RAW = sql.SQL(
    "(SELECT NULL::text AS realm_id, NULL::bigint AS id, NULL::jsonb AS payload, "
    "NULL::timestamptz AS ingested_at_utc, NULL::timestamptz AS deleted_at_utc WHERE false)"
)
_LINKED = re.compile(r"^(?P<array>[^\[]+)\[(?P<types>[\w,]+)\]\.(?P<rest>.+)$")
_WHEN = re.compile(r"^(?P<path>[^|]+)\|(?P<key>[\w.]+)=(?P<values>[\w,]+)$")


def select(spec: ViewSpec, raw_table: sql.Composable | None, realm: str | None) -> sql.Composed:
    """The view's query over `raw_table` (None: an empty relation of the same columns),
    keeping one company's rows when `realm` is given."""
    source = raw_table if raw_table is not None else EMPTY_RAW
    items: list[sql.Composable] = [
        sql.SQL("r.id::text AS {}").format(sql.Identifier(spec.parent_key))
    ]
    joins: list[sql.Composable] = []
    record = "d" if _reads_record(spec) else "r"
    for depth, level in enumerate(spec.levels, start=1):
        alias = sql.Identifier(f"e{depth}")
        parent = _element(depth - 1, record=record)
        joins.append(
            sql.SQL(
                " CROSS JOIN LATERAL jsonb_array_elements({arr}) WITH ORDINALITY AS {a}(value, ord)"
            ).format(arr=as_array(walk(parent, level.path)), a=alias)
        )
        items.append(
            sql.SQL("(e{d}.ord - 1)::integer AS {n}").format(
                d=sql.SQL(str(depth)), n=sql.Identifier(level.index_name)
            )
        )
    depth = len(spec.levels)
    for column in spec.columns:
        value = cast(value_of(column.path, depth, record=record), column.type)
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
    query = sql.SQL("SELECT {items} FROM {source} AS r{once}{joins}").format(
        items=sql.SQL(", ").join(items),
        source=source,
        once=DETOAST_ONCE if _reads_record(spec) else sql.SQL(""),
        joins=sql.Composed(joins),
    )
    return query + _filters(spec, realm)


def _filters(spec: ViewSpec, realm: str | None) -> sql.Composed:
    conditions: list[sql.Composable] = []
    if realm is not None:
        conditions.append(sql.SQL("r.realm_id = {}").format(sql.Literal(realm)))
    if spec.where is not None:
        path, wanted = spec.where
        conditions.append(
            sql.SQL("({} #>> '{{}}') = {}").format(
                walk(sql.SQL("r.payload"), path), sql.Literal(wanted)
            )
        )
    if not conditions:
        return sql.Composed([])
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conditions)


def _reads_record(spec: ViewSpec) -> bool:
    """Whether the view reads the record's payload for its columns (a view of records, or
    a column with `@`): then the payload is detoasted once per row, not once per column."""
    return not spec.levels or any(c.path.startswith("@") for c in spec.columns)


# A payload over about 2 KB is stored compressed (TOAST), and every `->` on it would
# decompress it again: a view reading 30 columns decompressed it 30 times and more (a cast
# reads its value several times). Concatenating the empty object gives the payload
# decompressed, once per row; the subquery (OFFSET 0 keeps it one) hands it to every column.
DETOAST_ONCE = sql.SQL(
    " CROSS JOIN LATERAL (SELECT r.payload || '{}'::jsonb AS payload OFFSET 0) AS d"
)


def _element(depth: int, *, record: str = "d") -> sql.Composable:
    """The JSON a row stands for at `depth` (0: the record's payload)."""
    if depth == 0:
        return sql.SQL(f"{record}.payload")
    return sql.SQL(f"e{depth}.value")


def walk(base: sql.Composable, path: str) -> sql.Composable:
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


def value_of(path: str, depth: int, *, record: str = "d") -> sql.Composable:
    """The JSON at a column's path (the forms `Column` documents), seen from a row at
    `depth`; `record` names the relation holding the record's payload."""
    base = _element(depth, record=record)
    if path.startswith("@"):
        base, path = _element(0, record=record), path[1:]
    elif path.startswith("^"):
        base, path = _element(max(depth - 1, 0), record=record), path[1:]
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
