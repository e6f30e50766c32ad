"""Which builder answers which report name, and the limits every computed answer meets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from qbo_backfill.sandbox.books.model import Books
from qbo_backfill.sandbox.company import Company
from qbo_backfill.sandbox.reports import aging, cashflow, detail, summary
from qbo_backfill.sandbox.reports.limits import cap_cells, count_data_rows, gateway_timeout
from qbo_backfill.sandbox.reports.params import ReportError
from qbo_backfill.sandbox.responses import validation_fault

__all__ = ["REPORTS", "ReportLimits", "build_report"]

Builder = Callable[[Books, dict[str, str], date], dict[str, Any]]

REPORTS: dict[str, Builder] = {
    "ProfitAndLoss": summary.profit_and_loss,
    "ProfitAndLossDetail": detail.profit_and_loss_detail,
    "BalanceSheet": summary.balance_sheet,
    "TrialBalance": summary.trial_balance,
    "GeneralLedger": detail.general_ledger,
    "TransactionList": detail.transaction_list,
    "CashFlow": cashflow.cash_flow,
    "AgedReceivables": aging.aged_receivables,
    "AgedPayables": aging.aged_payables,
    "CustomerBalance": aging.customer_balance,
    "VendorBalance": aging.vendor_balance,
}


@dataclass(frozen=True)
class ReportLimits:
    """The cell cap (cut, HTTP 200) and the dense-row limit (HTTP 504; 0 = off)."""

    cell_cap: int
    dense_rows: int

    def apply(self, report: dict[str, Any]) -> dict[str, Any]:
        """The answer as QBO would send it: a 504 fault raised, or cut at the cap."""
        rows = report.get("Rows", {}).get("Row", [])
        if self.dense_rows and count_data_rows(rows) > self.dense_rows:
            raise gateway_timeout()
        cap_cells(report, self.cell_cap)
        return report


def build_report(
    company: Company, name: str, params: dict[str, str], today: date, limits: ReportLimits
) -> dict[str, Any]:
    """The report's JSON; ApiFault 400 for an unknown report or a bad parameter, 504 when
    too dense."""
    builder = REPORTS.get(name)
    if builder is None:
        known = ", ".join(sorted(REPORTS))
        why = f"The sandbox serves the reports {known}; not {name}"
        raise validation_fault(why, code="4001", message="Unsupported report")
    try:
        report = builder(company.books, params, today)
    except ReportError as exc:
        raise validation_fault(str(exc), code="4001", message="Invalid report parameter") from None
    return limits.apply(report)
