"""`sync`: bring every copied entity of a company up to date since its cursor (or since its
backfill read the source), deletes included.

- CDC-served entities, when the gap is inside CDC's 30 days (less a day's margin): one CDC
  call for all of them. An answer cut at 1,000 objects is asked again one entity at a time
  (`run/syncpaths.py`). A gap longer than that, or a CDC refusal of `changedSince`, takes
  the `LastUpdatedTime` path with deletes found by counts.
- Entities CDC does not serve always take the `LastUpdatedTime` path: their first pages and
  whole counts go together in one batch call (15 entities a call).

Each entity is one transaction: its rows, its deletes, its cursor and its sync-run row
commit together or not at all, so a sync killed at any instant and run again ends exact
(entities with no change, nothing to write, share one).
Every read starts `SYNC_OVERLAP` before the cursor, re-reading what a late write at the
source could have hidden; what it returns again is written only if it changed.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

from qbo_backfill.entities import Entity, resolve_entity
from qbo_backfill.errors import ApiError, BackfillError, ConfigError, ReauthorizeError
from qbo_backfill.load.cursors import CursorMove, SyncCursors
from qbo_backfill.load.pools import ConnectionPools, connection
from qbo_backfill.load.rawtable import RawTable
from qbo_backfill.load.syncruns import SyncFigures, SyncRecord, SyncRuns
from qbo_backfill.qbo.cdc import CDC_LOOKBACK, fetch_changes, is_lookback_refusal
from qbo_backfill.qbo.client import BATCH_MAX_ITEMS, ClientStats
from qbo_backfill.qbo.lastupdated import changed_since_query, source_time, total_count_query
from qbo_backfill.run.changes import PAGE_SIZE, ChangeWriter
from qbo_backfill.run.observer import NullObserver, RunObserver
from qbo_backfill.run.prepared import Prepared
from qbo_backfill.run.session import Session, open_session
from qbo_backfill.run.syncpaths import FirstPage, Outcome, by_last_updated, cdc_one_entity
from qbo_backfill.run.syncstart import plain_views_known, starting_points
from qbo_backfill.settings import Settings
from qbo_backfill.views.keep import refresh_views

__all__ = ["CDC_MARGIN", "SYNC_OVERLAP", "SyncOptions", "SyncResult", "run_sync", "sync"]

log = logging.getLogger(__name__)

SYNC_OVERLAP = timedelta(minutes=10)
# CDC only while the gap is a day inside its look-back, by our clock; a refusal is still
# caught (the server's clock is the one that counts).
CDC_MARGIN = timedelta(days=1)
# Two queries per entity in a batch call: its first page of changes and its whole count.
ENTITIES_PER_BATCH = BATCH_MAX_ITEMS // 2

Work = Callable[[ChangeWriter, ClientStats], Awaitable[Outcome]]


@dataclass(frozen=True)
class SyncOptions:
    """What to sync; no entity: every entity already copied for the realm."""

    entities: tuple[Entity, ...] = ()


@dataclass(frozen=True)
class SyncResult:
    session_id: str
    records: tuple[SyncRecord, ...]
    api_calls: int

    @property
    def ok(self) -> bool:
        return all(r.status == "done" for r in self.records)


def sync(
    settings: Settings, options: SyncOptions, observer: RunObserver | None = None
) -> SyncResult:
    """Run a sync to the end (blocking); see `run_sync`."""
    return asyncio.run(run_sync(settings, options, observer))


async def run_sync(
    settings: Settings,
    options: SyncOptions,
    observer: RunObserver | None = None,
    pools: ConnectionPools | None = None,
) -> SyncResult:
    """Bring the copied entities of the settings' realm up to date with the source. A
    long-lived process passes its `pools`; a command connects for itself."""
    watcher = observer or NullObserver()
    async with (
        open_session(settings, watcher.retrying, pools) as session,
        connection(session.url, pools.jobs if pools else None) as conn,
    ):
        return await Sync(session).run(conn, options)


class Sync:
    """One sync of one company, over an open session. A long-lived process passes what it
    has `prepared` already (the schema's shape, checked once a minute, not per company)."""

    def __init__(self, session: Session, prepared: Prepared | None = None) -> None:
        self.session = session
        self.prepared = prepared or Prepared(seconds=0.0)
        self.cursors = SyncCursors(session.schema)
        self.runs = SyncRuns(session.schema)
        self.session_id = uuid.uuid4().hex
        self.records: list[SyncRecord] = []

    async def run(self, conn: psycopg.AsyncConnection, options: SyncOptions) -> SyncResult:
        starts = await starting_points(self.session, conn, options.entities, self.prepared)
        entities = [resolve_entity(name) for name in starts]
        in_cdc = [e for e in entities if e.in_cdc]
        if in_cdc:
            await self._by_cdc(conn, in_cdc, starts)
        others = [e for e in entities if not e.in_cdc]
        if others:
            await self._by_last_updated(conn, others, starts)
        views = self.session.settings.views_schema
        if not plain_views_known(self.session, self.prepared):
            await refresh_views(self.session.url, views, [e.name for e in entities], conn)
        calls = self.session.client.stats.requests
        return SyncResult(self.session_id, tuple(self.records), calls)

    async def _by_cdc(
        self, conn: psycopg.AsyncConnection, entities: list[Entity], starts: dict[str, datetime]
    ) -> None:
        reach = datetime.now(UTC) - (CDC_LOOKBACK - CDC_MARGIN)
        too_old = [e for e in entities if starts[e.name] - SYNC_OVERLAP < reach]
        if too_old:  # each entity by its own gap: one long away does not hold back the rest
            await self._by_last_updated(conn, too_old, starts)
        entities = [e for e in entities if e not in too_old]
        if not entities:
            return
        since = min(starts[e.name] for e in entities) - SYNC_OVERLAP
        shared = ClientStats()
        try:
            answer = await fetch_changes(
                self.session.client, [e.name for e in entities], since, shared
            )
        except ApiError as exc:
            if not is_lookback_refusal(exc):
                await self._all_failed(conn, entities, starts, exc)
                return
            log.info("CDC refused %s as too old: reading by LastUpdatedTime", since)
            await self._by_last_updated(conn, entities, starts)
            return
        quiet = [] if answer.truncated else [e for e in entities if not answer.changes[e.name]]
        if quiet:
            await self._quiet(conn, quiet, starts, Outcome(answer.time, "cdc"), shared.requests)
        for entity in (e for e in entities if e not in quiet):
            if answer.truncated:
                work = self._cdc_alone(entity, starts[entity.name] - SYNC_OVERLAP)
            else:
                work = _written(answer.changes[entity.name], answer.request, answer.time, "cdc")
            await self._entity(conn, entity, starts[entity.name], work, shared.requests)

    async def _quiet(
        self,
        conn: psycopg.AsyncConnection,
        entities: list[Entity],
        starts: dict[str, datetime],
        outcome: Outcome,
        calls: int,
    ) -> None:
        """Entities the source reported no change for: nothing to write, so their cursors
        and records commit together, in a few statements however many they are (an idle
        company's whole sync)."""
        realm = self.session.realm_id
        ids = await self.runs.next_ids(conn, len(entities))
        await conn.commit()
        figures = SyncFigures(answers=1, api_calls=calls)
        records = [
            self._record(run_id, e, starts[e.name], outcome, figures)
            for run_id, e in zip(ids, entities, strict=True)
        ]
        try:
            async with conn.transaction():
                await self.cursors.lock(conn, realm, [e.name for e in entities])
                moves = [CursorMove(r.entity, outcome.cursor, r.sync_run_id) for r in records]
                await self.cursors.advance(conn, realm, moves)
                await self.runs.record(conn, records)
        except psycopg.Error as exc:
            for run_id, entity in zip(ids, entities, strict=True):
                await self._failed(conn, run_id, entity, starts[entity.name], exc, calls)
            return
        for record in records:
            log.info("%s: %s", record.entity, _line(record))
        self.records.extend(records)

    def _cdc_alone(self, entity: Entity, since: datetime) -> Work:
        async def work(writer: ChangeWriter, stats: ClientStats) -> Outcome:
            return await cdc_one_entity(self.session, writer, entity, since, stats)

        return work

    async def _by_last_updated(
        self, conn: psycopg.AsyncConnection, entities: list[Entity], starts: dict[str, datetime]
    ) -> None:
        for group in _groups(entities, ENTITIES_PER_BATCH):
            shared = ClientStats()
            texts = [
                text
                for e in group
                for text in (
                    changed_since_query(e, starts[e.name] - SYNC_OVERLAP, PAGE_SIZE),
                    total_count_query(e),
                )
            ]
            try:
                answers, when = await self.session.client.query_many(texts, shared)
                now = source_time(when)
            except ApiError as exc:
                await self._all_failed(conn, group, starts, exc)
                continue
            for n, entity in enumerate(group):
                page, count = answers[2 * n], answers[2 * n + 1]
                first = FirstPage(
                    page.get(entity.name) or [], texts[2 * n], int(count.get("totalCount", 0)), now
                )
                work = self._lut_work(entity, starts[entity.name] - SYNC_OVERLAP, first)
                await self._entity(conn, entity, starts[entity.name], work, shared.requests)

    def _lut_work(self, entity: Entity, since: datetime, first: FirstPage) -> Work:
        async def work(writer: ChangeWriter, stats: ClientStats) -> Outcome:
            return await by_last_updated(self.session, writer, entity, since, stats, first)

        return work

    async def _entity(
        self,
        conn: psycopg.AsyncConnection,
        entity: Entity,
        start: datetime,
        work: Work,
        shared_calls: int,
    ) -> None:
        """One entity's sync in one transaction: rows, deletes, cursor and its record."""
        realm = self.session.realm_id
        [run_id] = await self.runs.next_ids(conn, 1)
        await conn.commit()
        stats = ClientStats()
        try:
            async with conn.transaction():
                await self.cursors.lock(conn, realm, [entity.name])
                writer = ChangeWriter(
                    conn, RawTable(self.session.schema, entity), realm, run_id, start - SYNC_OVERLAP
                )
                outcome = await work(writer, stats)
                figures = writer.figures.with_calls(shared_calls + stats.requests)
                record = self._record(run_id, entity, start, outcome, figures)
                move = CursorMove(entity.name, outcome.cursor, run_id)
                await self.cursors.advance(conn, realm, [move])
                await self.runs.record(conn, [record])
        except (ApiError, BackfillError, psycopg.Error) as exc:
            if isinstance(exc, ReauthorizeError | ConfigError):
                raise
            await self._failed(conn, run_id, entity, start, exc, shared_calls + stats.requests)
            return
        log.info("%s: %s", entity.name, _line(record))
        self.records.append(record)

    def _record(
        self, run_id: int, entity: Entity, start: datetime, outcome: Outcome, figures: SyncFigures
    ) -> SyncRecord:
        lag = max(0.0, (outcome.cursor - start).total_seconds())
        return SyncRecord(
            run_id,
            self.session_id,
            self.session.realm_id,
            entity.name,
            outcome.path,
            start,
            max(start, outcome.cursor),
            lag,
            figures,
        )

    async def _all_failed(
        self,
        conn: psycopg.AsyncConnection,
        entities: list[Entity],
        starts: dict[str, datetime],
        exc: Exception,
    ) -> None:
        if isinstance(exc, ReauthorizeError):
            raise exc
        for run_id, entity in zip(
            await self.runs.next_ids(conn, len(entities)), entities, strict=True
        ):
            await self._failed(conn, run_id, entity, starts[entity.name], exc, 1)

    async def _failed(
        self,
        conn: psycopg.AsyncConnection,
        run_id: int,
        entity: Entity,
        start: datetime,
        exc: Exception,
        calls: int,
    ) -> None:
        """Record a failed entity (its cursor stays where it was) and go on with the next."""
        message = f"{type(exc).__name__}: {exc}"[:2000]
        log.error("%s: sync failed: %s", entity.name, message)
        record = SyncRecord(
            run_id,
            self.session_id,
            self.session.realm_id,
            entity.name,
            "failed",
            start,
            start,
            0.0,
            SyncFigures(api_calls=calls),
            status="failed",
            error=message,
        )
        self.records.append(record)
        if conn.closed or conn.broken:
            return
        await conn.rollback()
        await self.runs.record(conn, [record])
        await conn.commit()


def _written(records: list, request: str, cursor: datetime, path: str) -> Work:
    """Work that writes records already read (one CDC answer shared by several entities)."""

    async def work(writer: ChangeWriter, stats: ClientStats) -> Outcome:
        await writer.write(records, request)
        return Outcome(cursor, path)

    return work


def _groups(entities: list[Entity], size: int) -> list[list[Entity]]:
    return [entities[i : i + size] for i in range(0, len(entities), size)]


def _line(record: SyncRecord) -> str:
    f = record.figures
    return (
        f"{record.path}: {f.inserted} inserted, {f.updated} updated, {f.deleted} deleted, "
        f"{f.reactivated} reactivated; {f.api_calls} calls; "
        f"cursor {record.cursor_after:%Y-%m-%d %H:%M:%S}"
    )
