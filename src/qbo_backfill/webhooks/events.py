"""Intuit's two notification formats, read into one kind of event.

- Legacy: `{"eventNotifications": [{"realmId", "dataChangeEvent": {"entities": [{"name",
  "id", "operation", "lastUpdated", "deletedId"?}]}}]}`; an event has no id of its own, so
  its key is its natural key (realm, entity, id, operation, time).
- CloudEvents: a JSON array of `{"specversion": "1.0", "id", "type":
  "qbo.<entity>.<verb>.v1", "time", "intuitentityid", "intuitaccountid", "data"}`; the key
  is the event's `id`, which a retry resends unchanged.

Nothing here raises on a body it cannot use: every element becomes an event, those that
cannot be used carry the reason (`problem`), so the receiver records them and answers 200
(an error answer would make Intuit hold back the company's later events).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from qbo_backfill.entities import CATALOG

__all__ = ["WebhookEvent", "read_notifications"]

_ENTITY_BY_LOWER = {name.lower(): name for name in CATALOG}
_OPERATIONS = ("Create", "Update", "Delete", "Merge", "Void", "Emailed")
_VERBS = {
    "created": "Create",
    "updated": "Update",
    "deleted": "Delete",
    "merged": "Merge",
    "voided": "Void",
    "emailed": "Emailed",
}
_MAX_TEXT = 200  # longer values are cut: a hostile body must not grow the table


@dataclass(frozen=True)
class WebhookEvent:
    """One change notice, as recorded; `problem` says why it cannot lead to a sync."""

    key: str
    realm_id: str | None
    entity: str | None
    entity_id: str | None
    operation: str | None
    event_time: datetime | None
    source_format: str
    problem: str | None = None


def read_notifications(body: bytes) -> list[WebhookEvent]:
    """Every event of a POST body, in either format; at least one (the body's own
    problem) when nothing in it can be read."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return [_body_problem(body, "body is not JSON")]
    if isinstance(value, list):
        events = [_cloud_event(item) for item in value]
    elif isinstance(value, dict) and isinstance(value.get("eventNotifications"), list):
        events = [e for n in value["eventNotifications"] for e in _legacy_notification(n)]
    else:
        return [_body_problem(body, "neither a CloudEvents array nor eventNotifications")]
    return events or [_body_problem(body, "no events in the body")]


def _cloud_event(item: Any) -> WebhookEvent:
    if not isinstance(item, dict):
        return _malformed(item, "cloudevents", "an event is not a JSON object")
    kind = _text(item.get("type"))
    parts = (kind or "").split(".")
    entity_word, verb = (parts[1], parts[2]) if len(parts) >= 3 and parts[0] == "qbo" else ("", "")
    event = WebhookEvent(
        key=f"ce:{_text(item.get('id'))}",
        realm_id=_text(item.get("intuitaccountid")),
        entity=_ENTITY_BY_LOWER.get(entity_word.lower(), _text(entity_word) or None),
        entity_id=_text(item.get("intuitentityid")),
        operation=_VERBS.get(verb.lower(), _text(verb) or None),
        event_time=_time(item.get("time")),
        source_format="cloudevents",
    )
    if not _text(item.get("id")):
        return _malformed(item, "cloudevents", "an event without an id")
    if not kind or not verb:
        return _with_problem(event, f"event type {kind!r} is not qbo.<entity>.<verb>.v1")
    return _with_problem(event, _problem(event))


def _legacy_notification(notification: Any) -> list[WebhookEvent]:
    if not isinstance(notification, dict):
        return [_malformed(notification, "legacy", "a notification is not a JSON object")]
    realm = _text(notification.get("realmId"))
    change = notification.get("dataChangeEvent")
    entities = change.get("entities") if isinstance(change, dict) else None
    if not isinstance(entities, list):
        return [_malformed(notification, "legacy", "a notification without dataChangeEvent")]
    return [_legacy_entity(realm, item) for item in entities]


def _legacy_entity(realm: str | None, item: Any) -> WebhookEvent:
    if not isinstance(item, dict):
        return _malformed(item, "legacy", "an entity change is not a JSON object")
    name = _text(item.get("name"))
    record_id = _text(item.get("id"))
    operation = _text(item.get("operation"))
    raw_time = _text(item.get("lastUpdated"))
    natural = f"{realm}|{name}|{record_id}|{operation}|{raw_time}|{_text(item.get('deletedId'))}"
    event = WebhookEvent(
        key=f"legacy:{hashlib.sha256(natural.encode()).hexdigest()[:40]}",
        realm_id=realm,
        entity=_ENTITY_BY_LOWER.get((name or "").lower(), name),
        entity_id=record_id,
        operation=operation,
        event_time=_time(raw_time),
        source_format="legacy",
    )
    return _with_problem(event, _problem(event))


def _problem(event: WebhookEvent) -> str | None:
    """Why a well-formed event cannot lead to a sync, judged without the database."""
    if not event.realm_id or not event.realm_id.isdigit():
        return f"realm id {event.realm_id!r} is not digits"
    if not event.entity or event.entity not in CATALOG:
        return f"unknown entity {event.entity!r}"
    if event.operation not in _OPERATIONS:
        return f"unknown operation {event.operation!r}"
    return None


def _with_problem(event: WebhookEvent, problem: str | None) -> WebhookEvent:
    if problem is None:
        return event
    return WebhookEvent(**{**event.__dict__, "problem": problem})


def _malformed(item: Any, source_format: str, problem: str) -> WebhookEvent:
    """A part that cannot be read: keyed by its own bytes, so a replay is recorded once."""
    digest = hashlib.sha256(orjson.dumps(item, option=orjson.OPT_SORT_KEYS)).hexdigest()[:40]
    return WebhookEvent(f"bad:{digest}", None, None, None, None, None, source_format, problem)


def _body_problem(body: bytes, problem: str) -> WebhookEvent:
    digest = hashlib.sha256(body).hexdigest()[:40]
    return WebhookEvent(f"body:{digest}", None, None, None, None, None, "unknown", problem)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)[:_MAX_TEXT]


def _time(value: Any) -> datetime | None:
    """An aware UTC time from ISO text (`Z`, `-07:00` or `-0700`); None when unreadable."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.astimezone(UTC)
