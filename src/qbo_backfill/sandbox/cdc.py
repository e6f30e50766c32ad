"""Change data capture as QBO answers it: which changes, in what order, how many, what shape.

QBO's rules (developer.intuit.com, "Change data capture"): look back at most 30 days; at
most 1,000 objects per answer, with no paging; not for JournalCode, TaxAgency,
TimeActivity, TaxCode, TaxRate; objects grouped by entity in the order asked, by last
update within a group, and deleted objects after the active ones, carrying only `Id`,
`status`, `domain` and `MetaData.LastUpdatedTime`.
"""

from __future__ import annotations

from typing import Any

from qbo_backfill.sandbox import clock
from qbo_backfill.sandbox.catalog import CATALOG, CDC_EXCLUDED
from qbo_backfill.sandbox.company import Company
from qbo_backfill.sandbox.responses import now_stamp, validation_fault

__all__ = ["CDC_LOOKBACK_SECONDS", "CDC_MAX_OBJECTS", "cdc_answer", "cdc_entity_error"]

CDC_LOOKBACK_SECONDS = 30 * 86400
CDC_MAX_OBJECTS = 1000

Change = tuple[float, int, str, dict[str, Any]]  # (when, rank of entity, entity, object)


def cdc_entity_error(entity: str) -> str | None:
    """Why CDC refuses an entity name, or None when it is served."""
    if entity not in CATALOG:
        return f"Metadata not found for Entity: {entity}"
    if entity in CDC_EXCLUDED:
        return f"Operation cdc is not supported for entity {entity}"
    return None


def cdc_answer(company: Company, entities: str, changed_since: str, now: float) -> dict[str, Any]:
    """The body of `GET /cdc?entities=..&changedSince=..`; ApiFault for what QBO refuses."""
    names = [name.strip() for name in entities.split(",") if name.strip()]
    if not names:
        raise validation_fault("entities is required")
    for name in names:
        why = cdc_entity_error(name)
        if why:
            raise validation_fault(why, code="4001")
    try:
        since = clock.parse_timestamp(changed_since)
    except ValueError:
        raise validation_fault(f"changedSince is not a timestamp: {changed_since!r}") from None
    if since < now - CDC_LOOKBACK_SECONDS:
        detail = (
            f"Operation cdc with changedSince date {changed_since} which is older than "
            "fixed days is not supported."
        )
        raise validation_fault(detail, message="Invalid changedSince")
    groups = _grouped(_oldest_changes(company, names, since), names)
    responses = [
        {name: objects, "startPosition": 1, "maxResults": len(objects), "totalCount": len(objects)}
        if objects
        else {}
        for name, objects in groups.items()
    ]
    return {"CDCResponse": [{"QueryResponse": responses}], "time": now_stamp()}


def _oldest_changes(company: Company, names: list[str], since: float) -> list[Change]:
    """The CDC_MAX_OBJECTS oldest changes of the entities: so an answer cut at the cap
    still lets a client move changedSince up to the newest change it got."""
    changes: list[Change] = []
    for rank, entity in enumerate(names):
        for when, record in company.store(entity).changed_since(since):
            changes.append((when, rank, entity, record))
    changes.sort(key=lambda c: (c[0], c[1], int(c[3]["Id"])))
    return changes[:CDC_MAX_OBJECTS]


def _grouped(changes: list[Change], names: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Per entity, in the order asked: active objects by last update, then the deleted."""
    groups: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for _, _, entity, record in changes:
        if record.get("status") != "Deleted":
            groups[entity].append(record)
    for _, _, entity, record in changes:
        if record.get("status") == "Deleted":
            groups[entity].append(record)
    return groups
