"""`auto` chunking asks for its window counts in batch calls, against the real sandbox."""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from tests.helpers import sandbox_rows, settings_for

from qbo_backfill.entities import resolve_entity
from qbo_backfill.run.engine import BackfillOptions, backfill
from qbo_backfill.run.plan import AUTO_MAX_PAGES
from qbo_backfill.sandbox import Sandbox, SandboxConfig
from qbo_backfill.windows import ExtractWindow

pytestmark = pytest.mark.db

PAGE_SIZE = 10
ALL_YEARS = ExtractWindow(date(2024, 1, 1), date(2026, 1, 1))


def _chunks(database_url: str, schema: str) -> list[tuple[date, date, int, int]]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            sql.SQL(
                "SELECT window_start, window_end, planned_count, rows_extracted FROM {} "
                "ORDER BY window_start"
            ).format(sql.Identifier(schema, "qbo_backfill_chunks"))
        ).fetchall()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def test_auto_windows_are_counted_in_batches_and_reused(
    database_url: str, schema: str, home: Path
) -> None:
    config = SandboxConfig(
        customers=5, items=5, invoices=3000, rate_limit_per_min=0, rate_limit_per_sec=0
    )
    with Sandbox(config) as sb:
        settings = settings_for(sb, database_url, schema, home)
        sb.reset_counters()
        options = BackfillOptions(
            entities=(resolve_entity("Invoice"),),
            window=ALL_YEARS,
            chunk_days=None,
            page_size=PAGE_SIZE,
        )
        result = backfill(settings, options)
        assert result.ok, result.entities
        requests = sb.counters()["realms"][sb.info.realm_id]["requests"]
        invoices = len(sandbox_rows(sb, "Invoice"))

    chunks = _chunks(database_url, schema)
    max_rows = PAGE_SIZE * AUTO_MAX_PAGES
    # 3000 rows over 730 days: 30 slices of ~100, one batch call; joined to <= 1000 rows each.
    assert requests["batch"] == 1
    assert 3 <= len(chunks) <= 4
    # The planned counts are reused: the only single counts are the one after each window.
    assert requests["count"] == len(chunks)
    assert chunks[0][0] == ALL_YEARS.start
    assert chunks[-1][1] == ALL_YEARS.end
    assert all(a[1] == b[0] for a, b in itertools.pairwise(chunks))  # no gap, no overlap
    assert all(planned <= max_rows for _, _, planned, _ in chunks)
    assert sum(planned for _, _, planned, _ in chunks) == invoices
    assert [extracted for *_, extracted in chunks] == [planned for _, _, planned, _ in chunks]


def test_a_slice_too_large_is_counted_again_in_finer_slices(
    database_url: str, schema: str, home: Path
) -> None:
    # 600 rows in the first 5 days of 2025, 2-row pages (at most 200 rows a window): the
    # first of the year's 30 slices holds all 600, so it is cut into days and counted again.
    config = SandboxConfig(
        customers=5,
        items=5,
        invoices=600,
        invoice_start=date(2025, 1, 1),
        invoice_end=date(2025, 1, 6),
        rate_limit_per_min=0,
        rate_limit_per_sec=0,
        batch_limit_per_min=0,
    )
    with Sandbox(config) as sb:
        settings = settings_for(sb, database_url, schema, home)
        sb.reset_counters()
        options = BackfillOptions(
            entities=(resolve_entity("Invoice"),),
            window=ExtractWindow(date(2025, 1, 1), date(2026, 1, 1)),
            chunk_days=None,
            page_size=2,
        )
        result = backfill(settings, options)
        assert result.ok, result.entities
        requests = sb.counters()["realms"][sb.info.realm_id]["requests"]

    chunks = _chunks(database_url, schema)
    assert requests["batch"] == 2
    assert sum(planned for _, _, planned, _ in chunks) == 600
    # A window holds at most 200 rows unless it is a single day.
    assert all(planned <= 200 or (end - start).days == 1 for start, end, planned, _ in chunks)
    assert [extracted for *_, extracted in chunks] == [planned for _, _, planned, _ in chunks]


def test_a_whole_list_entity_in_one_short_page_needs_no_count_first(
    database_url: str, schema: str, home: Path
) -> None:
    config = SandboxConfig(customers=40, items=5, invoices=10, rate_limit_per_min=0)
    with Sandbox(config) as sb:
        settings = settings_for(sb, database_url, schema, home)
        sb.reset_counters()
        options = BackfillOptions(
            entities=(resolve_entity("Customer"),), window=ALL_YEARS, page_size=1000
        )
        result = backfill(settings, options)
        requests = sb.counters()["realms"][sb.info.realm_id]["requests"]
        customers = len(sandbox_rows(sb, "Customer"))

    assert result.ok, result.entities
    # One short page is the whole window at one instant: no count before it or after it.
    assert (requests["query"], requests["count"], requests["batch"]) == (1, 0, 0)
    totals = result.entities[0].totals
    assert totals.source_count == totals.rows_in_table == customers
