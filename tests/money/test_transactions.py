"""`verify --money` over a true copy of a five-year company with every entity: every month
agrees within the call goal, and a repeat costs no call for the closed months; then each
tampering of the raw tables, in its own test (and put back after it), is named in the
output with exit 1."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg import sql
from tests.money.conftest import TODAY, Company

from qbo_backfill.load.moneyrecord import MONEY_CHECKS
from qbo_backfill.run.reportplan import month_of, open_from

pytestmark = [pytest.mark.db]

CLOSED_END = open_from(TODAY, 2)  # the first open month's first day


def test_true_copy_agrees_in_every_month(company: Company) -> None:
    company.sandbox.reset_counters()
    done = company.verify()
    assert done.returncode == 0, done.stdout + done.stderr
    months = re.findall(r"^│ (\d{4}-\d{2}) │.* yes │$", done.stdout, re.M)
    assert len(months) == 60  # five years to this month, each agreeing
    assert "NO" not in done.stdout
    assert "60 of 60 months agree, 0 transactions differ" in done.stdout
    # Calls as the sandbox counted them: far under one per company-month.
    calls = company.calls()
    assert 0 < calls <= 60
    assert f"; {calls} calls" in done.stdout
    recorded = company.execute(
        "SELECT count(*) FILTER (WHERE agreed), count(*) FROM {schema}."
        + MONEY_CHECKS
        + " WHERE month IS NOT NULL"
    )
    assert recorded[0][0] == recorded[0][1] >= 60


def test_report_shows_the_money_section_in_every_format(company: Company) -> None:
    """After the true copy's check: the months, source against copy, in each format."""
    table = company.cli.run("report")
    assert table.returncode == 0, table.stdout + table.stderr
    assert "money, accrual basis (realm" in table.stdout
    assert len(re.findall(r"^│ \d{4}-\d{2} │.* yes │$", table.stdout, re.M)) == 60
    as_json = json.loads(company.cli.run("report", "--format", "json").stdout)
    [money] = as_json["money"]
    assert money["ok"] is True
    assert money["months_agreeing"] == len(money["months"]) == 60
    assert {"source_total", "copy_total", "residue"} <= set(money["months"][0])
    rows = list(
        csv.DictReader(io.StringIO(company.cli.run("report", "--format", "money-csv").stdout))
    )
    assert len(rows) == 60
    assert all(Decimal(r["source_total"]) == Decimal(r["copy_total"]) for r in rows)
    page = company.cli.run("report", "--format", "html").stdout
    assert "<h2>Money: realm" in page
    assert "every month agrees" in page
    assert page.count("<rect class='mark'") >= 120  # two bars a month


def test_a_repeat_of_closed_months_costs_no_call(company: Company) -> None:
    assert company.verify().returncode == 0  # whatever was missing, copied now
    company.sandbox.reset_counters()
    done = company.verify("--end", str(CLOSED_END))
    assert done.returncode == 0, done.stdout + done.stderr
    assert company.calls() == 0
    assert "; 0 calls" in done.stdout
    # The open months are asked for again each time: one call per detail report and month.
    company.sandbox.reset_counters()
    assert company.verify().returncode == 0
    assert company.calls() == 4


@contextmanager
def tampered(company: Company, entity: str) -> Iterator[dict[str, Any]]:
    """A live, non-zero transaction of `entity` in a closed month, its row restored after."""
    table = sql.Identifier(company.schema, f"qb_{entity.lower()}")
    with psycopg.connect(company.url, autocommit=True) as conn:
        row = conn.execute(
            sql.SQL(
                "SELECT id, payload FROM {} WHERE deleted_at_utc IS NULL"
                " AND (payload->>'TotalAmt')::numeric > 0 AND payload->>'TxnDate' < %s"
                " AND payload->>'TxnDate' >= %s ORDER BY id LIMIT 1"
            ).format(table),
            (str(CLOSED_END - timedelta(days=40)), str(CLOSED_END - timedelta(days=400))),
        ).fetchone()
        assert row is not None
        saved = sql.Identifier(company.schema, "saved_row")
        conn.execute(
            sql.SQL("CREATE TABLE {} AS SELECT * FROM {} WHERE id = %s").format(saved, table),
            (row[0],),
        )
        try:
            yield {"id": row[0], "payload": row[1], "table": table, "conn": conn}
        finally:
            conn.execute(sql.SQL("DELETE FROM {} WHERE id = %s").format(table), (row[0],))
            conn.execute(sql.SQL("INSERT INTO {} SELECT * FROM {}").format(table, saved))
            conn.execute(sql.SQL("DROP TABLE {}").format(saved))


def _named(stdout: str, kind: str, entity: str, txn_id: object) -> list[str]:
    """The lines of the differences table naming this transaction."""
    return [
        line
        for line in stdout.splitlines()
        if re.search(rf"│ {kind}\s+│ {entity}\s+│ {txn_id}\s+│", line)
    ]


def test_an_invoice_amount_changed_in_the_raw_table(company: Company) -> None:
    with tampered(company, "Invoice") as row:
        amount = row["payload"]["TotalAmt"]
        row["conn"].execute(
            sql.SQL(
                "UPDATE {} SET payload = jsonb_set(payload, '{{TotalAmt}}',"
                " to_jsonb((payload->>'TotalAmt')::numeric + 10.01)) WHERE id = %s"
            ).format(row["table"]),
            (row["id"],),
        )
        done = company.verify()
    assert done.returncode == 1
    [line] = _named(done.stdout, "amount", "Invoice", row["id"])
    assert f"{amount:.2f}" in line or str(amount) in line
    assert "1 transactions differ" in done.stdout


def test_a_bill_row_deleted_from_the_raw_table(company: Company) -> None:
    with tampered(company, "Bill") as row:
        row["conn"].execute(
            sql.SQL("DELETE FROM {} WHERE id = %s").format(row["table"]), (row["id"],)
        )
        done = company.verify()
    assert done.returncode == 1
    assert len(_named(done.stdout, "missing", "Bill", row["id"])) == 1


def test_a_payment_added_that_the_source_never_had(company: Company) -> None:
    with tampered(company, "Payment") as row:
        row["conn"].execute(
            sql.SQL(
                "INSERT INTO {table} SELECT realm_id, 990000001, jsonb_set(payload, '{{Id}}',"
                " '\"990000001\"'), ingested_at_utc, extract_window_start_utc,"
                " extract_window_end_utc, page_number, page_size, request_payload,"
                " source_last_updated_utc, run_id, deleted_at_utc FROM {table} WHERE id = %s"
            ).format(table=row["table"]),
            (row["id"],),
        )
        try:
            done = company.verify()
        finally:
            row["conn"].execute(sql.SQL("DELETE FROM {} WHERE id = 990000001").format(row["table"]))
    assert done.returncode == 1
    assert len(_named(done.stdout, "extra", "Payment", 990000001)) == 1


def test_a_deposit_dated_in_the_next_month(company: Company) -> None:
    with tampered(company, "Deposit") as row:
        day = month_of(date.fromisoformat(row["payload"]["TxnDate"]))[1]
        moved = day + timedelta(days=1)
        row["conn"].execute(
            sql.SQL(
                "UPDATE {} SET payload = jsonb_set(payload, '{{TxnDate}}', to_jsonb(%s::text))"
                " WHERE id = %s"
            ).format(row["table"]),
            (str(moved), row["id"]),
        )
        done = company.verify()
    assert done.returncode == 1
    [line] = _named(done.stdout, "date", "Deposit", row["id"])
    assert row["payload"]["TxnDate"] in line
    assert str(moved) in line
    # Both months show it: the one it left and the one it moved to.
    no = re.findall(r"^│ (\d{4}-\d{2}) │.* NO │$", done.stdout, re.M)
    assert no == [row["payload"]["TxnDate"][:7], str(moved)[:7]]


def test_a_journal_entry_marked_deleted_that_lives_at_the_source(company: Company) -> None:
    with tampered(company, "JournalEntry") as row:
        row["conn"].execute(
            sql.SQL("UPDATE {} SET deleted_at_utc = now() WHERE id = %s").format(row["table"]),
            (row["id"],),
        )
        done = company.verify()
    assert done.returncode == 1
    assert len(_named(done.stdout, "missing", "JournalEntry", row["id"])) == 1
