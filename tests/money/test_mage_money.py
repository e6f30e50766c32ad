"""Mage: `qb_sync` ends with `check_money`, a money check of the months the sync touched;
a difference fails the block with the transactions named in its log."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.helpers import settings_for
from tests.money.conftest import TODAY, copied_company

from qbo_backfill.entities import resolve_entity
from qbo_backfill.integrations import mage as qbo_mage
from qbo_backfill.run.engine import BackfillOptions, backfill
from qbo_backfill.run.reportplan import open_from
from qbo_backfill.windows import ExtractWindow

pytestmark = [pytest.mark.db]

CLOSED_END = open_from(TODAY, 2)


class Lines:
    """A stand-in for Mage's block logger: keeps the finished lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, text: str) -> None:
        self.lines.append(text)

    def warning(self, text: str) -> None:
        self.lines.append(text)

    def error(self, text: str) -> None:
        self.lines.append(text)


def _closed_invoice(records: list[dict[str, Any]]) -> dict[str, Any]:
    low, high = str(CLOSED_END - timedelta(days=300)), str(CLOSED_END - timedelta(days=40))
    return sorted(
        (r for r in records if low <= r["TxnDate"] < high and Decimal(str(r["TotalAmt"])) > 0),
        key=lambda r: int(r["Id"]),
    )[0]


def test_qb_sync_checks_the_months_it_touched(
    database_url: str, tmp_path: Path, home: Path
) -> None:
    with copied_company(database_url, home, tmp_path, 2, other_records=12) as company:
        settings = settings_for(company.sandbox, database_url, company.schema, home)
        first = qbo_mage.check_money({"logger": Lines()}, settings=settings)
        assert len(first) == 24  # never checked: every month
        assert all(m["agreed"] for m in first)

        invoice = _closed_invoice(company.sandbox.records("Invoice"))
        edited = Decimal(str(invoice["TotalAmt"])) + Decimal("7.00")
        company.sandbox.update("Invoice", invoice["Id"], {"TotalAmt": float(edited)})
        qbo_mage.sync({}, settings=settings)
        qbo_mage.sync_reports({}, settings=settings)
        company.sandbox.reset_counters()
        log = Lines()
        rows = qbo_mage.check_money({"logger": log}, settings=settings)
        # From the edited invoice's month to today; only the ledgers over it asked again.
        assert rows[0]["month"] == invoice["TxnDate"][:8] + "01"
        assert all(m["agreed"] for m in rows)
        assert 0 < company.calls() <= 2 + 2
        assert any("transactions differ" in line for line in log.lines)

        # A write the source never made, in a closed month: the block fails, naming it.
        company.execute(
            "UPDATE {schema}.qb_invoice SET ingested_at_utc = now(), payload = jsonb_set("
            "payload, '{{TotalAmt}}', to_jsonb((payload->>'TotalAmt')::numeric + 1)) WHERE id = %s",
            (int(invoice["Id"]),),
        )
        log = Lines()
        with pytest.raises(qbo_mage.BlockFailed, match=f"amount Invoice {invoice['Id']}") as bad:
            qbo_mage.check_money({"logger": log}, settings=settings)
        assert bad.value.exit_code == 1
        assert any(f"amount Invoice {invoice['Id']}" in line for line in log.lines)


def test_a_partial_copy_is_checked_on_what_it_copied(
    make_sandbox: Any, database_url: str, schema: str, home: Path
) -> None:
    """As the Mage project's own pipelines leave it: invoices of 2025 only, customers and
    items; an invoice deleted at the source, then qb_sync's three blocks: the money check
    compares invoices alone and passes."""
    sb = make_sandbox(customers=40, items=12, invoices=300)
    settings = settings_for(sb, database_url, schema, home)
    window = ExtractWindow(date(2025, 1, 1), date(2026, 1, 1))
    for name, span in (("Customer", ExtractWindow.whole()), ("Item", ExtractWindow.whole())):
        assert backfill(settings, BackfillOptions((resolve_entity(name),), span)).ok
    assert backfill(settings, BackfillOptions((resolve_entity("Invoice"),), window)).ok
    victim = min(int(r["Id"]) for r in sb.records("Invoice") if r["TxnDate"] >= "2025-01-01")
    sb.delete("Invoice", victim)
    qbo_mage.sync({}, settings=settings)
    qbo_mage.sync_reports({}, settings=settings)
    log = Lines()
    rows = qbo_mage.check_money({"logger": log}, settings=settings)
    assert rows[0]["month"] == "2025-01-01"
    assert all(m["agreed"] for m in rows)
    assert sum(m["copy_count"] for m in rows) == sum(
        1 for r in sb.records("Invoice") if r["TxnDate"] >= "2025-01-01"
    )
