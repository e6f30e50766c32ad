"""The report checks of `verify --money`: every stored report's sections add up, trial
balances balance, balance sheets' assets equal liabilities plus equity; a stored cell
changed makes each fail by name (exit 1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.money.conftest import copied_company

pytestmark = [pytest.mark.db]


def test_stored_reports_add_up_and_a_changed_cell_is_named(
    database_url: str, tmp_path: Path, home: Path
) -> None:
    with copied_company(database_url, home, tmp_path, 1, other_records=8) as company:
        copied = company.cli.run("reports", "BalanceSheet", "TrialBalance")
        assert copied.returncode == 0, copied.stdout + copied.stderr
        done = company.verify()
        assert done.returncode == 0, done.stdout + done.stderr
        assert "0 report lines do not add up" in done.stdout

        # One trial balance's first debit, one cent more: debits no longer equal credits.
        company.execute(
            "UPDATE {schema}.qb_report_row SET amount = amount + 0.01 WHERE (report_id, ordinal)"
            " = (SELECT c.report_id, min(c.ordinal) FROM {schema}.qb_report_row AS c"
            " JOIN {schema}.qb_report AS r ON r.id = c.report_id"
            " WHERE r.report_name = 'TrialBalance' AND c.row_kind = 'data'"
            " AND c.column_key = 'debt_amt' AND c.amount > 0"
            " GROUP BY c.report_id ORDER BY c.report_id LIMIT 1)"
        )
        done = company.verify()
        assert done.returncode == 1
        assert "rule debits = credits" in done.stdout

        # A balance sheet's total assets, one cent more: its section and the equation fail.
        company.execute(
            "UPDATE {schema}.qb_report_row SET amount = amount + 0.01 WHERE (report_id, ordinal)"
            " = (SELECT c.report_id, min(c.ordinal) FROM {schema}.qb_report_row AS c"
            " JOIN {schema}.qb_report AS r ON r.id = c.report_id"
            " WHERE r.report_name = 'BalanceSheet' AND c.row_kind = 'summary'"
            " AND c.row_group = 'TotalAssets' AND c.amount <> 0"
            " AND NOT r.params ? 'summarize_column_by'"
            " GROUP BY c.report_id ORDER BY c.report_id LIMIT 1)"
        )
        done = company.verify()
        assert done.returncode == 1
        assert "rule assets = liabilities + equity" in done.stdout
        assert "report_name BalanceSheet" in done.stdout  # the section's sum, named
