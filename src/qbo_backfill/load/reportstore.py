"""`qb_report`: Intuit's reports as served, one row per (realm, report, basis, period,
parameters), with the flattened cells beside each (`qb_report_row`), and what a re-fetch
found changed in a closed period (`qbo_backfill_report_changes`).

A stretch of days (a month, or the months one request covered) is written in one
transaction: its earlier pieces go, its new pieces come, the cells with them; a truncated
answer never reaches this module (the caller splits it first).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from qbo_backfill.load.db import DDL_LOCK
from qbo_backfill.load.reportflat import ReportCell, flatten_report, parse_amount
from qbo_backfill.qbo.reports import ReportAnswer

__all__ = [
    "CHANGES",
    "REPORTS",
    "ROWS",
    "ReportStore",
    "StoredPiece",
    "comparable",
    "ensure_report_tables",
    "report_ddl",
    "report_totals",
]

REPORTS = "qb_report"
ROWS = "qb_report_row"
CHANGES = "qbo_backfill_report_changes"

_DDL = """
CREATE TABLE IF NOT EXISTS {reports} (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    realm_id text NOT NULL,
    report_name text NOT NULL,
    accounting_method text NOT NULL,
    period_start date NOT NULL,
    period_end date NOT NULL,
    params jsonb NOT NULL,
    payload jsonb NOT NULL,
    request_payload jsonb NOT NULL,
    header_time_utc timestamptz,
    ingested_at_utc timestamptz NOT NULL DEFAULT now(),
    run_id text NOT NULL,
    UNIQUE (realm_id, report_name, accounting_method, period_start, period_end, params)
);
CREATE TABLE IF NOT EXISTS {rows} (
    report_id bigint NOT NULL REFERENCES {reports} (id) ON DELETE CASCADE,
    ordinal integer NOT NULL,
    column_index integer NOT NULL,
    column_key text,
    column_title text NOT NULL,
    column_start_date date,
    column_end_date date,
    section_id text,
    row_path text[] NOT NULL,
    row_kind text NOT NULL,
    row_group text,
    account_id text,
    account_name text,
    txn_type text,
    txn_id text,
    value text NOT NULL,
    amount numeric,
    PRIMARY KEY (report_id, ordinal)
);
CREATE TABLE IF NOT EXISTS {changes} (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    realm_id text NOT NULL,
    report_name text NOT NULL,
    accounting_method text NOT NULL,
    period_start date NOT NULL,
    period_end date NOT NULL,
    detected_at_utc timestamptz NOT NULL DEFAULT now(),
    run_id text NOT NULL,
    totals_before jsonb NOT NULL,
    totals_after jsonb NOT NULL,
    difference jsonb NOT NULL,
    payloads_before jsonb NOT NULL
)
"""

_ROW_COLUMNS = (
    "report_id",
    "ordinal",
    "column_index",
    "column_key",
    "column_title",
    "column_start_date",
    "column_end_date",
    "section_id",
    "row_path",
    "row_kind",
    "row_group",
    "account_id",
    "account_name",
    "txn_type",
    "txn_id",
    "value",
    "amount",
)


def report_ddl(schema: str) -> list[sql.SQL | sql.Composed]:
    """The statements that create the report tables in `schema` (idempotent)."""
    return [
        DDL_LOCK,
        sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)),
        sql.SQL(_DDL).format(
            reports=sql.Identifier(schema, REPORTS),
            rows=sql.Identifier(schema, ROWS),
            changes=sql.Identifier(schema, CHANGES),
        ),
    ]


def ensure_report_tables(conn: psycopg.Connection, schema: str) -> None:
    """The report tables, from a synchronous connection (the views command's)."""
    with conn.transaction():
        for statement in report_ddl(schema):
            conn.execute(statement)


@dataclass(frozen=True)
class StoredPiece:
    """A stored report's period and parameters (what planning needs of it)."""

    start: date
    end: date
    params: dict[str, Any]
    payload: dict[str, Any]


class ReportStore:
    """One company's reports in the tables of one schema (identifiers quoted)."""

    def __init__(self, schema: str, realm_id: str) -> None:
        self.schema = schema
        self._realm = realm_id
        self.reports = sql.Identifier(schema, REPORTS)
        self.rows = sql.Identifier(schema, ROWS)
        self.changes = sql.Identifier(schema, CHANGES)

    async def create(self, conn: psycopg.AsyncConnection) -> None:
        """The tables, once (idempotent)."""
        async with conn.transaction():
            for statement in report_ddl(self.schema):
                await conn.execute(statement)

    async def pieces(
        self, conn: psycopg.AsyncConnection, name: str, basis: str, *, payloads: bool = True
    ) -> list[StoredPiece]:
        """Every stored period of one report and basis, in date order; without `payloads`
        each piece's payload is `{}` (planning needs only the periods, and a ledger's
        payloads are megabytes)."""
        payload = sql.SQL("payload" if payloads else "'{}'::jsonb")
        cursor = await conn.execute(
            sql.SQL(
                "SELECT period_start, period_end, params, {} FROM {} WHERE realm_id = %s"
                " AND report_name = %s AND accounting_method = %s ORDER BY period_start, period_end"
            ).format(payload, self.reports),
            (self._realm, name, basis),
        )
        return [StoredPiece(*row) for row in await cursor.fetchall()]

    async def replace_span(
        self,
        conn: psycopg.AsyncConnection,
        span: tuple[date, date],
        answers: Sequence[ReportAnswer],
        run_id: str,
        *,
        closed: bool,
        shape: dict[str, str],
    ) -> bool:
        """Store the answers that tile `span` (closed days) in place of what was stored
        there for the same report, basis and parameter shape, in one transaction; True when
        the stored report of a closed span changed (recorded in the changes table)."""
        first = answers[0].request
        async with conn.transaction():
            # Two runs storing the same report at once take turns, the later replacing.
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))",
                (f"qbo_backfill:{self.schema}:report:{self._realm}:{first.name}:{first.basis}",),
            )
            before = await self._span_payloads(conn, first.name, first.basis, span, shape)
            await conn.execute(
                sql.SQL(
                    "DELETE FROM {} WHERE realm_id = %s AND report_name = %s"
                    " AND accounting_method = %s AND period_start >= %s AND period_end <= %s"
                    " AND (params - 'start_date' - 'end_date' - 'report_date') = %s"
                ).format(self.reports),
                (self._realm, first.name, first.basis, span[0], span[1], Jsonb(shape)),
            )
            for answer in answers:
                await self._insert(conn, answer, run_id)
            after = [comparable(a.payload) for a in answers]
            changed = closed and bool(before) and _canonical(before) != _canonical(after)
            if changed:
                await self._record_change(
                    conn, first.name, first.basis, span, run_id, before, after
                )
        return changed

    async def _span_payloads(
        self,
        conn: psycopg.AsyncConnection,
        name: str,
        basis: str,
        span: tuple[date, date],
        shape: dict[str, str],
    ) -> list[dict[str, Any]]:
        cursor = await conn.execute(
            sql.SQL(
                "SELECT payload FROM {} WHERE realm_id = %s AND report_name = %s"
                " AND accounting_method = %s AND period_start >= %s AND period_end <= %s"
                " AND (params - 'start_date' - 'end_date' - 'report_date') = %s FOR UPDATE"
            ).format(self.reports),
            (self._realm, name, basis, span[0], span[1], Jsonb(shape)),
        )
        return [comparable(row[0]) for row in await cursor.fetchall()]

    async def _insert(
        self, conn: psycopg.AsyncConnection, answer: ReportAnswer, run_id: str
    ) -> None:
        request = answer.request
        cursor = await conn.execute(
            sql.SQL(
                "INSERT INTO {} (realm_id, report_name, accounting_method, period_start,"
                " period_end, params, payload, request_payload, header_time_utc, run_id)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id"
            ).format(self.reports),
            (
                self._realm,
                request.name,
                request.basis,
                request.start,
                request.end,
                Jsonb(request.params),
                Jsonb(answer.payload),
                Jsonb(request.exact(self._realm)),
                answer.header_time,
                run_id,
            ),
        )
        (report_id,) = await cursor.fetchone() or (0,)
        await self._insert_cells(conn, int(report_id), flatten_report(answer.payload))

    async def _insert_cells(
        self, conn: psycopg.AsyncConnection, report_id: int, cells: list[ReportCell]
    ) -> None:
        if not cells:
            return
        copy = sql.SQL("COPY {} ({}) FROM STDIN").format(
            self.rows, sql.SQL(", ").join(map(sql.Identifier, _ROW_COLUMNS))
        )
        async with conn.cursor() as cursor, cursor.copy(copy) as writer:
            for ordinal, cell in enumerate(cells):
                await writer.write_row(
                    (
                        report_id,
                        ordinal,
                        cell.column_index,
                        cell.column_key,
                        cell.column_title,
                        cell.column_start_date,
                        cell.column_end_date,
                        cell.section_id,
                        list(cell.row_path),
                        cell.row_kind,
                        cell.row_group,
                        cell.account_id,
                        cell.account_name,
                        cell.txn_type,
                        cell.txn_id,
                        cell.value,
                        cell.amount,
                    )
                )

    async def _record_change(
        self,
        conn: psycopg.AsyncConnection,
        name: str,
        basis: str,
        span: tuple[date, date],
        run_id: str,
        before: list[dict[str, Any]],
        after: list[dict[str, Any]],
    ) -> None:
        old, new = _summed(before), _summed(after)
        difference = {
            label: str(new.get(label, Decimal(0)) - old.get(label, Decimal(0)))
            for label in sorted({*old, *new})
            if new.get(label) != old.get(label)
        }
        await conn.execute(
            sql.SQL(
                "INSERT INTO {} (realm_id, report_name, accounting_method, period_start,"
                " period_end, run_id, totals_before, totals_after, difference, payloads_before)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            ).format(self.changes),
            (
                self._realm,
                name,
                basis,
                span[0],
                span[1],
                run_id,
                Jsonb({k: str(v) for k, v in old.items()}),
                Jsonb({k: str(v) for k, v in new.items()}),
                Jsonb(difference),
                Jsonb(before),
            ),
        )


def comparable(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload without `Header.Time`: two answers that differ only in when they were
    computed are the same report."""
    header = payload.get("Header")
    if not isinstance(header, dict):
        return payload
    return payload | {"Header": {k: v for k, v in header.items() if k != "Time"}}


def report_totals(payload: dict[str, Any]) -> dict[str, Decimal]:
    """The report's top-level lines (a section's summary, a top-level data row) by label,
    each read in its last column (the Total, or the only amount)."""
    totals: dict[str, Decimal] = {}
    rows = payload.get("Rows")
    listed = rows.get("Row") if isinstance(rows, dict) else None
    for row in listed if isinstance(listed, list) else []:
        line = row.get("Summary", row) if isinstance(row, dict) else None
        cells = line.get("ColData") if isinstance(line, dict) else None
        if not isinstance(cells, list) or len(cells) < 2:
            continue
        label = str(cells[0].get("value", "")) if isinstance(cells[0], dict) else ""
        amount = (
            parse_amount(str(cells[-1].get("value", ""))) if isinstance(cells[-1], dict) else None
        )
        if label and amount is not None:
            totals[label] = totals.get(label, Decimal(0)) + amount
    return totals


def _summed(payloads: list[dict[str, Any]]) -> dict[str, Decimal]:
    summed: dict[str, Decimal] = {}
    for payload in payloads:
        for label, amount in report_totals(payload).items():
            summed[label] = summed.get(label, Decimal(0)) + amount
    return summed


def _canonical(payloads: list[dict[str, Any]]) -> list[str]:
    """Payloads as sorted JSON texts: PostgreSQL gives a JSONB object's keys back in its own
    order, so the same report read back and served again differ only in order."""
    return sorted(json.dumps(p, sort_keys=True) for p in payloads)
