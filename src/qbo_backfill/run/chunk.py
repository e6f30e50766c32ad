"""One chunk's work: page its window, load every page, recount, and say what it did.

Runs inside the transaction that marks the chunk done, so its rows and its ledger figures
commit together or not at all.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import replace
from typing import Any

import psycopg

from qbo_backfill.entities import Entity
from qbo_backfill.figures import ChunkFigures
from qbo_backfill.load.ledger import Chunk
from qbo_backfill.load.rawtable import PageMeta, RawTable, UpsertCounts
from qbo_backfill.load.records import prepare_page
from qbo_backfill.qbo import query
from qbo_backfill.qbo.client import ClientStats
from qbo_backfill.run.observer import RunObserver
from qbo_backfill.run.plan import FirstPage
from qbo_backfill.run.session import Session

__all__ = ["MAX_REFETCHES", "ChunkWork"]

log = logging.getLogger(__name__)

# A window whose count moves while it is paged is fetched again, at most this many times.
MAX_REFETCHES = 3


class ChunkWork:
    """One chunk's extraction and load, on the connection whose transaction marks it done."""

    def __init__(
        self,
        session: Session,
        conn: psycopg.AsyncConnection,
        chunk: Chunk,
        entity: Entity,
        page_size: int,
        page_gate: asyncio.Semaphore,
        observer: RunObserver,
        first_page: FirstPage | None = None,
    ) -> None:
        self.session = session
        self.conn = conn
        self.chunk = chunk
        self.entity = entity
        self.page_size = page_size
        # Pages held in memory across every chunk of the run: memory stays flat.
        self.page_gate = page_gate
        self.observer = observer
        self.table = RawTable(session.schema, entity)
        self.stats = ClientStats()
        self.figures = ChunkFigures()
        self._db_lock = asyncio.Lock()
        self._abandoned = False  # a page failed: the chunk fails, later pages are not sent
        self._first_page = first_page  # read while planning: used once, if its query matches

    async def extract_and_load(self) -> ChunkFigures:
        """Page the window until its count holds still; then count what the table holds."""
        if self.chunk.planned_count == 0:
            return await self._empty()
        count_query = query.count_query(self.entity, self.chunk.window)
        count = self.chunk.planned_count
        inserted = updated = 0
        for refetches in range(MAX_REFETCHES + 1):
            self.figures = ChunkFigures(refetches=refetches)
            if refetches:
                # The last pass's figures are the chunk's: so are its quarantined records.
                await self.table.clear_quarantine(self.conn, self.chunk.chunk_id)
            count, one_page = await self._fetch_all_pages(count, count_query)
            inserted += self.figures.rows_inserted
            updated += self.figures.rows_updated
            # One short page is the whole window at one instant: nothing moved under it.
            after = count if one_page else await self.session.client.count(count_query, self.stats)
            if after == count:
                break
            log.info(
                "%s %s: count moved %d -> %d while paging; fetching again",
                self.entity.name,
                self.chunk.window,
                count,
                after,
            )
            count = after
        in_table = await self._rows_in_table()
        accounted = in_table + self.figures.rows_quarantined
        return replace(
            self.figures,
            rows_inserted=inserted,
            rows_updated=updated,
            source_count=count,
            source_count_after=after,
            rows_in_table=in_table,
            matched=after == count and accounted == after,
        ).plus_requests(self.stats.spent())

    async def _empty(self) -> ChunkFigures:
        """A window planning counted 0: nothing to page, no call; the table is still counted."""
        in_table = await self._rows_in_table()
        return ChunkFigures(
            source_count=0, source_count_after=0, rows_in_table=in_table, matched=in_table == 0
        )

    async def _rows_in_table(self) -> int:
        return await self.table.rows_in_window(
            self.conn, self.session.realm_id, self.chunk.window, live=True
        )

    async def _fetch_all_pages(self, count: int | None, count_query: str) -> tuple[int, bool]:
        """Page the window; return its source count (`count` when known beforehand) and
        whether one short page was the whole window."""
        size = self.page_size
        first = 1
        read_whole = self._planning_read_whole()
        if count is None or count < size or read_whole:
            # A window expected to fit one page (or not counted: a list entity taken whole)
            # starts with that page: when short, or read whole by planning's call (even
            # full), it is the window and its count, and no COUNT(*) is asked for.
            rows = await self._page(1)
            if rows < size or read_whole:
                return rows - self.figures.source_duplicates, True  # records, each Id once
            count, first = await self.session.client.count(count_query, self.stats), 2
        await self._pages(range(first, math.ceil(count / size) + 1))
        return count, False

    def _planning_read_whole(self) -> bool:
        """Whether planning's call read this window whole: its first page, holding every
        record the same call counted (the window's planned count)."""
        first = self._first_page
        return first is not None and first.text == self._page_text(1) and first.is_whole_window

    def _page_text(self, number: int) -> str:
        size = self.page_size
        return query.page_query(self.entity, self.chunk.window, (number - 1) * size + 1, size)

    async def _pages(self, numbers: range) -> None:
        """Fetch and load pages at once. After a failure the pages not yet sent are skipped
        and those under way are awaited before it is raised, so that nothing writes on the
        connection once the chunk's transaction rolls back."""
        outcomes = await asyncio.gather(*(self._page(n) for n in numbers), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _page(self, number: int) -> int:
        """Fetch and load one page; the number of records it held (0: skipped, as a page
        of the chunk failed)."""
        try:
            return await self._fetch_and_load(number)
        except BaseException:
            self._abandoned = True
            raise

    async def _fetch_and_load(self, number: int) -> int:
        async with self.page_gate:
            if self._abandoned:
                return 0
            size = self.page_size
            text = self._page_text(number)
            records = await self._records(text)
            prepared = prepare_page(records)
            extracted = len(records)
            del records  # only the prepared rows wait for the connection
            meta = PageMeta(
                self.chunk.run_id, self.chunk.chunk_id, self.chunk.window, number, size, text
            )
            async with self._db_lock:
                if self._abandoned:
                    return 0
                counts = await self.table.upsert_page(
                    self.conn, self.session.realm_id, prepared, meta
                )
            self._add(extracted, prepared.duplicates, len(prepared.quarantined), counts)
            self.observer.page_loaded(self.entity.name, extracted)
            return extracted

    async def _records(self, text: str) -> list[Any]:
        """A page's records: the page planning read, the first time it is this one (no
        call); else asked for."""
        first, self._first_page = self._first_page, None
        if first is not None and first.text == text:
            return first.records
        return await self.session.client.page(text, self.entity.name, self.stats)

    def _add(self, extracted: int, duplicates: int, quarantined: int, counts: UpsertCounts) -> None:
        f = self.figures
        self.figures = replace(
            f,
            pages=f.pages + 1,
            rows_extracted=f.rows_extracted + extracted,
            source_duplicates=f.source_duplicates + duplicates,
            rows_quarantined=f.rows_quarantined + quarantined,
            rows_inserted=f.rows_inserted + counts.inserted,
            rows_updated=f.rows_updated + counts.updated,
            rows_unchanged=f.rows_unchanged + counts.unchanged,
        )
