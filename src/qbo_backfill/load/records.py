"""From a page of QBO records to rows the raw table can store, by documented rules.

- A record without a numeric `Id`, or without a readable `MetaData.LastUpdatedTime`, is
  quarantined with the reason; the rest of its page is loaded.
- The same `Id` twice in one page: the newest version (latest LastUpdatedTime, then the
  later one in the page) is kept; the others are counted as source duplicates.
- A NUL character in a string, which PostgreSQL's JSONB cannot hold, is stored as the
  six characters `\\u0000` (the JSON escape, itself escaped), so the row is kept and the
  original is recoverable.
- Wrong types, huge strings and deep nesting are stored as they came: a record is
  checked for its `Id` and `LastUpdatedTime` only. Any nesting the JSON parser accepts
  (1,024 levels, the whole answer counted) is stored; a page nested deeper cannot be read at
  all, so it fails like a truncated answer: retried, then its chunk is marked failed with
  the parser's reason in `last_error`, none of the chunk's rows are written, and the run
  ends failed (exit code 1) while the other chunks load.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

_JSON_NUL = re.compile(rb"(?<!\\)((?:\\\\)*)\\u0000")


@dataclass(frozen=True)
class RawRow:
    """A record ready for the raw table: its Id, its JSON text, its last change in UTC."""

    id: int
    payload: str
    last_updated_utc: datetime


@dataclass(frozen=True)
class Quarantined:
    """A record kept aside, with the reason, instead of sinking its page."""

    record_id: str | None
    reason: str
    payload: str


@dataclass
class PreparedPage:
    rows: list[RawRow] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)
    duplicates: int = 0


def prepare_page(records: list[Any]) -> PreparedPage:
    """Split a page's records into storable rows and quarantined records."""
    page = PreparedPage()
    newest: dict[int, RawRow] = {}
    for record in records:
        row_or_reason = to_row(record)
        if isinstance(row_or_reason, RawRow):
            keep = newest.get(row_or_reason.id)
            if keep is not None:
                page.duplicates += 1
                if keep.last_updated_utc > row_or_reason.last_updated_utc:
                    continue
            newest[row_or_reason.id] = row_or_reason
        else:
            page.quarantined.append(row_or_reason)
    page.rows = list(newest.values())
    return page


def to_row(record: Any) -> RawRow | Quarantined:
    """One record as a RawRow, or Quarantined with the reason it cannot be stored."""
    payload = payload_text(record)
    if not isinstance(record, dict):
        return Quarantined(None, "record is not a JSON object", payload)
    raw_id = record.get("Id")
    if not isinstance(raw_id, str | int) or not str(raw_id).isdigit() or len(str(raw_id)) > 18:
        return Quarantined(_short(raw_id), "Id is missing or not a number", payload)
    updated = parse_timestamp(_last_updated(record))
    if updated is None:
        return Quarantined(
            str(raw_id), "MetaData.LastUpdatedTime is missing or unreadable", payload
        )
    return RawRow(int(raw_id), payload, updated)


def payload_text(record: Any) -> str:
    """The record as JSON text that JSONB accepts (NUL escaped, see the module doc)."""
    try:
        text = orjson.dumps(record)
    except orjson.JSONEncodeError:
        # orjson writes at most 254 levels of nesting, though it reads 1,024.
        text = _dumps_deep(record).encode()
    if b"\\u0000" in text:
        text = _JSON_NUL.sub(rb"\1\\\\u0000", text)
    return text.decode()


class _Text(str):
    """JSON text already written, on `_dumps_deep`'s stack."""


def _dumps_deep(value: Any) -> str:
    """`value` as compact JSON, without recursion: as deep as any parsed value can be."""
    parts: list[str] = []
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _Text):
            parts.append(item)
        elif isinstance(item, dict):
            tokens: list[Any] = [_Text("{")]
            for n, (key, inner) in enumerate(item.items()):
                prefix = "," if n else ""
                tokens += [_Text(prefix + json.dumps(key, ensure_ascii=False) + ":"), inner]
            stack.extend(reversed([*tokens, _Text("}")]))
        elif isinstance(item, list):
            tokens = [_Text("[")]
            for n, inner in enumerate(item):
                tokens += [_Text(","), inner] if n else [inner]
            stack.extend(reversed([*tokens, _Text("]")]))
        else:
            parts.append(json.dumps(item, ensure_ascii=False))
    return "".join(parts)


def parse_timestamp(value: Any) -> datetime | None:
    """An ISO timestamp with its offset, as aware UTC; None if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None  # QBO always sends the company's offset; never guess one
    return parsed.astimezone(UTC)


def _last_updated(record: dict[str, Any]) -> Any:
    meta = record.get("MetaData")
    return meta.get("LastUpdatedTime") if isinstance(meta, dict) else None


def _short(value: Any) -> str | None:
    return None if value is None else str(value)[:64]
