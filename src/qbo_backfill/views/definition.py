"""What the installer needs of a view, whoever defines it: a name, the raw tables it reads,
its typed columns, and its query given which of those tables exist.

Declared views (`ViewSpec`) are adapted by `from_spec`; a view defined elsewhere (the
address view here, a view over stored reports later) implements `ViewDefinition` itself
and is handed to the installer the same way."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from psycopg import sql

from qbo_backfill.views.generate import select
from qbo_backfill.views.model import ColumnType, ViewSpec

# A raw table's name -> its qualified identifier, or None when it does not exist yet.
RawTables = Mapping[str, sql.Composable | None]
Builder = Callable[[RawTables, str | None], sql.Composable]


@dataclass(frozen=True)
class ViewDefinition:
    """One view the installer creates: `build(raw, realm)` gives its SELECT, which must
    still work (with no row) when the tables it reads are missing."""

    name: str
    tables: tuple[str, ...]
    columns: tuple[tuple[str, ColumnType], ...]
    build: Builder
    entity_names: tuple[str, ...] = ()
    spec: ViewSpec | None = None
    # What identifies a row (unique): the materialized form's index, for CONCURRENTLY.
    keys: tuple[str, ...] = ("realm_id", "id")


def from_spec(spec: ViewSpec) -> ViewDefinition:
    table = spec.entity.table_name

    def build(raw: RawTables, realm: str | None) -> sql.Composable:
        return select(spec, raw.get(table), realm)

    return ViewDefinition(
        name=spec.name,
        tables=(table,),
        columns=tuple(spec.column_types()),
        build=build,
        entity_names=(spec.entity.name,),
        spec=spec,
        keys=("realm_id", *spec.key_names),
    )
