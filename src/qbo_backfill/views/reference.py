"""The reference of docs/typed-views.md, written from the declarations themselves (a test
keeps the document equal to it): every view, every column, its type and JSON path."""

from __future__ import annotations

from qbo_backfill.views.address import ADDRESS, EMBEDDED
from qbo_backfill.views.address import COLUMNS as ADDRESS_COLUMNS
from qbo_backfill.views.catalog import SPECS
from qbo_backfill.views.model import ViewSpec

BEGIN = "<!-- reference: generated from src/qbo_backfill/views; do not edit by hand -->"
END = "<!-- end of reference -->"


def markdown() -> str:
    """The reference, between its markers."""
    parts = [BEGIN, ""]
    for spec in SPECS:
        parts += _view(spec)
    parts += _address()
    parts.append(END)
    return "\n".join(parts) + "\n"


def _rows_of(spec: ViewSpec) -> str:
    source = f"`{spec.entity.table_name}`"
    if spec.where is not None:
        source += f" where `{spec.where[0]}` = `{spec.where[1]}`"
    if not spec.levels:
        return f"one row per record of {source}"
    walk = " → ".join(f"`{level.path}`" for level in spec.levels)
    return f"one row per element of {walk} in {source} (an object counts as one)"


def _view(spec: ViewSpec) -> list[str]:
    lines = [f"### `{spec.name}`", "", _rows_of(spec) + ".", ""]
    lines += ["| column | type | from |", "|---|---|---|"]
    lines.append(f"| `{spec.parent_key}` | text | the record's `Id` |")
    for level in spec.levels:
        lines.append(f"| `{level.index_name}` | integer | position in `{level.path}`, from 0 |")
    for column in spec.columns:
        path = column.path.replace("|", "\\|")  # a table cell's pipe is escaped
        lines.append(f"| `{column.name}` | {column.type.value} | `{path}` |")
    return [*lines, ""]


def _address() -> list[str]:
    sources = "; ".join(
        f"{name}: {', '.join(f'`{f}`' for f in fields)}" for name, fields in EMBEDDED.items()
    )
    lines = [
        f"### `{ADDRESS.name}`",
        "",
        "one row per (realm, address `Id`) over the addresses the records embed "
        f"({sources}); the newest copy of a live record wins.",
        "",
        "| column | type | from |",
        "|---|---|---|",
        "| `id` | text | the address's `Id` |",
    ]
    lines += [f"| `{c.name}` | {c.type.value} | `{c.path}` |" for c in ADDRESS_COLUMNS]
    return [*lines, ""]
