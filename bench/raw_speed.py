"""Scenario 3, raw speed with no limits and no latency: end to end, then the loader alone
against plain COPY (the ceiling) and row-by-row INSERT .. ON CONFLICT (the seed's way) on
the same payloads. Scenario 5, peak RSS of the backfill process at two sizes."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import httpx
import psycopg
from psycopg import sql

from bench.harness import Row, SandboxProcess, Schema, require_ok, run_backfill
from qbo_backfill.entities import resolve_entity
from qbo_backfill.load.rawtable import PageMeta, RawTable
from qbo_backfill.load.records import prepare_page, to_row
from qbo_backfill.qbo.client import parse_query_response
from qbo_backfill.windows import ExtractWindow

UNLIMITED = {"QBO_REQUESTS_PER_MINUTE": "10000000"}
PAGE = 1000
YEAR = ExtractWindow(date(2025, 1, 1), date(2026, 1, 1))
# One chunk's worth of pages per transaction, as the engine commits them.
PAGES_PER_COMMIT = 100


def run(database_url: str, *, invoices: int, sample_pages: int) -> tuple[Row, float]:
    """Scenario 3's row, and the end-to-end run's peak RSS in MB (for scenario 5)."""
    sandbox = SandboxProcess(invoices=invoices, customers=10, items=5, limited=False)
    with sandbox, Schema(database_url, "raw") as schema, tempfile.TemporaryDirectory() as tmp:
        e2e = run_backfill(sandbox, schema, Path(tmp), entities=("Invoice",), env_extra=UNLIMITED)
        require_ok(e2e, "end-to-end backfill")
        rows = schema.rows("qb_invoice")
        pages = _fetch_pages(sandbox, min(sample_pages, -(-invoices // PAGE)))
        loader = _time_loader(database_url, schema.name, sandbox.realm, pages)
        copy = _time_plain_copy(database_url, schema.name, sandbox.realm, pages)
        row_by_row = _time_row_by_row(database_url, schema.name, sandbox.realm, pages)
    sample_rows = sum(len(_records(p)) for p in pages)
    e2e_rate = rows / e2e.seconds
    loader_rate, copy_rate, rbr_rate = (sample_rows / s for s in (loader, copy, row_by_row))
    row = Row(
        3,
        f"raw speed ({invoices:,} invoices, no limits, no latency)",
        {
            "end_to_end_rows": rows,
            "end_to_end_wall_s": round(e2e.seconds, 1),
            "end_to_end_rows_per_s": round(e2e_rate),
            "sample_rows": sample_rows,
            "loader_rows_per_s": round(loader_rate),
            "plain_copy_rows_per_s": round(copy_rate),
            "row_by_row_rows_per_s": round(rbr_rate),
            "loader_vs_copy": round(loader_rate / copy_rate, 3),
            "loader_vs_row_by_row": round(loader_rate / rbr_rate, 2),
            "end_to_end_vs_copy": round(e2e_rate / copy_rate, 3),
        },
        {
            "loader >=60% of COPY": loader_rate >= 0.6 * copy_rate,
            "loader >=10x row-by-row": loader_rate >= 10 * rbr_rate,
            "end to end >=40% of COPY": e2e_rate >= 0.4 * copy_rate,
        },
    )
    return row, e2e.peak_rss_mb


def memory_row(database_url: str, *, small: int, large: int, large_rss_mb: float) -> Row:
    """Scenario 5: the backfill process's peak RSS at `small` invoices, beside `large`'s."""
    sandbox = SandboxProcess(invoices=small, customers=10, items=5, limited=False)
    with sandbox, Schema(database_url, "mem") as schema, tempfile.TemporaryDirectory() as tmp:
        run = run_backfill(sandbox, schema, Path(tmp), entities=("Invoice",), env_extra=UNLIMITED)
        require_ok(run, "memory backfill")
    growth = large_rss_mb / run.peak_rss_mb
    return Row(
        5,
        f"peak RSS of the backfill process ({small:,} and {large:,} invoices)",
        {
            f"rss_mb_at_{small}": round(run.peak_rss_mb, 1),
            f"rss_mb_at_{large}": round(large_rss_mb, 1),
            "large_over_small": round(growth, 3),
        },
        {
            "<=300 MB": max(large_rss_mb, run.peak_rss_mb) <= 300,
            "large <=1.2x small": growth <= 1.2,
        },
    )


def _fetch_pages(sandbox: SandboxProcess, count: int) -> list[bytes]:
    """The raw bytes of the first `count` pages of 2025's invoices, as the API sends them."""
    token = sandbox.access_token()
    url = f"{sandbox.info['base_url']}/v3/company/{sandbox.realm}/query"
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    entity = resolve_entity("Invoice")
    from qbo_backfill.qbo.query import page_query

    pages = []
    with httpx.Client(timeout=120) as http:
        for number in range(count):
            text = page_query(entity, YEAR, number * PAGE + 1, PAGE)
            response = http.post(url, content=text.encode(), headers=headers)
            response.raise_for_status()
            pages.append(response.content)
    return pages


def _records(page: bytes) -> list[dict[str, object]]:
    """A page's records, parsed as the client parses them."""
    return list(parse_query_response(httpx.Response(200, content=page))["Invoice"])


def _time_loader(url: str, schema: str, realm: str, pages: Sequence[bytes]) -> float:
    """Seconds for our loader as the engine drives it: each page parsed and prepared on the
    event loop while the previous one loads (one set-based upsert per page) on one
    connection; at most 10 pages held, a commit every 100 pages."""
    table = RawTable(f"{schema}_loader", resolve_entity("Invoice"))

    async def load() -> float:
        async with await psycopg.AsyncConnection.connect(url) as conn:
            await table.create(conn)
            await conn.commit()
            gate, lock = asyncio.Semaphore(10), asyncio.Lock()

            async def one(number: int, page: bytes) -> None:
                async with gate:
                    await asyncio.sleep(0)  # the page arrives: let others run first
                    prepared = prepare_page(_records(page))
                    meta = PageMeta(1, 1, YEAR, number, PAGE, "bench")
                    async with lock:
                        await table.upsert_page(conn, realm, prepared, meta)
                        if number % PAGES_PER_COMMIT == 0:
                            await conn.commit()

            started = time.perf_counter()
            await asyncio.gather(*(one(n, p) for n, p in enumerate(pages, start=1)))
            await conn.commit()
            return time.perf_counter() - started

    try:
        return asyncio.run(load())
    finally:
        _drop(url, f"{schema}_loader")


# The ceiling's target: the raw table's copied columns, no keys, no indexes.
_PLAIN_TABLE = """
CREATE TABLE {} (realm_id TEXT, id BIGINT, payload JSONB, source_last_updated_utc TIMESTAMPTZ)
"""


def _time_plain_copy(url: str, schema: str, realm: str, pages: Sequence[bytes]) -> float:
    """Seconds to COPY the same rows, already as COPY text, into an empty unindexed table."""
    blocks = []
    for page in pages:
        lines = []
        for record in _records(page):
            row = to_row(record)
            payload = getattr(row, "payload", "").replace("\\", "\\\\")
            stamp = getattr(row, "last_updated_utc", "").isoformat()
            lines.append(f"{realm}\t{getattr(row, 'id', 0)}\t{payload}\t{stamp}\n")
        blocks.append("".join(lines).encode())
    target = sql.Identifier(schema, "plain_copy")
    with psycopg.connect(url) as conn:
        conn.execute(sql.SQL(_PLAIN_TABLE).format(target))
        conn.commit()
        started = time.perf_counter()
        with conn.cursor().copy(sql.SQL("COPY {} FROM STDIN").format(target)) as copy:
            for block in blocks:
                copy.write(block)
        conn.commit()
        return time.perf_counter() - started


_ROW_BY_ROW = """
INSERT INTO {table} AS t (realm_id, id, payload, ingested_at_utc, extract_window_start_utc,
    extract_window_end_utc, page_number, page_size, request_payload,
    source_last_updated_utc, run_id)
VALUES (%s, %s, %s, now(), %s, %s, %s, %s, %s, %s, 1)
ON CONFLICT (realm_id, id) DO UPDATE SET payload = EXCLUDED.payload,
    ingested_at_utc = EXCLUDED.ingested_at_utc,
    source_last_updated_utc = EXCLUDED.source_last_updated_utc
WHERE t.source_last_updated_utc < EXCLUDED.source_last_updated_utc
"""


def _time_row_by_row(url: str, schema: str, realm: str, pages: Sequence[bytes]) -> float:
    """Seconds for row-by-row INSERT .. ON CONFLICT with executemany (the seed's approach)."""
    table = RawTable(f"{schema}_rbr", resolve_entity("Invoice"))

    async def create() -> None:
        async with await psycopg.AsyncConnection.connect(url) as conn:
            await table.create(conn)
            await conn.commit()

    asyncio.run(create())
    try:
        with psycopg.connect(url) as conn:
            statement = sql.SQL(_ROW_BY_ROW).format(table=table.table)
            started = time.perf_counter()
            for number, page in enumerate(pages, start=1):
                params = []
                for record in _records(page):
                    row = to_row(record)
                    params.append(
                        (
                            realm,
                            getattr(row, "id", 0),
                            getattr(row, "payload", ""),
                            YEAR.start_utc,
                            YEAR.end_utc,
                            number,
                            PAGE,
                            "bench",
                            getattr(row, "last_updated_utc", None),
                        )
                    )
                with conn.cursor() as cursor:
                    cursor.executemany(statement, params)
                if number % PAGES_PER_COMMIT == 0:
                    conn.commit()
            conn.commit()
            return time.perf_counter() - started
    finally:
        _drop(url, f"{schema}_rbr")


def _drop(url: str, schema: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
