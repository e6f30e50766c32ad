"""The command's other forms: `--basis cash`, ENTITY names beside `--money` (both checks,
one exit code), and neither (exit 2, one line, no call)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.money.conftest import copied_company

pytestmark = [pytest.mark.db]


def test_cash_basis_entities_beside_and_bad_input(
    database_url: str, tmp_path: Path, home: Path
) -> None:
    with copied_company(database_url, home, tmp_path, 1, other_records=10) as company:
        cash = company.verify("--basis", "cash")
        assert cash.returncode == 0, cash.stdout + cash.stderr
        assert "money, cash basis" in cash.stdout
        assert "0 transactions differ" in cash.stdout
        recorded = company.execute(
            "SELECT DISTINCT accounting_method FROM {schema}.qbo_backfill_money_checks"
        )
        assert recorded == [("Cash",)]
        aging = company.execute(
            "SELECT count(*) FROM {schema}.qb_report WHERE report_name LIKE 'Aged%%'"
        )
        assert aging == [(0,)]  # open balances: accrual only, not asked for in cash

        both = company.cli.run("verify", "Invoice", "Bill", "--money")
        assert both.returncode == 0, both.stdout + both.stderr
        assert "windows checked, 0 mismatched" in both.stdout
        assert "money, accrual basis" in both.stdout

        company.sandbox.reset_counters()
        neither = company.cli.run("verify")
        assert neither.returncode == 2
        assert neither.stderr.strip().splitlines() == [
            "error: name the entities to verify, or ask for --money"
        ]
        bad = company.verify("--basis", "weekly")
        assert bad.returncode == 2
        assert "Traceback" not in bad.stderr
        assert company.calls() == 0
