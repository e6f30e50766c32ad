"""Reading changes by `MetaData.LastUpdatedTime`: the path for entities CDC does not serve,
and for gaps longer than CDC looks back; and pages read with the server's clock.

Pages are keyset pages: `LastUpdatedTime >= t ORDERBY LastUpdatedTime`, the next page
starting at the newest time the last one held (re-reading that instant; the reader drops
what it saw twice). Records changed while paging only move later, so none is skipped, as
offset paging would. An instant holding a whole page is read by offset, ordered by Id.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from qbo_backfill.entities import Entity
from qbo_backfill.errors import TransientApiError
from qbo_backfill.load.records import parse_timestamp
from qbo_backfill.qbo.client import ClientStats, QboClient
from qbo_backfill.qbo.query import EXTRA_FIELDS, count_query, quote
from qbo_backfill.windows import ExtractWindow

__all__ = [
    "ONE_INSTANT",
    "changed_since_query",
    "instant_query",
    "read_page",
    "source_time",
    "total_count_query",
    "utc_stamp",
]

# QBO's timestamps are whole seconds: an instant is one second.
ONE_INSTANT = timedelta(seconds=1)
_FIELD = "MetaData.LastUpdatedTime"


def changed_since_query(entity: Entity, since: datetime, page_size: int = 1000) -> str:
    """The first `page_size` records changed at or after `since`, oldest change first."""
    return (
        f"SELECT *{EXTRA_FIELDS.get(entity.name, '')} FROM {entity.name}"
        f" WHERE {_active(entity)}{_FIELD} >= {quote(utc_stamp(since))}"
        f" ORDERBY {_FIELD} MAXRESULTS {page_size}"
    )


def instant_query(entity: Entity, instant: datetime, start_position: int, page_size: int) -> str:
    """One page of the records changed within one second, by Id."""
    return (
        f"SELECT *{EXTRA_FIELDS.get(entity.name, '')} FROM {entity.name}"
        f" WHERE {_active(entity)}{_FIELD} >= {quote(utc_stamp(instant))}"
        f" AND {_FIELD} < {quote(utc_stamp(instant + ONE_INSTANT))}"
        f" ORDERBY Id STARTPOSITION {start_position} MAXRESULTS {page_size}"
    )


def total_count_query(entity: Entity) -> str:
    """`COUNT(*)` of every record the entity holds, inactive ones included."""
    return count_query(entity, ExtractWindow.whole())


def _active(entity: Entity) -> str:
    return "Active IN (true, false) AND " if entity.has_active_flag else ""


def utc_stamp(moment: datetime) -> str:
    """A QBO timestamp literal in UTC, to the second (rounded down)."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


async def read_page(
    client: QboClient, text: str, entity: Entity, stats: ClientStats | None = None
) -> tuple[list[Any], datetime]:
    """The records of one page and the server's time of the answer."""
    body = await client.get("query", {"query": text}, "QueryResponse", stats)
    records = (body.get("QueryResponse") or {}).get(entity.name) or []
    if not isinstance(records, list):
        raise TransientApiError(f"the answer's {entity.name} is not a list")
    return records, source_time(body.get("time"))


def source_time(text: Any) -> datetime:
    """The `time` of an answer (the server's clock) as aware UTC."""
    parsed = parse_timestamp(text)
    if parsed is None:
        # Without the server's clock a cursor cannot be placed: ask again.
        raise TransientApiError(f"the answer's time is missing or unreadable: {text!r}")
    return parsed
