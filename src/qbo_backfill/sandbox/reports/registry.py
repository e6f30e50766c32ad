"""Which builder answers which report name, and the limits every computed answer meets."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from qbo_backfill.sandbox.company import Company
from qbo_backfill.sandbox.reports.invoice_pnl import ReportError, profit_and_loss
from qbo_backfill.sandbox.reports.limits import cap_cells, count_data_rows, gateway_timeout
from qbo_backfill.sandbox.responses import validation_fault

__all__ = ["REPORTS", "ReportLimits", "build_report"]

Builder = Callable[[Company, dict[str, str], date], dict[str, Any]]

REPORTS: dict[str, Builder] = {"ProfitAndLoss": profit_and_loss}


class ReportLimits:
    """The cell cap (cut, HTTP 200) and the dense-row limit (HTTP 504; 0 = off)."""

    def __init__(self, cell_cap: int, dense_rows: int) -> None:
        self.cell_cap = cell_cap
        self.dense_rows = dense_rows

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
        detail = f"The sandbox serves the reports {known}; not {name}"
        raise validation_fault(detail, code="4001", message="Unsupported report")
    try:
        report = builder(company, params, today)
    except ReportError as exc:
        raise validation_fault(str(exc), code="4001", message="Invalid report parameter") from None
    return limits.apply(report)
