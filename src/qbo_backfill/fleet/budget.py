"""The month's API calls per app, counted in the database, against QBO_MONTHLY_CALL_BUDGET.

Intuit meters read calls per app and month (500,000 on the builder tier). Every fleet job
adds the calls it spent to its app's row for the current UTC month, in the transaction that
records its chunk, so a chunk's calls are counted with it, once. A job that is killed
before it commits leaves its calls uncounted: the figure can run slightly under, never over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import psycopg
from psycopg import sql

from qbo_backfill.errors import BackfillError

__all__ = ["CALLS_TABLE", "BudgetReached", "CallBudget", "month_of", "next_month"]

CALLS_TABLE = "qbo_backfill_api_calls"


class BudgetReached(BackfillError):
    """The month's API calls reached QBO_MONTHLY_CALL_BUDGET: no new work starts."""


def month_of(moment: datetime | None = None) -> date:
    """The first day of the UTC month of `moment` (now by default)."""
    moment = moment or datetime.now(UTC)
    return date(moment.year, moment.month, 1)


def next_month(moment: datetime | None = None) -> datetime:
    """When the next UTC month begins: when a reached budget opens again."""
    month = month_of(moment)
    year, number = (month.year + 1, 1) if month.month == 12 else (month.year, month.month + 1)
    return datetime(year, number, 1, tzinfo=UTC)


@dataclass(frozen=True)
class CallBudget:
    """One app's monthly call counter in one schema."""

    schema: str
    app: str  # the QBO client id: Intuit meters per app
    limit: int | None

    @property
    def table(self) -> sql.Identifier:
        return sql.Identifier(self.schema, CALLS_TABLE)

    async def create(self, conn: psycopg.AsyncConnection) -> None:
        await conn.execute(sql.SQL(_DDL).format(table=self.table))

    async def add(self, conn: psycopg.AsyncConnection, calls: int) -> None:
        """Count `calls` for this month (in the caller's transaction, when one is open)."""
        if calls <= 0:
            return
        await conn.execute(sql.SQL(_ADD).format(table=self.table), (month_of(), self.app, calls))

    async def spent(self, conn: psycopg.AsyncConnection) -> int:
        cursor = await conn.execute(
            sql.SQL("SELECT calls FROM {} WHERE month = %s AND app = %s").format(self.table),
            (month_of(), self.app),
        )
        row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def check(self, conn: psycopg.AsyncConnection) -> None:
        """Raise BudgetReached when this month's calls are at or over the limit."""
        if self.limit is None:
            return
        spent = await self.spent(conn)
        if spent >= self.limit:
            raise BudgetReached(self.reached_line(spent))

    def reached_line(self, spent: int) -> str:
        opens = next_month().date().isoformat()
        return (
            f"monthly API call budget reached: {spent} of {self.limit} calls in "
            f"{month_of():%Y-%m} (QBO_MONTHLY_CALL_BUDGET); no new work starts until {opens}"
        )


_DDL = """
CREATE TABLE IF NOT EXISTS {table} (
    month DATE NOT NULL,
    app TEXT NOT NULL,
    calls BIGINT NOT NULL DEFAULT 0,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (month, app)
)
"""
_ADD = """
INSERT INTO {table} (month, app, calls) VALUES (%s, %s, %s)
ON CONFLICT (month, app) DO UPDATE SET calls = {table}.calls + EXCLUDED.calls, updated_at = now()
"""
