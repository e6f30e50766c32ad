"""Payloads of odd shapes, inserted into every raw table of the copy, read through every
view without an error, and give NULL (or the one sensible reading) where they are odd."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
import pytest
from psycopg import sql
from tests.views.conftest import Copy

from qbo_backfill.views.catalog import definitions

pytestmark = pytest.mark.db

ODD: dict[int, object] = {
    # A Line that is an object, amounts as strings (one not a number), a reference without
    # `value`, an impossible date, MetaData that is not an object, flags as text.
    900001: {
        "Line": {
            "Amount": "12.50",
            "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": {"ItemRef": {"name": "no value"}, "Qty": "abc"},
        },
        "TotalAmt": "1,000.00",
        "TxnDate": "2025-02-30",
        "MetaData": "not an object",
        "CurrencyRef": "USD",
        "Active": "yes",
        "Balance": {"x": 1},
    },
    # Lines of every shape (no DetailType, a string, null, a flag as amount), a date as a
    # number, LinkedTxn an object, TaxLine a string.
    900002: {
        "Line": [{"Amount": 5}, "a string line", None, {"DetailType": None, "Amount": True}],
        "TxnDate": 20250101,
        "LinkedTxn": {"TxnId": "7", "TxnType": "Payment"},
        "TxnTaxDetail": {"TaxLine": "oops"},
    },
    # Nothing but the Id.
    900003: {},
    # No Line at all (null), times good and bad, an exponent, an address Id as a number.
    900004: {
        "Line": None,
        "MetaData": {
            "CreateTime": "2025-13-45T99:00:00Z",
            "LastUpdatedTime": "2024-02-29T10:00:00-08:00",
        },
        "TotalAmt": "1e3",
        "BillAddr": {"Id": 987654, "Line1": ["x"]},
    },
    # Not even an object.
    900005: [1, 2, 3],
}


@pytest.fixture
def odd_rows(copy: Copy, installed: str) -> Iterator[psycopg.Connection]:
    """The odd payloads in every raw table (a copy of a real row for the other columns),
    inside a transaction that is rolled back."""
    with psycopg.connect(copy.url) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = %s AND table_name LIKE 'qb\\_%%'",
            (copy.raw_schema,),
        ).fetchall()
        for (table,) in tables:
            target = sql.Identifier(copy.raw_schema, table)
            for record_id, shape in ODD.items():
                payload = {"Id": str(record_id), **shape} if isinstance(shape, dict) else shape
                conn.execute(
                    sql.SQL(
                        "INSERT INTO {t} SELECT (jsonb_populate_record(NULL::{t}, to_jsonb(x) "
                        "|| jsonb_build_object('id', %s::bigint, 'payload', %s::jsonb))).* "
                        "FROM {t} AS x LIMIT 1"
                    ).format(t=target),
                    (record_id, json.dumps(payload)),
                )
        yield conn
        conn.rollback()


def test_every_view_reads_odd_payloads(odd_rows: psycopg.Connection, installed: str) -> None:
    for definition in definitions():
        view = sql.Identifier(installed, definition.name)
        odd_rows.execute(sql.SQL("SELECT * FROM {}").format(view)).fetchall()


def test_odd_values_are_null_or_read_sensibly(odd_rows: psycopg.Connection, installed: str) -> None:
    conn = odd_rows

    def query(text: str, *params: object) -> list[tuple]:
        found = conn.execute(sql.SQL(text).format(s=sql.Identifier(installed)), params)
        return [tuple(r) for r in found.fetchall()]

    header = query(
        "SELECT total_amount, transaction_date, created_at, currency_id, balance "
        "FROM {s}.invoice WHERE id = '900001'"
    )
    assert header == [(None, None, None, None, None)]
    assert query(
        "SELECT index, amount, sales_item_item_id, sales_item_quantity, detail_type "
        "FROM {s}.invoice_line WHERE invoice_id = '900001'"
    ) == [(0, Decimal("12.50"), None, None, "SalesItemLineDetail")]
    assert query(
        "SELECT index, amount, detail_type FROM {s}.invoice_line "
        "WHERE invoice_id = '900002' ORDER BY index"
    ) == [(0, Decimal(5), None), (1, None, None), (2, None, None), (3, None, None)]
    assert query("SELECT transaction_date FROM {s}.invoice WHERE id = '900002'") == [(None,)]
    assert query(
        "SELECT index, payment_id, estimate_id FROM {s}.invoice_linked_txn "
        "WHERE invoice_id = '900002'"
    ) == [(0, "7", None)]
    assert query("SELECT count(*) FROM {s}.invoice_tax_line WHERE invoice_id = '900002'") == [(0,)]
    for record_id in ("900003", "900004", "900005"):
        assert query("SELECT count(*) FROM {s}.invoice_line WHERE invoice_id = %s", record_id) == [
            (0,)
        ]
    assert query(
        "SELECT total_amount, created_at, updated_at FROM {s}.invoice WHERE id = '900004'"
    ) == [(Decimal("1e3"), None, datetime(2024, 2, 29, 18, 0, tzinfo=UTC))]
    assert query("SELECT active FROM {s}.customer WHERE id = '900001'") == [(None,)]
    assert query("SELECT line_1 FROM {s}.address WHERE id = '987654'") == [(None,)]
    assert query("SELECT count(*) FROM {s}.invoice WHERE id LIKE '90000_'") == [(5,)]
