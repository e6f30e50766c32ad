"""Scenario 12: the typed views' speed. A company is backfilled from the sandbox, its
invoices are multiplied in SQL to N (copies of the real payloads under new Ids, spread over
six years), and one question users ask (invoiced per month and income account: invoice_line
joined to invoice) runs over the views, over the materialized form (`views --materialized`)
and over plain typed tables made from the same views (`CREATE TABLE AS`), in the same run:
the ratios are the figures. Also: the time to create every view in a fresh schema, to
install them again (what every backfill and sync does), and to refresh the materialized
invoice views concurrently after 1% of the invoices changed (what a sync adds)."""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

from bench.harness import Row, SandboxProcess, Schema, require_ok, run_backfill
from qbo_backfill.views.install import install_views

ENTITIES = ("Invoice", "Customer", "Item", "Account")
# Invoiced per month and income account, over a schema of the views or of the tables.
QUESTION = """
SELECT date_trunc('month', i.transaction_date)::date AS month,
       l.sales_item_account_id AS income_account,
       sum(l.amount) AS invoiced
FROM {s}.invoice_line AS l
JOIN {s}.invoice AS i ON i.realm_id = l.realm_id AND i.id = l.invoice_id
WHERE l.detail_type = 'SalesItemLineDetail' AND NOT i._fivetran_deleted
GROUP BY 1, 2
"""
# Copies of the backfilled invoices under new Ids and dates: the same payload shapes.
GROW = """
INSERT INTO {t} (realm_id, id, payload, ingested_at_utc, extract_window_start_utc,
    extract_window_end_utc, page_number, page_size, request_payload,
    source_last_updated_utc, run_id)
SELECT realm_id, id + %(base)s * g,
    payload || jsonb_build_object('Id', (id + %(base)s * g)::text,
        'TxnDate', to_char(date '2020-01-01' + ((id + g * 7) %% 2190)::int, 'YYYY-MM-DD')),
    ingested_at_utc, extract_window_start_utc, extract_window_end_utc, page_number,
    page_size, request_payload, source_last_updated_utc, run_id
FROM {t}, generate_series(1, %(copies)s) AS g
WHERE id <= %(base)s
"""


def run(database_url: str, *, invoices: int, seed_invoices: int, repeats: int = 3) -> Row:
    sandbox = SandboxProcess(invoices=seed_invoices, customers=50, items=20, limited=False)
    with sandbox, Schema(database_url, "views") as schema, tempfile.TemporaryDirectory() as tmp:
        done = run_backfill(
            sandbox,
            schema,
            Path(tmp),
            entities=ENTITIES,
            env_extra={"QBO_REQUESTS_PER_MINUTE": "10000000"},
        )
        require_ok(done, "backfill before the views")
        loaded = _grow(schema, invoices, seed_invoices)
        fresh, mat, tables = (f"{schema.name}_{s}" for s in ("fresh", "mat", "tables"))
        create_s = asyncio.run(_install(database_url, schema.name, fresh))
        again_s = asyncio.run(_install(database_url, schema.name, fresh))
        build_s = _tables(database_url, fresh, tables)
        mat_s = asyncio.run(_install(database_url, schema.name, mat, materialized=True))
        lines = schema.query(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(tables, "invoice_line"))
        )[0][0]
        view_s = _timed(database_url, fresh, repeats)
        view_no_jit_s = _timed(database_url, fresh, repeats, jit=False)
        mat_query_s = _timed(database_url, mat, repeats)
        table_s = _timed(database_url, tables, repeats)
        same = _answer(database_url, fresh) == _answer(database_url, tables)
        same = same and _answer(database_url, mat) == _answer(database_url, tables)
        refresh_s = _refresh_after_changes(schema, mat)
        _drop(database_url, fresh, mat, tables)
    ratio = view_s / table_s
    return Row(
        12,
        f"typed views: invoiced per month and income account ({loaded:,} invoices)",
        {
            "invoices": loaded,
            "invoice_lines": lines,
            "view_query_s": round(view_s, 3),
            "view_query_jit_off_s": round(view_no_jit_s, 3),
            "materialized_query_s": round(mat_query_s, 3),
            "table_query_s": round(table_s, 3),
            "view_vs_table": round(ratio, 2),
            "view_jit_off_vs_table": round(view_no_jit_s / table_s, 2),
            "materialized_vs_table": round(mat_query_s / table_s, 2),
            "same_answer": same,
            "create_all_views_s": round(create_s, 3),
            "install_again_s": round(again_s, 3),
            "create_materialized_s": round(mat_s, 1),
            "refresh_concurrently_after_1pct_s": round(refresh_s, 2),
            "create_table_as_s": round(build_s, 1),
        },
        {
            "view within 3x of the table": ratio <= 3,
            "materialized within 3x of the table": mat_query_s / table_s <= 3,
            "views created in under 1 s": create_s < 1,
            "same answer": same,
        },
        note=f"median of {repeats} warm runs each",
    )


def _grow(schema: Schema, invoices: int, seed: int) -> int:
    """Multiply the backfilled invoices to about `invoices` rows (copies of real payloads)."""
    table = sql.Identifier(schema.name, "qb_invoice")
    copies = max(0, -(-invoices // seed) - 1)
    with psycopg.connect(schema.url, autocommit=True) as conn:
        conn.execute(sql.SQL(GROW).format(t=table), {"base": seed, "copies": copies})
        conn.execute(sql.SQL("ANALYZE {}").format(table))
    return schema.rows("qb_invoice")


async def _install(url: str, raw: str, views: str, *, materialized: bool = False) -> float:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        started = time.perf_counter()
        await install_views(conn, raw, views, materialized=materialized)
        return time.perf_counter() - started


def _refresh_after_changes(schema: Schema, mat: str) -> float:
    """Change 1% of the invoices, then refresh the two invoice views concurrently."""
    with psycopg.connect(schema.url, autocommit=True) as conn:
        conn.execute(
            sql.SQL(
                'UPDATE {} SET payload = payload || \'{{"PrivateNote": "changed"}}\' '
                "WHERE id % 100 = 0"
            ).format(sql.Identifier(schema.name, "qb_invoice"))
        )
        started = time.perf_counter()
        for name in ("invoice", "invoice_line"):
            conn.execute(
                sql.SQL("REFRESH MATERIALIZED VIEW CONCURRENTLY {}").format(
                    sql.Identifier(mat, name)
                )
            )
        return time.perf_counter() - started


def _tables(url: str, views: str, tables: str) -> float:
    """Plain typed tables from the same views (`CREATE TABLE AS`), analysed."""
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(tables)))
        for name in ("invoice", "invoice_line"):
            conn.execute(
                sql.SQL("CREATE TABLE {} AS SELECT * FROM {}").format(
                    sql.Identifier(tables, name), sql.Identifier(views, name)
                )
            )
            conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(tables, name)))
    return time.perf_counter() - started


def _question(schema: str) -> sql.Composed:
    return sql.SQL(QUESTION).format(s=sql.Identifier(schema))


def _timed(url: str, schema: str, repeats: int, *, jit: bool = True) -> float:
    """Median wall time of the question, after one run that warms the cache (with the
    server's JIT setting, or JIT off for the session)."""
    times = []
    with psycopg.connect(url) as conn:
        if not jit:
            conn.execute("SET jit = off")
        conn.execute(_question(schema)).fetchall()
        for _ in range(repeats):
            started = time.perf_counter()
            conn.execute(_question(schema)).fetchall()
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def _answer(url: str, schema: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        found = conn.execute(_question(schema) + sql.SQL(" ORDER BY 1, 2")).fetchall()
    return [tuple(row) for row in found]


def _drop(url: str, *schemas: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for name in schemas:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))
