"""Change data capture: one `/cdc` call and its answer, read into typed changes.

QBO's rules (QBO_API.md, "Changes, deletes and voids"): `changedSince` at most 30 days back;
at most 1,000 objects per answer, with no paging (an answer that holds 1,000 is cut short);
deleted objects carry only `Id`, `status: "Deleted"` and `MetaData.LastUpdatedTime`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from qbo_backfill.errors import ApiError, QueryRejected
from qbo_backfill.load.records import parse_timestamp
from qbo_backfill.qbo.client import ClientStats, QboClient
from qbo_backfill.qbo.lastupdated import source_time, utc_stamp

__all__ = [
    "CDC_LOOKBACK",
    "CDC_MAX_OBJECTS",
    "CdcAnswer",
    "fetch_changes",
    "is_deleted",
    "is_lookback_refusal",
    "last_updated",
]

CDC_LOOKBACK = timedelta(days=30)
CDC_MAX_OBJECTS = 1000


@dataclass(frozen=True)
class CdcAnswer:
    """One CDC answer: the objects per entity (active and deleted) and the server's time."""

    time: datetime
    changes: dict[str, list[dict[str, Any]]]
    request: str

    @property
    def total(self) -> int:
        return sum(len(objects) for objects in self.changes.values())

    @property
    def truncated(self) -> bool:
        """QBO stops at 1,000 objects: an answer that holds that many may lack some."""
        return self.total >= CDC_MAX_OBJECTS

    def newest(self, entity: str) -> datetime | None:
        """The newest `LastUpdatedTime` among the entity's objects, deletes included."""
        stamps = [t for t in map(last_updated, self.changes.get(entity, [])) if t is not None]
        return max(stamps, default=None)


async def fetch_changes(
    client: QboClient, entities: Sequence[str], since: datetime, stats: ClientStats | None = None
) -> CdcAnswer:
    """Everything the entities changed since `since` (to the second, rounded down)."""
    params = {"entities": ",".join(entities), "changedSince": utc_stamp(since)}
    body = await client.get("cdc", params, "CDCResponse", stats)
    return CdcAnswer(source_time(body.get("time")), _objects(body, entities), urlencode(params))


def is_deleted(record: Any) -> bool:
    """A CDC tombstone (`status: "Deleted"`)."""
    return isinstance(record, dict) and record.get("status") == "Deleted"


def last_updated(record: Any) -> datetime | None:
    """`MetaData.LastUpdatedTime` as aware UTC, or None."""
    meta = record.get("MetaData") if isinstance(record, dict) else None
    return parse_timestamp(meta.get("LastUpdatedTime")) if isinstance(meta, dict) else None


def is_lookback_refusal(error: ApiError) -> bool:
    """QBO refused `changedSince` as older than CDC looks back."""
    return isinstance(error, QueryRejected) and "changedSince" in str(error)


def _objects(body: dict[str, Any], entities: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {name: [] for name in entities}
    for response in body.get("CDCResponse") or []:
        groups = response.get("QueryResponse") if isinstance(response, dict) else None
        for group in groups if isinstance(groups, list) else []:
            for name, objects in group.items() if isinstance(group, dict) else []:
                if name in found and isinstance(objects, list):
                    found[name].extend(objects)
    return found
