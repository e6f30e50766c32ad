"""QBO query text. Values are always quoted here so that no value can change a query."""

from __future__ import annotations

from datetime import date

from qbo_backfill.entities import Entity
from qbo_backfill.windows import ExtractWindow

# New and updated records do not move in this order; ties are broken by Id in QBO.
STABLE_ORDER = "MetaData.CreateTime"
# QBO leaves some fields out of `SELECT *` unless they are named: Item's Sku.
EXTRA_FIELDS = {"Item": ", Sku"}


def quote(value: str | date) -> str:
    """A QBO string literal: single quotes, backslash-escaped."""
    text = value.isoformat() if isinstance(value, date) else value
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def where_clause(entity: Entity, window: ExtractWindow) -> str:
    """Conditions that select exactly the window's records, inactive ones included."""
    conditions = []
    if entity.has_active_flag:
        conditions.append("Active IN (true, false)")
    if not window.is_whole:
        conditions.extend(_window_conditions(entity, window))
    return " WHERE " + " AND ".join(conditions) if conditions else ""


def _window_conditions(entity: Entity, window: ExtractWindow) -> list[str]:
    if entity.date_field is not None:
        # A plain date (TxnDate): a time part would be an HTTP 400.
        field = entity.date_field
        return [f"{field} >= {quote(window.start)}", f"{field} < {quote(window.end)}"]
    start = window.start_utc.isoformat().replace("+00:00", "Z")
    end = window.end_utc.isoformat().replace("+00:00", "Z")
    return [
        f"MetaData.LastUpdatedTime >= {quote(start)}",
        f"MetaData.LastUpdatedTime < {quote(end)}",
    ]


def count_query(entity: Entity, window: ExtractWindow) -> str:
    """`SELECT COUNT(*)` over a window."""
    return f"SELECT COUNT(*) FROM {entity.name}{where_clause(entity, window)}"


def page_query(entity: Entity, window: ExtractWindow, start_position: int, page_size: int) -> str:
    """One page of a window, in a stable order (STARTPOSITION counts from 1)."""
    return (
        f"SELECT *{EXTRA_FIELDS.get(entity.name, '')} FROM {entity.name}"
        f"{where_clause(entity, window)} "
        f"ORDERBY {STABLE_ORDER} STARTPOSITION {start_position} MAXRESULTS {page_size}"
    )
