"""The two ways a sync reads one entity's changes, each inside the entity's transaction.

- CDC, one entity at a time (after an answer for several was cut at 1,000 objects): ask
  again from the newest `LastUpdatedTime` the last answer held, re-reading that instant,
  until an answer is whole. One instant holding 1,000 changes or more cannot be passed that
  way: the entity goes on by `LastUpdatedTime` from that instant, and its deletes are found
  by counts.
- By `MetaData.LastUpdatedTime`: keyset pages from the cursor (less the overlap), then the
  deletes found by counts (`run/deletes.py`).

Each returns the new cursor (the server's time before which every change was read) and the
name of the path it took.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from qbo_backfill.entities import Entity
from qbo_backfill.qbo.cdc import fetch_changes, last_updated
from qbo_backfill.qbo.client import ClientStats
from qbo_backfill.qbo.lastupdated import (
    ONE_INSTANT,
    changed_since_query,
    instant_query,
    read_page,
)
from qbo_backfill.run.changes import PAGE_SIZE, ChangeWriter
from qbo_backfill.run.deletes import find_vanished
from qbo_backfill.run.session import Session

__all__ = ["FirstPage", "Outcome", "by_last_updated", "cdc_one_entity"]


@dataclass(frozen=True)
class Outcome:
    """Where an entity's cursor moves to, and how its changes were read."""

    cursor: datetime
    path: str


@dataclass(frozen=True)
class FirstPage:
    """An entity's first page of changes and its whole count, asked in a shared batch."""

    records: list[Any]
    request: str
    source_total: int
    time: datetime


async def cdc_one_entity(
    session: Session, writer: ChangeWriter, entity: Entity, since: datetime, stats: ClientStats
) -> Outcome:
    """CDC for one entity until an answer is whole (see the module's doc)."""
    since = since.replace(microsecond=0)
    while True:
        answer = await fetch_changes(session.client, [entity.name], since, stats)
        await writer.write(answer.changes[entity.name], answer.request)
        if not answer.truncated:
            return Outcome(answer.time, "cdc-per-entity")
        newest = answer.newest(entity.name)
        if newest is None or newest <= since:
            cursor = await _read_changed(session, writer, entity, since, stats)
            await find_vanished(session, writer, entity, stats, None)
            return Outcome(cursor, "cdc+last-updated")
        since = newest


async def by_last_updated(
    session: Session,
    writer: ChangeWriter,
    entity: Entity,
    since: datetime,
    stats: ClientStats,
    first: FirstPage,
) -> Outcome:
    """Every change since `since` by keyset pages, then the deletes found by counts."""
    await writer.write(first.records, first.request)
    if len(first.records) >= PAGE_SIZE:
        await _read_changed(session, writer, entity, _next_since(first.records, since), stats)
    await find_vanished(session, writer, entity, stats, first.source_total)
    return Outcome(first.time, "last-updated")


async def _read_changed(
    session: Session, writer: ChangeWriter, entity: Entity, since: datetime, stats: ClientStats
) -> datetime:
    """Keyset pages from `since` until a page is short; the server's time of the first."""
    since = since.replace(microsecond=0)
    first_time: datetime | None = None
    while True:
        text = changed_since_query(entity, since, PAGE_SIZE)
        records, when = await read_page(session.client, text, entity, stats)
        first_time = first_time or when
        await writer.write(records, text)
        if len(records) < PAGE_SIZE:
            return first_time
        newest = _next_since(records, since)
        if newest <= since:
            await _read_instant(session, writer, entity, since, stats)
            newest = since + ONE_INSTANT
        since = newest


async def _read_instant(
    session: Session, writer: ChangeWriter, entity: Entity, instant: datetime, stats: ClientStats
) -> None:
    """Every record changed within one second, by offset pages ordered by Id."""
    position = 1
    while True:
        text = instant_query(entity, instant, position, PAGE_SIZE)
        records, _ = await read_page(session.client, text, entity, stats)
        await writer.write(records, text)
        if len(records) < PAGE_SIZE:
            return
        position += PAGE_SIZE


def _next_since(records: list[Any], since: datetime) -> datetime:
    """The newest `LastUpdatedTime` of a page (where the next keyset page starts)."""
    stamps = [t for t in map(last_updated, records) if t is not None]
    return max([since, *stamps])
