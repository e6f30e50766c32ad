"""The other checks of `verify --money`, each the SQL of its difference set, and the
residue (postings no entity carries) measured, never judged:

- reports add up: every stored report's sections equal their summaries
  (`sections_not_adding_up`), trial balances' debits equal their credits, balance sheets'
  assets equal liabilities plus equity, per column;
- open balances: the stored aging report's total against the copy's open items at its date;
- residue: per month and account, the TransactionList lines of no copied entity (an item's
  starting stock, payroll) and the general ledger's postings of sales documents on cost of
  goods sold and inventory accounts (no line of the document carries them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql

from qbo_backfill.load.moneytxns import TXN_LABELS
from qbo_backfill.load.reportstore import REPORTS, ROWS

__all__ = [
    "ResidueLine",
    "aging_fetched_at",
    "balances_not_equal",
    "open_balance_differences",
    "residue",
]


@dataclass(frozen=True)
class ResidueLine:
    """Postings no copied entity carries, in one month on one account."""

    month: date
    source: str  # what shows them: the report and the transaction type
    account: str
    amount: Decimal
    lines: int
    counterpart: bool = False  # the stock side of a cost line: shown, not summed per month

    def as_dict(self) -> dict[str, Any]:
        return {
            "month": str(self.month),
            "source": self.source,
            "account": self.account,
            "amount": str(self.amount),
            "lines": self.lines,
            "counterpart": self.counterpart,
        }


_ROWS_OF = """
SELECT c.report_id, c.ordinal - c.column_index AS line, max(c.txn_type) AS label,
       max(c.account_id) AS account_id, max(c.account_name) AS account_name,
       max(c.value) FILTER (WHERE c.column_key = 'tx_date') AS txn_date,
       max(c.value) FILTER (WHERE c.column_key IN ('account_name', 'account')) AS account_cell,
       sum(c.amount) FILTER (WHERE c.column_key = 'subt_nat_amount') AS amount
FROM {rows} AS c JOIN {reports} AS r ON r.id = c.report_id
WHERE r.realm_id = %(realm)s AND r.report_name = {report} AND r.accounting_method = %(basis)s
  AND r.params - 'start_date' - 'end_date' - 'accounting_method' = '{{}}'::jsonb
  AND r.period_start <= %(last)s AND r.period_end >= %(first)s AND c.row_kind = 'data'
GROUP BY c.report_id, c.ordinal - c.column_index
"""

_RESIDUE = """
WITH labels (label) AS (VALUES {labels}),
tl AS ({tl}),
gl AS ({gl}),
sales_labels (label) AS (VALUES ('Invoice'), ('Sales Receipt'), ('Credit Memo'),
    ('Refund Receipt'), ('Refund')),
stock_accounts AS ({stock}),
lines AS (
    SELECT 'TransactionList: ' || label AS source,
           coalesce(nullif(account_cell, ''), account_name, '') AS account, txn_date, amount,
           false AS counterpart
    FROM tl WHERE label IS NOT NULL AND label NOT IN (SELECT label FROM labels)
    UNION ALL
    SELECT 'GeneralLedger: ' || gl.label, coalesce(gl.account_name, gl.account_id),
           gl.txn_date, gl.amount, NOT a.cost
    FROM gl JOIN stock_accounts AS a ON a.id = gl.account_id
    WHERE gl.label IN (SELECT label FROM sales_labels)
)
SELECT date_trunc('month', txn_date::date)::date AS month, source, account,
       sum(coalesce(amount, 0)), count(*), counterpart
FROM lines
WHERE txn_date ~ '^\\d{{4}}-\\d{{2}}-\\d{{2}}$' AND txn_date::date BETWEEN %(first)s AND %(last)s
GROUP BY 1, 2, 3, 6 ORDER BY 1, 2, 3
"""

_STOCK = """
SELECT id::text, payload->>'AccountType' = 'Cost of Goods Sold' AS cost
FROM {accounts} WHERE realm_id = %(realm)s
  AND (payload->>'AccountType' = 'Cost of Goods Sold' OR payload->>'AccountSubType' = 'Inventory')
"""


async def residue(
    conn: psycopg.AsyncConnection, schema: str, scope: tuple[str, str, date, date]
) -> list[ResidueLine]:
    """The residue lines of the range, per month, source and account."""
    realm, basis, first, last = scope
    names = {"reports": sql.Identifier(schema, REPORTS), "rows": sql.Identifier(schema, ROWS)}
    accounts = await _exists(conn, schema, "qb_account")
    stock = (
        sql.SQL(_STOCK).format(accounts=sql.Identifier(schema, "qb_account"))
        if accounts
        else sql.SQL("SELECT NULL::text AS id, false AS cost WHERE false")
    )
    query = sql.SQL(_RESIDUE).format(
        labels=sql.SQL(", ").join(sql.SQL("({})").format(sql.Literal(x)) for x, _ in TXN_LABELS),
        tl=sql.SQL(_ROWS_OF).format(report=sql.Literal("TransactionList"), **names),
        gl=sql.SQL(_ROWS_OF).format(report=sql.Literal("GeneralLedger"), **names),
        stock=stock,
    )
    params = {"realm": realm, "basis": basis, "first": first, "last": last}
    cursor = await conn.execute(query, params)
    return [ResidueLine(*row) for row in await cursor.fetchall()]


# Trial balances whose debits are not their credits, balance sheets whose assets are not
# liabilities plus equity, per column.
_BALANCES = """
WITH tb AS (
    SELECT c.report_id, 'debits = credits' AS rule, 0 AS column_index,
           sum(c.amount) FILTER (WHERE c.column_key = 'debt_amt') AS left_side,
           sum(c.amount) FILTER (WHERE c.column_key = 'credit_amt') AS right_side
    FROM {rows} AS c JOIN {reports} AS r ON r.id = c.report_id
    WHERE r.realm_id = %(realm)s AND r.report_name = 'TrialBalance' AND c.row_kind = 'data'
    GROUP BY c.report_id
),
bs AS (
    SELECT c.report_id, 'assets = liabilities + equity' AS rule, c.column_index,
           sum(c.amount) FILTER (WHERE c.row_group = 'TotalAssets') AS left_side,
           sum(c.amount) FILTER (WHERE c.row_group = 'TotalLiabilitiesAndEquity') AS right_side
    FROM {rows} AS c JOIN {reports} AS r ON r.id = c.report_id
    WHERE r.realm_id = %(realm)s AND r.report_name = 'BalanceSheet' AND c.row_kind = 'summary'
      AND c.row_group IN ('TotalAssets', 'TotalLiabilitiesAndEquity')
    GROUP BY c.report_id, c.column_index
)
SELECT r.report_name, r.accounting_method, r.period_start, r.period_end, x.rule,
       x.column_index, coalesce(x.left_side, 0), coalesce(x.right_side, 0)
FROM (SELECT * FROM tb UNION ALL SELECT * FROM bs) AS x JOIN {reports} AS r ON r.id = x.report_id
WHERE coalesce(x.left_side, 0) <> coalesce(x.right_side, 0)
ORDER BY 1, 2, 3, 6
"""


async def balances_not_equal(
    conn: psycopg.AsyncConnection, schema: str, realm: str
) -> list[dict[str, Any]]:
    """Stored trial balances and balance sheets of the company that do not balance."""
    query = sql.SQL(_BALANCES).format(
        reports=sql.Identifier(schema, REPORTS), rows=sql.Identifier(schema, ROWS)
    )
    cursor = await conn.execute(query, {"realm": realm})
    keys = ("report", "basis", "period_start", "period_end", "rule", "column", "left", "right")
    return [dict(zip(keys, row, strict=True)) for row in await cursor.fetchall()]


# The newest stored aging report's TOTAL against the copy's open items at its date.
_AGING = """
WITH aging AS (
    SELECT DISTINCT ON (r.report_name) r.id, r.report_name, r.period_end AS as_of
    FROM {reports} AS r
    WHERE r.realm_id = %(realm)s AND r.report_name = %(report)s
      AND r.params - 'report_date' - 'start_date' - 'end_date' - 'accounting_method'
          = '{{}}'::jsonb
    ORDER BY r.report_name, r.period_end DESC, r.ingested_at_utc DESC
),
source AS (
    SELECT a.report_name, a.as_of, sum(c.amount) AS total FROM aging AS a
    JOIN {rows} AS c ON c.report_id = a.id
    WHERE c.row_kind = 'summary' AND c.row_group = 'GrandTotal'
      AND c.column_index = (SELECT max(column_index) FROM {rows} WHERE report_id = a.id)
    GROUP BY 1, 2
),
open_items AS ({items})
SELECT s.report_name, s.as_of, s.total, coalesce(sum(o.amount), 0)
FROM source AS s LEFT JOIN open_items AS o ON o.txn_date <= s.as_of
GROUP BY 1, 2, 3 HAVING s.total <> coalesce(sum(o.amount), 0)
"""

_ITEM = """
SELECT (payload->>'TxnDate')::date AS txn_date, {sign} * ({amount}) AS amount FROM {table}
WHERE realm_id = %(realm)s AND deleted_at_utc IS NULL
"""
# What each side's open items are made of at a date: the documents' totals dated up to it,
# less the credits' and the payments' (each payment takes from A/R or A/P what it brings,
# whichever document it settles; a payment dated before its invoice is a credit until the
# invoice's date, as QBO ages it). `Balance` fields are not used: they count every
# payment, whatever its date, while the aging is as of its report date.
OPEN_ITEMS = {
    "AgedReceivables": (("Invoice", 1), ("CreditMemo", -1), ("Payment", -1)),
    "AgedPayables": (("Bill", 1), ("VendorCredit", -1), ("BillPayment", -1)),
}
_TOTAL = "coalesce((payload->>'TotalAmt')::numeric, 0)"


async def open_balance_differences(
    conn: psycopg.AsyncConnection, schema: str, realm: str, report: str
) -> list[dict[str, Any]]:
    """The aging report's total against the copy's open items, when they differ."""
    if not await _exists(conn, schema, REPORTS):
        return []
    parts = [
        sql.SQL(_ITEM).format(
            sign=sql.Literal(sign),
            amount=sql.SQL(_TOTAL),
            table=sql.Identifier(schema, f"qb_{entity.lower()}"),
        )
        for entity, sign in OPEN_ITEMS[report]
        if await _exists(conn, schema, f"qb_{entity.lower()}")
    ]
    items = (
        sql.SQL(" UNION ALL ").join(parts)
        if parts
        else sql.SQL("SELECT NULL::date AS txn_date, 0::numeric AS amount WHERE false")
    )
    query = sql.SQL(_AGING).format(
        reports=sql.Identifier(schema, REPORTS), rows=sql.Identifier(schema, ROWS), items=items
    )
    cursor = await conn.execute(query, {"realm": realm, "report": report})
    keys = ("report", "as_of", "source_total", "copy_total")
    return [dict(zip(keys, row, strict=True)) for row in await cursor.fetchall()]


async def _exists(conn: psycopg.AsyncConnection, schema: str, table: str) -> bool:
    row = await (
        await conn.execute("SELECT to_regclass(%s)", (f'"{schema}"."{table}"',))
    ).fetchone()
    return row is not None and row[0] is not None


async def aging_fetched_at(
    conn: psycopg.AsyncConnection, schema: str, which: tuple[str, str, str], day: date
) -> datetime | None:
    """When the aging report `which` (realm, report, basis) as of `day` was stored."""
    if not await _exists(conn, schema, REPORTS):
        return None
    cursor = await conn.execute(
        sql.SQL(
            "SELECT max(ingested_at_utc) FROM {} WHERE realm_id = %s AND report_name = %s"
            " AND accounting_method = %s AND period_start = %s AND period_end = %s"
        ).format(sql.Identifier(schema, REPORTS)),
        (*which, day, day),
    )
    row = await cursor.fetchone()
    return row[0] if row else None
