"""What a typed view is, as data: its name, the raw table it reads, the rows it makes (the
record, or the elements of an array in it) and its columns (name, JSON path, type).

Views are declared, never written: `columns()` reads a small table of text, one column a
line, so a declaration reads like the documentation it becomes (`docs/typed-views.md`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from qbo_backfill.entities import CATALOG, Entity


class ColumnType(Enum):
    """The PostgreSQL type of a column; money and quantities are `numeric`, never float."""

    TEXT = "text"
    NUMERIC = "numeric"
    DATE = "date"
    TIMESTAMPTZ = "timestamptz"
    BOOLEAN = "boolean"
    INTEGER = "integer"
    BIGINT = "bigint"
    TEXT_ARRAY = "text[]"


@dataclass(frozen=True)
class Column:
    """One column and where its value is in the payload.

    `path` is dot-separated keys, read from the view's row (the record, or the array
    element the row stands for), with three forms more:
    - `@A.B`: from the record, in a view whose rows are elements of an array;
    - `^A.B`: from the enclosing line, in a view whose rows are elements of a line's array;
    - `A[Invoice].TxnId`: in the array `A`, the first element whose `TxnType` is `Invoice`
      (`A[X,Y]`: X or Y);
    - `TxnId|TxnType=Bill`: `TxnId` when the row's `TxnType` is `Bill`, else NULL (the
      condition's key may be a path, its value a list: `EntityRef.type=Vendor,Other`)."""

    name: str
    path: str
    type: ColumnType


@dataclass(frozen=True)
class Level:
    """One array the rows of a view are elements of: its path from the row above, and the
    name of the key column its position (0-based) becomes."""

    path: str
    index_name: str


@dataclass(frozen=True)
class ViewSpec:
    """One typed view: every row of `entity`'s raw table, or the elements of the arrays
    `levels` walks down to; `parent_key` names the record's id column (`id` for a view of
    records, `invoice_id` for its lines); `where` keeps rows whose path equals a value."""

    name: str
    entity: Entity
    columns: tuple[Column, ...]
    levels: tuple[Level, ...] = ()
    parent_key: str = "id"
    where: tuple[str, str] | None = None
    doc: str = ""
    key_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        keys = (self.parent_key, *(level.index_name for level in self.levels))
        object.__setattr__(self, "key_names", keys)
        names = [*keys, *(c.name for c in self.columns)]
        if len(set(names)) != len(names):
            raise ValueError(f"view {self.name} declares a column twice: {names}")

    def column_types(self) -> list[tuple[str, ColumnType]]:
        """Every column of the view in order, keys and bookkeeping columns included."""
        keys = [(self.parent_key, ColumnType.TEXT)]
        keys += [(level.index_name, ColumnType.INTEGER) for level in self.levels]
        return [*keys, *((c.name, c.type) for c in self.columns), *BOOKKEEPING]


# Every view ends with these (the raw row's company, when it was copied, whether deleted).
BOOKKEEPING: tuple[tuple[str, ColumnType], ...] = (
    ("realm_id", ColumnType.TEXT),
    ("_fivetran_synced", ColumnType.TIMESTAMPTZ),
    ("_fivetran_deleted", ColumnType.BOOLEAN),
)


def columns(*tables: str) -> tuple[Column, ...]:
    """Columns from tables of text: `name  path  type` a line; blank lines are skipped."""
    found: list[Column] = []
    for table in tables:
        for line in table.strip().splitlines():
            if not line.strip():
                continue
            name, path, kind = line.split()
            found.append(Column(name, path, ColumnType(kind)))
    return tuple(found)


def entity(name: str) -> Entity:
    """The catalog's entity (a declaration naming an unknown one fails at import)."""
    return CATALOG[name]


def header(name: str, entity_name: str, *tables: str, doc: str = "") -> ViewSpec:
    """A view with one row per record of the entity."""
    return ViewSpec(name, entity(entity_name), columns(COMMON, *tables), doc=doc)


def lines(
    name: str, entity_name: str, parent_key: str, *tables: str, path: str = "Line", doc: str = ""
) -> ViewSpec:
    """A view with one row per element of the record's `path` array (its lines)."""
    return ViewSpec(
        name,
        entity(entity_name),
        columns(*tables),
        levels=(Level(path, "index"),),
        parent_key=parent_key,
        doc=doc,
    )


# Every record has these (QBO's bookkeeping of the record itself).
COMMON = """
sync_token   SyncToken               text
created_at   MetaData.CreateTime     timestamptz
updated_at   MetaData.LastUpdatedTime timestamptz
"""
