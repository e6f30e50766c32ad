"""Mage: `qb_sync` ends with `check_money`, a money check of the months the sync touched;
a difference fails the block with the transactions named in its log."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.helpers import settings_for
from tests.money.conftest import TODAY, copied_company

from qbo_backfill.integrations import mage as qbo_mage
from qbo_backfill.run.reportplan import open_from

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
