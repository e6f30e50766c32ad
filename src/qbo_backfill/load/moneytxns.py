"""The transaction check of `verify --money` as the SQL of its difference set: Intuit's
TransactionList, as stored, against the copy's live transactions, one row per transaction
that disagrees (missing from the copy, extra in it, another amount, another date).

Each source transaction is one Data row of a stored TransactionList (default columns,
one basis); its cells share the row's first ordinal (`ordinal - column_index`). The copy's
transaction is the raw record: `TotalAmt` (`Amount` where the entity has none), `TxnDate`,
`DocNumber`, live unless `deleted_at_utc` is set. Types join through `TXN_LABELS`, the
words QBO prints for each entity (docs/reconciliation.md). Only the entities copied (those
with a raw table) are compared: a report's lines of an entity never copied are not missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql

from qbo_backfill.load.reportstore import REPORTS, ROWS

__all__ = [
    "ACCRUAL_ONLY",
    "POSTING_ENTITIES",
    "TXN_LABELS",
    "Difference",
    "copy_table_exists",
    "differences",
    "month_counts",
    "months_changed_since",
    "shown",
]

# What QBO prints in a detail report's Transaction Type column -> the entity copied.
TXN_LABELS: tuple[tuple[str, str], ...] = (
    ("Invoice", "Invoice"),
    ("Sales Receipt", "SalesReceipt"),
    ("Credit Memo", "CreditMemo"),
    ("Refund Receipt", "RefundReceipt"),
    ("Refund", "RefundReceipt"),
    ("Payment", "Payment"),
    ("Receive Payment", "Payment"),
    ("Deposit", "Deposit"),
    ("Bill", "Bill"),
    ("Vendor Credit", "VendorCredit"),
    ("Bill Payment (Check)", "BillPayment"),
    ("Bill Payment (Credit Card)", "BillPayment"),
    ("Expense", "Purchase"),
    ("Check", "Purchase"),
    ("Cash Expense", "Purchase"),
    ("Credit Card Expense", "Purchase"),
    ("Credit Card Credit", "Purchase"),
    ("Journal Entry", "JournalEntry"),
    ("Transfer", "Transfer"),
    ("Credit Card Payment", "CreditCardPayment"),
    ("Credit Card Pmt", "CreditCardPayment"),
)
POSTING_ENTITIES = tuple(sorted({entity for _, entity in TXN_LABELS}))
# On the cash basis these post nothing of their own (their income or expense comes with the
# payment), so the report lists them only when they move stock: absent, they are not extra.
ACCRUAL_ONLY = ("Invoice", "CreditMemo", "Bill", "VendorCredit")


@dataclass(frozen=True)
class Difference:
    """One transaction the two sides disagree on; `kind` is missing, extra, amount or date."""

    kind: str
    entity: str
    txn_id: str
    doc_number: str | None
    source_date: date | None
    copy_date: date | None
    source_amount: Decimal | None
    copy_amount: Decimal | None

    @property
    def month_day(self) -> date:
        """The day whose month shows it: the source's, else the copy's."""
        return self.source_date or self.copy_date or date.min

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "type": self.entity,
            "id": self.txn_id,
            "number": self.doc_number,
            "source_date": str(self.source_date) if self.source_date else None,
            "copy_date": str(self.copy_date) if self.copy_date else None,
            "source_amount": shown(self.source_amount),
            "copy_amount": shown(self.copy_amount),
        }


def shown(amount: Decimal | None) -> str | None:
    """An amount as text, with two decimals when that is exact (`12.5` -> `12.50`); never
    rounded: a third decimal stays."""
    if amount is None:
        return None
    cents = amount.quantize(Decimal("0.01"))
    return str(cents if cents == amount else amount)


# The stored TransactionList periods of one basis that overlap the range, default columns.
_SOURCE = """
source_reports AS (
    SELECT id FROM {reports}
    WHERE realm_id = %(realm)s AND report_name = 'TransactionList'
      AND accounting_method = %(basis)s
      AND params - 'start_date' - 'end_date' - 'accounting_method' = '{{}}'::jsonb
      AND period_start <= %(last)s AND period_end >= %(first)s
),
source_rows AS (
    SELECT max(c.txn_type) AS label, max(c.txn_id) AS txn_id,
           max(c.value) FILTER (WHERE c.column_key = 'tx_date') AS txn_date,
           max(c.value) FILTER (WHERE c.column_key = 'doc_num') AS doc_number,
           sum(c.amount) FILTER (WHERE c.column_key = 'subt_nat_amount') AS amount
    FROM {rows} AS c JOIN source_reports AS r ON r.id = c.report_id
    WHERE c.row_kind = 'data'
    GROUP BY c.report_id, c.ordinal - c.column_index
),
labels (label, entity) AS (VALUES {labels}),
source AS (
    SELECT l.entity, s.label, s.txn_id, s.txn_date::date AS txn_date, s.doc_number,
           coalesce(s.amount, 0) AS amount
    FROM source_rows AS s LEFT JOIN labels AS l USING (label)
    WHERE s.txn_date ~ '^\\d{{4}}-\\d{{2}}-\\d{{2}}$'
      AND s.txn_date::date BETWEEN %(first)s AND %(last)s
)"""

_COPY_ONE = """
SELECT {entity} AS entity, t.id::text AS txn_id, (t.payload->>'TxnDate')::date AS txn_date,
       t.payload->>'DocNumber' AS doc_number,
       coalesce((t.payload->>'TotalAmt')::numeric, (t.payload->>'Amount')::numeric, 0) AS amount,
       t.deleted_at_utc IS NULL AS live
FROM {table} AS t
WHERE t.realm_id = %(realm)s AND t.payload->>'TxnDate' BETWEEN %(first_text)s AND %(last_text)s
"""

# The difference set: no rows is the pass.
_DIFFERENCES = """
WITH {source},
copy AS ({copy}),
joined AS (
    SELECT coalesce(s.entity, c.entity) AS entity, coalesce(s.txn_id, c.txn_id) AS txn_id,
           coalesce(c.doc_number, s.doc_number) AS doc_number,
           s.txn_date AS source_date, c.txn_date AS copy_date,
           s.amount AS source_amount, c.amount AS copy_amount
    FROM (SELECT * FROM source WHERE entity = ANY(%(copied)s)) AS s
    FULL JOIN (SELECT * FROM copy WHERE live) AS c USING (entity, txn_id)
)
SELECT CASE WHEN copy_date IS NULL THEN 'missing' WHEN source_date IS NULL THEN 'extra'
            WHEN source_amount <> copy_amount THEN 'amount' ELSE 'date' END AS kind,
       entity, txn_id, doc_number, source_date, copy_date, source_amount, copy_amount
FROM joined
WHERE (source_date IS NULL AND copy_amount <> 0 AND NOT (entity = ANY(%(quiet)s)))
   OR copy_date IS NULL
   OR source_amount <> copy_amount OR source_date <> copy_date
ORDER BY coalesce(source_date, copy_date), entity, txn_id
"""

# Per month: transactions and totals on each side (entities only; residue apart).
_MONTHS = """
WITH {source},
copy AS ({copy}),
s AS (SELECT date_trunc('month', txn_date)::date AS month, count(*) AS n, sum(amount) AS total
      FROM source WHERE entity = ANY(%(copied)s) GROUP BY 1),
c AS (SELECT date_trunc('month', txn_date)::date AS month, count(*) AS n, sum(amount) AS total
      FROM copy WHERE live AND ((entity, txn_id) IN (SELECT entity, txn_id FROM source)
          OR (amount <> 0 AND NOT (entity = ANY(%(quiet)s)))) GROUP BY 1)
SELECT month, coalesce(s.n, 0), coalesce(c.n, 0), coalesce(s.total, 0), coalesce(c.total, 0)
FROM s FULL JOIN c USING (month) ORDER BY month
"""


def _labels() -> sql.Composable:
    return sql.SQL(", ").join(
        sql.SQL("({}, {})").format(sql.Literal(label), sql.Literal(entity))
        for label, entity in TXN_LABELS
    )


def _source(schema: str) -> sql.Composable:
    return sql.SQL(_SOURCE).format(
        reports=sql.Identifier(schema, REPORTS),
        rows=sql.Identifier(schema, ROWS),
        labels=_labels(),
    )


def _copy(schema: str, entities: list[str]) -> sql.Composable:
    if not entities:
        return sql.SQL(
            "SELECT NULL::text AS entity, NULL::text AS txn_id, NULL::date AS txn_date,"
            " NULL::text AS doc_number, NULL::numeric AS amount, false AS live WHERE false"
        )
    return sql.SQL(" UNION ALL ").join(
        sql.SQL(_COPY_ONE).format(
            entity=sql.Literal(name), table=sql.Identifier(schema, f"qb_{name.lower()}")
        )
        for name in entities
    )


def _params(copied: list[str], realm: str, basis: str, first: date, last: date) -> dict[str, Any]:
    quiet = list(ACCRUAL_ONLY) if basis == "Cash" else []
    return {
        "copied": copied,
        "realm": realm,
        "basis": basis,
        "first": first,
        "last": last,
        "first_text": first.isoformat(),
        "last_text": last.isoformat() + "~",  # any time suffix on the last day included
        "quiet": quiet,
    }


async def copy_table_exists(conn: psycopg.AsyncConnection, schema: str, entity: str) -> bool:
    row = await (
        await conn.execute("SELECT to_regclass(%s)", (f'"{schema}"."qb_{entity.lower()}"',))
    ).fetchone()
    return row is not None and row[0] is not None


async def differences(
    conn: psycopg.AsyncConnection,
    schema: str,
    copied: list[str],
    scope: tuple[str, str, date, date],
) -> list[Difference]:
    """Every transaction of `[first, last]` (both included) the two sides disagree on."""
    query = sql.SQL(_DIFFERENCES).format(source=_source(schema), copy=_copy(schema, copied))
    cursor = await conn.execute(query, _params(copied, *scope))
    return [Difference(*row) for row in await cursor.fetchall()]


async def month_counts(
    conn: psycopg.AsyncConnection,
    schema: str,
    copied: list[str],
    scope: tuple[str, str, date, date],
) -> dict[date, tuple[int, int, Decimal, Decimal]]:
    """Per month: transactions at the source and in the copy, and their totals."""
    query = sql.SQL(_MONTHS).format(source=_source(schema), copy=_copy(schema, copied))
    cursor = await conn.execute(query, _params(copied, *scope))
    return {row[0]: (int(row[1]), int(row[2]), row[3], row[4]) for row in await cursor.fetchall()}


# Months whose stored report is older than a change to the copy there: the copy's rows
# changed (or deleted) after the report covering their date was fetched, in their month
# now and in the month the report shows them in (a date moved by a sync).
_CHANGED = """
WITH labels (label, entity) AS (VALUES {labels}),
pieces AS (
    SELECT id, period_start, period_end, ingested_at_utc FROM {reports}
    WHERE realm_id = %(realm)s AND report_name = %(report)s AND accounting_method = %(basis)s
      AND params - 'start_date' - 'end_date' - 'accounting_method' = '{{}}'::jsonb
),
changed AS (
    SELECT c.entity, c.txn_id, c.txn_date FROM ({copy}) AS c
    JOIN pieces AS p ON c.txn_date BETWEEN p.period_start AND p.period_end
    WHERE c.changed_at > p.ingested_at_utc
),
shown AS (
    SELECT max(r.value) FILTER (WHERE r.column_key = 'tx_date') AS txn_date
    FROM {rows} AS r JOIN pieces AS p ON p.id = r.report_id
    JOIN labels AS l ON l.label = r.txn_type
    WHERE r.row_kind = 'data' AND (l.entity, r.txn_id) IN (SELECT entity, txn_id FROM changed)
    GROUP BY r.report_id, r.ordinal - r.column_index
)
SELECT DISTINCT date_trunc('month', d)::date FROM (
    SELECT txn_date AS d FROM changed
    UNION ALL
    SELECT txn_date::date FROM shown WHERE txn_date ~ '^\\d{{4}}-\\d{{2}}-\\d{{2}}$'
) AS days
"""

_CHANGED_ONE = """
SELECT {entity} AS entity, t.id::text AS txn_id, (t.payload->>'TxnDate')::date AS txn_date,
       greatest(t.ingested_at_utc, t.deleted_at_utc) AS changed_at
FROM {table} AS t WHERE t.realm_id = %(realm)s AND t.payload->>'TxnDate' ~ '^\\d{{4}}-'
"""


async def changed_months(
    conn: psycopg.AsyncConnection,
    schema: str,
    copied: list[str],
    which: tuple[str, str, str],
) -> set[date]:
    """The months (their first days) whose stored report is older than the copy there;
    `which` is (realm, basis, report)."""
    if not copied:
        return set()
    copy = sql.SQL(" UNION ALL ").join(
        sql.SQL(_CHANGED_ONE).format(
            entity=sql.Literal(name), table=sql.Identifier(schema, f"qb_{name.lower()}")
        )
        for name in copied
    )
    query = sql.SQL(_CHANGED).format(
        labels=_labels(),
        reports=sql.Identifier(schema, REPORTS),
        rows=sql.Identifier(schema, ROWS),
        copy=copy,
    )
    realm, basis, report = which
    params = {"realm": realm, "basis": basis, "report": report}
    cursor = await conn.execute(query, params)
    return {row[0] for row in await cursor.fetchall()}


async def months_changed_since(
    conn: psycopg.AsyncConnection,
    schema: str,
    copied: list[str],
    realm: str,
    since: datetime,
) -> list[date]:
    """The months (first days) of the copy's transactions written or deleted after `since`:
    what a sync touched since the last money check."""
    if not copied:
        return []
    parts = sql.SQL(" UNION ALL ").join(
        sql.SQL(_CHANGED_ONE).format(
            entity=sql.Literal(name), table=sql.Identifier(schema, f"qb_{name.lower()}")
        )
        for name in copied
    )
    query = sql.SQL(
        "SELECT DISTINCT date_trunc('month', txn_date)::date FROM ({}) AS c"
        " WHERE c.changed_at > %(since)s ORDER BY 1"
    ).format(parts)
    cursor = await conn.execute(query, {"realm": realm, "since": since})
    return [row[0] for row in await cursor.fetchall()]
