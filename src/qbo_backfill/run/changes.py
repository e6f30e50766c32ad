"""Writing one entity's observed changes into its raw table, inside the transaction that
also advances its cursor.

- An active record is upserted by the table's rules: an older version never overwrites a
  newer one, and a row marked deleted that comes back lives again.
- A tombstone (CDC's `status: "Deleted"`) marks the row deleted at the tombstone's time; the
  row keeps its last payload. A tombstone for an Id the table never held is left out: there
  is no payload to keep.
- What was written once in a sync is not written again when a re-read boundary returns it
  (same Id and SyncToken, or the same tombstone).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import psycopg

from qbo_backfill.load.rawtable import DeleteMark, PageMeta, RawTable
from qbo_backfill.load.records import prepare_page
from qbo_backfill.load.syncruns import SyncFigures
from qbo_backfill.qbo.cdc import is_deleted, last_updated
from qbo_backfill.windows import WHOLE_END, ExtractWindow

__all__ = ["ChangeWriter"]

PAGE_SIZE = 1000


class ChangeWriter:
    """One entity's writes for one sync run, on the connection of its transaction."""

    def __init__(
        self,
        conn: psycopg.AsyncConnection,
        table: RawTable,
        realm_id: str,
        sync_run_id: int,
        since: datetime,
    ) -> None:
        self.conn = conn
        self.table = table
        self.realm_id = realm_id
        self.sync_run_id = sync_run_id
        # A sync reads everything changed since its start: an open-ended window.
        self.window = ExtractWindow(since.date(), WHOLE_END)
        self.figures = SyncFigures()
        self._seen: set[tuple[int | str, str]] = set()
        self._pages = 0

    async def write(self, records: list[Any], request: str) -> None:
        """Upsert the active records, mark the deleted ones; skip what this sync wrote."""
        fresh = [r for r in records if self._first_time(r)]
        self._pages += 1
        self.figures = replace(self.figures, answers=self.figures.answers + 1)
        active = [r for r in fresh if not is_deleted(r)]
        if active:
            await self._upsert(active, request)
        marks = [m for m in map(_delete_mark, fresh) if m is not None]
        if marks:
            await self.mark_deleted(marks)

    async def mark_deleted(self, marks: list[DeleteMark]) -> int:
        """Mark rows deleted (see `RawTable.mark_deleted`); the number marked."""
        marked = await self.table.mark_deleted(self.conn, self.realm_id, marks)
        self.figures = replace(self.figures, deleted=self.figures.deleted + marked)
        return marked

    def note(self, **more: int) -> None:
        """Add to this entity's figures (calls, windows read)."""
        self.figures = self.figures.plus(SyncFigures(**more))

    async def _upsert(self, records: list[Any], request: str) -> None:
        page = prepare_page(records)
        meta = PageMeta(
            self.sync_run_id, self.sync_run_id, self.window, self._pages, PAGE_SIZE, request
        )
        counts = await self.table.upsert_page(
            self.conn, self.realm_id, page, meta, count_revivals=True
        )
        self.note(
            inserted=counts.inserted,
            updated=counts.updated - counts.reactivated,
            unchanged=counts.unchanged,
            reactivated=counts.reactivated,
            quarantined=len(page.quarantined),
        )

    def _first_time(self, record: Any) -> bool:
        if not isinstance(record, dict):
            return True  # quarantined by the upsert, with its reason
        version = "deleted" if is_deleted(record) else str(record.get("SyncToken"))
        key = (str(record.get("Id")), version + str(last_updated(record)))
        if key in self._seen:
            return False
        self._seen.add(key)
        return True


def _delete_mark(record: Any) -> DeleteMark | None:
    if not is_deleted(record):
        return None
    raw_id = str(record.get("Id", ""))
    when = last_updated(record)
    if not raw_id.isdigit() or len(raw_id) > 18 or when is None:
        return None
    return DeleteMark(int(raw_id), when)
