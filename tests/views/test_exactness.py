"""Per view, against the copied sandbox company: the rows are the records (live and
deleted) or their lines, every money column equals the payload's number, every reference
id the payload's `value`. Generated from the declarations: one test per view."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg import sql
from tests.views import oracle
from tests.views.conftest import Copy

from qbo_backfill.views.catalog import SPECS
from qbo_backfill.views.model import ColumnType, ViewSpec

pytestmark = pytest.mark.db


def _checked(spec: ViewSpec) -> list[tuple[str, str, ColumnType]]:
    """The money and reference columns: numeric ones, and text ones read from a `value`,
    an `Id` or a `TxnId`."""
    return [
        (c.name, c.path, c.type)
        for c in spec.columns
        if c.type is ColumnType.NUMERIC
        or (c.type is ColumnType.TEXT and c.path.split("|")[0].endswith(("value", "Id")))
    ]


def _raw(copy: Copy, spec: ViewSpec) -> list[tuple[str, Any]]:
    """Every row of the entity's raw table (none when it was not copied: its view is empty)."""
    table = sql.Identifier(copy.raw_schema, spec.entity.table_name)
    with psycopg.connect(copy.url) as conn:
        exists = conn.execute("SELECT to_regclass(%s)", (table.as_string(conn),)).fetchone()
        if not exists or exists[0] is None:
            return []
        found = conn.execute(
            sql.SQL("SELECT id::text, payload::text FROM {}").format(table)
        ).fetchall()
    return [(row[0], oracle.load(row[1])) for row in found]


def _view(copy: Copy, schema: str, spec: ViewSpec, names: list[str]) -> dict[tuple, tuple]:
    keys = [sql.Identifier(k) for k in spec.key_names]
    query = sql.SQL("SELECT {} FROM {}").format(
        sql.SQL(", ").join([*keys, *(sql.Identifier(n) for n in names)]),
        sql.Identifier(schema, spec.name),
    )
    with psycopg.connect(copy.url) as conn:
        found = conn.execute(query).fetchall()
    width = len(keys)
    return {tuple(row[:width]): tuple(row[width:]) for row in found}


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_view_is_exact(copy: Copy, installed: str, spec: ViewSpec) -> None:
    checked = _checked(spec)
    expected: dict[tuple, list[Any]] = {}
    for record_id, payload in _raw(copy, spec):
        expected |= oracle.rows(spec, record_id, payload)
    got = _view(copy, installed, spec, [name for name, _, _ in checked])
    assert set(got) == set(expected), spec.name
    for key, chain in expected.items():
        for (name, path, kind), actual in zip(checked, got[key], strict=True):
            node = oracle.value(chain, path)
            want = oracle.number(node) if kind is ColumnType.NUMERIC else oracle.text(node)
            assert actual == want, (spec.name, key, name)
            if isinstance(actual, Decimal):
                assert isinstance(want, Decimal)


def test_the_copy_has_what_the_checks_need(copy: Copy, installed: str) -> None:
    """The exactness tests prove something only where there are rows: the views that
    dbt_quickbooks reads first are not empty on this company."""
    with psycopg.connect(copy.url) as conn:
        for name in (
            "invoice_line",
            "bill_line",
            "journal_entry_line",
            "payment_line",
            "deposit_line",
            "address",
            "account",
        ):
            count = conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(installed, name))
            ).fetchone()
            assert count is not None
            assert count[0] > 0, name


def _money_and_references(node: Any, prefix: str = "") -> set[str]:
    """Paths of the numbers and references (`{"value": ..}`) in an object and in the
    objects it holds (not in its arrays: those are views of their own)."""
    found: set[str] = set()
    if not isinstance(node, dict):
        return found
    for key, item in node.items():
        path = f"{prefix}{key}"
        if isinstance(item, Decimal) or (isinstance(item, dict) and "value" in item):
            found.add(f"{path}.value" if isinstance(item, dict) else path)
        elif isinstance(item, dict):
            found |= _money_and_references(item, f"{path}.")
    return found


# What the sandbox sends that no column holds: an employee's `HourlyRate` is not among
# the fields Intuit documents for Employee (`BillRate`, `CostRate` are, and are read).
UNMAPPED: dict[str, set[str]] = {"Employee": {"HourlyRate"}}


@pytest.mark.parametrize("spec", [s for s in SPECS if s.where is None], ids=lambda s: s.name)
def test_every_number_and_reference_sent_is_read(copy: Copy, spec: ViewSpec) -> None:
    """A misspelt path reads NULL in the view and in the oracle alike; this catches it:
    every number and reference the sandbox sends in the view's rows is read by a column
    (or named above as unmapped)."""
    declared = {c.path.split("|")[0] for c in spec.columns} | {"Id"}
    sent: set[str] = set()
    for record_id, payload in _raw(copy, spec):
        for chain in oracle.rows(spec, record_id, payload).values():
            sent |= _money_and_references(chain[-1])
    nested = {level.path.split(".")[0] for level in spec.levels}
    arrays = {p for p in sent if p.split(".")[0] in nested}
    missing = sent - declared - arrays - UNMAPPED.get(spec.entity.name, set())
    if spec.levels:
        missing = {p for p in missing if not p.startswith(("LinkedTxn", "GroupLineDetail.Line"))}
    assert not missing, (spec.name, sorted(missing))
