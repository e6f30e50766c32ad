"""The one generator: a declared `ViewSpec` to its SELECT, every name through
`sql.Identifier` and every path key through `sql.Literal`.

Rows come from the raw table `r`. The record's payload is read once per row: its top-level
keys that the view uses become columns of `jsonb_to_record` (`p`), so a compressed payload
(most are over the 2 KB past which PostgreSQL compresses) is decompressed once, not once
per `->`, and a join carries those small values rather than the payload. A view of lines
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


class Record:
    """The record's payload as seen by one view: the top-level keys it reads, collected
    while its columns are generated, become the columns of `p`."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    def key(self, name: str) -> sql.Composable:
        if name not in self.keys:
            self.keys.append(name)
        return sql.SQL("p.{}").format(sql.Identifier(name))

    def lateral(self) -> sql.Composable:
        """`jsonb_to_record` of the payload (an empty object when it is not one)."""
        if not self.keys:
            return sql.SQL("")
        columns = sql.SQL(", ").join(
            sql.SQL("{} jsonb").format(sql.Identifier(k)) for k in self.keys
        )
        return sql.SQL(
            " CROSS JOIN LATERAL jsonb_to_record(CASE WHEN jsonb_typeof(r.payload) = 'object' "
            "THEN r.payload ELSE '{{}}'::jsonb END) AS p({})"
        ).format(columns)


Base = Record | sql.Composable


def select(spec: ViewSpec, raw_table: sql.Composable | None, realm: str | None) -> sql.Composed:
    """The view's query over `raw_table` (None: an empty relation of the same columns),
    keeping one company's rows when `realm` is given."""
    source = raw_table if raw_table is not None else EMPTY_RAW
    record = Record()
    bases: list[Base] = [record]
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
    filters = _filters(spec, realm, record)
    query = sql.SQL("SELECT {items} FROM {source} AS r{record}{joins}").format(
        items=sql.SQL(", ").join(items),
        source=source,
        record=record.lateral(),
        joins=sql.Composed(joins),
    )
    return query + filters


def _filters(spec: ViewSpec, realm: str | None, record: Record) -> sql.Composed:
    conditions: list[sql.Composable] = []
    if realm is not None:
        conditions.append(sql.SQL("r.realm_id = {}").format(sql.Literal(realm)))
    if spec.where is not None:
        path, wanted = spec.where
        conditions.append(
            sql.SQL("({} #>> '{{}}') = {}").format(walk(record, path), sql.Literal(wanted))
        )
    if not conditions:
        return sql.Composed([])
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conditions)


def walk(base: Base, path: str) -> sql.Composable:
    """`base -> 'A' -> 'B'` for the path `A.B` (NULL wherever a part is missing); from the
    record, the first key is its column of `p`."""
    keys = path.split(".")
    expr: sql.Composable
    if isinstance(base, Record):
        expr, keys = base.key(keys[0]), keys[1:]
    else:
        expr = base
    for key in keys:
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
