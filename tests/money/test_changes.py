"""Small companies: changes at the source between the copy and the check are reported
until `sync` brings them in (then the months they touched are asked for again and agree);
a month whose TransactionList Intuit cuts short is split and still compared whole."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from tests.money.conftest import TODAY, copied_company

from qbo_backfill.run.reportplan import open_from

pytestmark = [pytest.mark.db, pytest.mark.repeats_at_scale]

CLOSED_END = open_from(TODAY, 2)


def _closed_one(records: list[dict[str, object]]) -> dict[str, object]:
    """A transaction with an amount, dated in a closed month of the past year."""
    low, high = str(CLOSED_END - timedelta(days=300)), str(CLOSED_END - timedelta(days=40))
    found = [
        r
        for r in records
        if low <= str(r.get("TxnDate")) < high and Decimal(str(r.get("TotalAmt") or 0)) > 0
    ]
    return sorted(found, key=lambda r: int(str(r["Id"])))[0]


def _named(stdout: str, kind: str, entity: str, txn_id: object) -> bool:
    return bool(re.search(rf"│ {kind}\s+│ {entity}\s+│ {txn_id}\s+│", stdout))


def test_source_changes_are_differences_until_sync(
    database_url: str, tmp_path: Path, home: Path
) -> None:
    with copied_company(database_url, home, tmp_path, 2, other_records=12) as company:
        sb = company.sandbox
        invoice = _closed_one(sb.records("Invoice"))
        bill = _closed_one(sb.records("Bill"))
        payment = _closed_one(sb.records("Payment"))
        edited = Decimal(str(invoice["TotalAmt"])) + Decimal("25.00")
        sb.update("Invoice", str(invoice["Id"]), {"TotalAmt": float(edited)})
        sb.void("Bill", str(bill["Id"]))
        sb.delete("Payment", str(payment["Id"]))

        for _ in range(2):  # reported as often as asked, until sync
            done = company.verify()
            assert done.returncode == 1, done.stdout + done.stderr
            assert _named(done.stdout, "amount", "Invoice", invoice["Id"])
            assert _named(done.stdout, "extra", "Bill", bill["Id"])
            assert _named(done.stdout, "extra", "Payment", payment["Id"])
            assert "3 transactions differ" in done.stdout

        synced = company.cli.run("sync")
        assert synced.returncode == 0, synced.stdout + synced.stderr
        sb.reset_counters()
        done = company.verify()
        assert done.returncode == 0, done.stdout + done.stderr
        assert "0 transactions differ" in done.stdout


def test_changes_after_a_verify_are_asked_for_again_once_synced(
    database_url: str, tmp_path: Path, home: Path
) -> None:
    """The stored reports predate the change: once sync brings it into the copy, the months
    it touched are asked for again (the copy changed there), and agree."""
    with copied_company(database_url, home, tmp_path, 2, other_records=12) as company:
        sb = company.sandbox
        assert company.verify().returncode == 0
        deposit = _closed_one(sb.records("Deposit"))
        moved = str(CLOSED_END - timedelta(days=20))
        sb.update("Deposit", str(deposit["Id"]), {"TxnDate": moved})
        synced = company.cli.run("sync")
        assert synced.returncode == 0, synced.stdout + synced.stderr
        sb.reset_counters()
        done = company.verify("--end", str(CLOSED_END))
        assert done.returncode == 0, done.stdout + done.stderr
        # The two ledgers asked again over the stored span holding both months, nothing else.
        assert 0 < company.calls() <= 4


def test_a_month_cut_short_is_split_and_compared_whole(
    database_url: str, tmp_path: Path, home: Path
) -> None:
    with copied_company(
        database_url, home, tmp_path, 1, invoices=1500, other_records=0, report_cell_cap=600
    ) as company:
        done = company.verify()
        assert done.returncode == 0, done.stdout + done.stderr
        pieces = company.execute(
            "SELECT period_start, period_end FROM {schema}.qb_report"
            " WHERE report_name = 'TransactionList' ORDER BY 1"
        )
        # Months stored in pieces of days: no single answer held them.
        split = [p for p in pieces if p[0].day != 1 or (p[1] + timedelta(days=1)).day != 1]
        assert split
        counted = company.execute(
            "SELECT count(*) FROM {schema}.qb_invoice WHERE deleted_at_utc IS NULL"
        )[0][0]
        rows = re.findall(r"^│ \d{4}-\d{2} │\s+(\d+) │\s+(\d+) │.* yes │$", done.stdout, re.M)
        assert sum(int(c) for _, c in rows) >= counted
        assert all(s == c for s, c in rows)
