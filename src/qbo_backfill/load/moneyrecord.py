"""What a money check found (`MoneyResult`, per month `MoneyMonth`) and its record in
`qbo_backfill_money_checks`: every `verify --money` run recorded, one row per
(run, month) with the month's figures and the transactions it names, and one row per
run for the report checks (month NULL), so `report` can show the evidence later."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from qbo_backfill.load.db import DDL_LOCK
from qbo_backfill.load.moneychecks import ResidueLine
from qbo_backfill.load.moneytxns import Difference

__all__ = ["MONEY_CHECKS", "MoneyMonth", "MoneyRecord", "MoneyResult"]

MONEY_CHECKS = "qbo_backfill_money_checks"
NAMED_PER_MONTH = 20  # transactions named per month in the record


@dataclass
class MoneyMonth:
    """One month's figures; `agreed` when no transaction differs."""

    month: date
    source_count: int = 0
    copy_count: int = 0
    missing: int = 0
    extra: int = 0
    amounts_differing: int = 0
    dates_differing: int = 0
    source_total: Decimal = Decimal(0)
    copy_total: Decimal = Decimal(0)
    residue: Decimal = Decimal(0)

    @property
    def agreed(self) -> bool:
        return not (self.missing or self.extra or self.amounts_differing or self.dates_differing)

    def as_dict(self) -> dict[str, Any]:
        return {
            "month": str(self.month),
            "source_count": self.source_count,
            "copy_count": self.copy_count,
            "missing": self.missing,
            "extra": self.extra,
            "amounts_differing": self.amounts_differing,
            "dates_differing": self.dates_differing,
            "source_total": str(self.source_total),
            "copy_total": str(self.copy_total),
            "residue": str(self.residue),
            "agreed": self.agreed,
        }


@dataclass
class MoneyResult:
    """A money check of one company: months, the differences named, the report checks."""

    run_id: str
    realm_id: str
    basis: str
    first: date
    last: date
    months: list[MoneyMonth] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    residue: list[ResidueLine] = field(default_factory=list)
    not_adding_up: list[dict[str, Any]] = field(default_factory=list)
    open_balances: list[dict[str, Any]] = field(default_factory=list)
    reports_failed: list[str] = field(default_factory=list)
    not_copied: list[str] = field(default_factory=list)  # posting entities with no raw table
    calls: int = 0

    @property
    def ok(self) -> bool:
        return not (
            self.differences or self.not_adding_up or self.open_balances or self.reports_failed
        )


_DDL = """
CREATE TABLE IF NOT EXISTS {table} (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id text NOT NULL,
    realm_id text NOT NULL,
    accounting_method text NOT NULL,
    month date,
    source_count integer,
    copy_count integer,
    missing integer,
    extra integer,
    amounts_differing integer,
    dates_differing integer,
    source_total numeric,
    copy_total numeric,
    residue numeric,
    agreed boolean NOT NULL,
    differences jsonb NOT NULL,
    residue_lines jsonb NOT NULL,
    calls integer,
    checked_at_utc timestamptz NOT NULL DEFAULT now()
)
"""
_INSERT = """
INSERT INTO {table} (run_id, realm_id, accounting_method, month, source_count, copy_count,
    missing, extra, amounts_differing, dates_differing, source_total, copy_total, residue,
    agreed, differences, residue_lines, calls)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
"""


class MoneyRecord:
    """The money checks' table in one schema."""

    def __init__(self, schema: str) -> None:
        self.schema = schema
        self.table = sql.Identifier(schema, MONEY_CHECKS)

    async def create(self, conn: psycopg.AsyncConnection) -> None:
        async with conn.transaction():
            await conn.execute(DDL_LOCK)
            await conn.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema))
            )
            await conn.execute(sql.SQL(_DDL).format(table=self.table))

    async def last_checked(self, conn: psycopg.AsyncConnection, realm: str) -> datetime | None:
        """When the company's newest money check ran (None: never)."""
        await self.create(conn)
        cursor = await conn.execute(
            sql.SQL("SELECT max(checked_at_utc) FROM {} WHERE realm_id = %s").format(self.table),
            (realm,),
        )
        row = await cursor.fetchone()
        return row[0] if row else None

    async def record(self, conn: psycopg.AsyncConnection, result: MoneyResult) -> None:
        """One row per month and one for the report checks, in one transaction."""
        await self.create(conn)
        head = (result.run_id, result.realm_id, result.basis)
        rows: list[tuple[Any, ...]] = []
        for month in result.months:
            named = [
                d.as_dict() for d in result.differences if d.month_day.replace(day=1) == month.month
            ][:NAMED_PER_MONTH]
            lines = [r.as_dict() for r in result.residue if r.month == month.month]
            rows.append(
                (
                    *head,
                    month.month,
                    month.source_count,
                    month.copy_count,
                    month.missing,
                    month.extra,
                    month.amounts_differing,
                    month.dates_differing,
                    month.source_total,
                    month.copy_total,
                    month.residue,
                    month.agreed,
                    Jsonb(named),
                    Jsonb(lines),
                    None,
                )
            )
        checks = {
            "not_adding_up": [_plain(r) for r in result.not_adding_up],
            "open_balances": [_plain(r) for r in result.open_balances],
            "reports_failed": result.reports_failed,
        }
        rows.append((*head, None, *([None] * 9), result.ok, Jsonb(checks), Jsonb([]), result.calls))
        async with conn.transaction(), conn.cursor() as cursor:
            await cursor.executemany(sql.SQL(_INSERT).format(table=self.table), rows)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v if isinstance(v, (int, str, bool)) or v is None else str(v) for k, v in row.items()
    }
