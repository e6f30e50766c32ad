"""The money checks in the evidence: the newest `verify --money` run of each company and
basis, read from `qbo_backfill_money_checks`: its months (source against copy), the
transactions it named, its residue lines and the report checks that failed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from qbo_backfill.load.db import table_exists
from qbo_backfill.load.moneyrecord import MONEY_CHECKS

__all__ = ["MONEY_CSV_COLUMNS", "MoneyCheck", "MoneyMonthRow", "money_checks"]


@dataclass(frozen=True)
class MoneyMonthRow:
    """One month of a money check, as recorded."""

    month: date
    source_count: int
    copy_count: int
    missing: int
    extra: int
    amounts_differing: int
    dates_differing: int
    source_total: Decimal
    copy_total: Decimal
    residue: Decimal
    agreed: bool
    differences: list[dict[str, Any]]
    residue_lines: list[dict[str, Any]]


MONEY_CSV_COLUMNS = (
    "month",
    "source_count",
    "copy_count",
    "missing",
    "extra",
    "amounts_differing",
    "dates_differing",
    "source_total",
    "copy_total",
    "residue",
    "agreed",
)


@dataclass
class MoneyCheck:
    """The newest money check of one company in one basis."""

    realm_id: str
    accounting_method: str
    run_id: str
    checked_at_utc: datetime
    ok: bool
    calls: int
    checks: dict[str, Any]  # not_adding_up, open_balances, reports_failed
    months: list[MoneyMonthRow] = field(default_factory=list)

    @property
    def differences(self) -> list[dict[str, Any]]:
        return [d for m in self.months for d in m.differences]

    def as_dict(self) -> dict[str, Any]:
        return {
            "realm_id": self.realm_id,
            "basis": self.accounting_method,
            "run_id": self.run_id,
            "checked_at_utc": self.checked_at_utc,
            "ok": self.ok,
            "calls": self.calls,
            "months_agreeing": sum(m.agreed for m in self.months),
            "months": [
                {k: str(v) if isinstance(v, Decimal) else v for k, v in vars(m).items()}
                for m in self.months
            ],
            **self.checks,
        }


_NEWEST = """
SELECT DISTINCT ON (realm_id, accounting_method) realm_id, accounting_method, run_id,
       checked_at_utc, agreed AS ok, coalesce(calls, 0) AS calls, differences AS checks
FROM {table} WHERE month IS NULL
ORDER BY realm_id, accounting_method, id DESC
"""
_MONTHS = """
SELECT month, source_count, copy_count, missing, extra, amounts_differing, dates_differing,
       source_total, copy_total, residue, agreed, differences, residue_lines
FROM {table} WHERE run_id = %s AND month IS NOT NULL ORDER BY month
"""


def money_checks(conn: psycopg.Connection, schema: str) -> list[MoneyCheck]:
    """The newest money check of every company and basis; none when never run."""
    if not table_exists(conn, schema, MONEY_CHECKS):
        return []
    table = sql.Identifier(schema, MONEY_CHECKS)
    cursor = conn.cursor(row_factory=dict_row)
    found = [MoneyCheck(**row) for row in cursor.execute(sql.SQL(_NEWEST).format(table=table))]
    for check in found:
        rows = cursor.execute(sql.SQL(_MONTHS).format(table=table), (check.run_id,)).fetchall()
        check.months = [MoneyMonthRow(**row) for row in rows]
    return found
