"""One report request (`GET /v3/company/{realm}/reports/{Name}`) and its answer, read for
what matters before it is stored: was it cut short?

QBO's rules (QBO_API.md, "Reports"): no paging; too large an answer is still HTTP 200 and
ends with a row reading "Unable to display more data. Please reduce the date range.";
a request too dense answers 504 (fault 6002, raised as `ReportTooDense`). The basis is
always sent: left out, the company's preference applies silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any

from qbo_backfill.load.records import parse_timestamp
from qbo_backfill.qbo.client import MINOR_VERSION, ClientStats, QboClient

__all__ = [
    "BASES",
    "DEFAULT_REPORTS",
    "TRUNCATION_TEXT",
    "ReportAnswer",
    "ReportKind",
    "ReportRequest",
    "fetch_report",
    "is_truncated",
    "report_kind",
]

TRUNCATION_TEXT = "Unable to display more data"
DEFAULT_REPORTS = (
    "ProfitAndLoss",
    "BalanceSheet",
    "TrialBalance",
    "GeneralLedger",
    "TransactionList",
    "AgedReceivables",
    "AgedPayables",
    "CashFlow",
)
# The command's basis names and what QBO's `accounting_method` takes.
BASES = {"accrual": "Accrual", "cash": "Cash"}


class ReportKind(Enum):
    """How a report's periods are asked for (docs/reports.md, "Periods")."""

    SUMMARY = "summary"  # one row per account: a month-summarized request finds the empty months
    DETAIL = "detail"  # one row per posting: long ranges first, split where they truncate
    AS_OF = "as_of"  # aging: as of the fetch date


_KINDS = {
    "ProfitAndLoss": ReportKind.SUMMARY,
    "BalanceSheet": ReportKind.SUMMARY,
    "TrialBalance": ReportKind.SUMMARY,
    "CashFlow": ReportKind.SUMMARY,
    "AgedReceivables": ReportKind.AS_OF,
    "AgedPayables": ReportKind.AS_OF,
    "AgedReceivableDetail": ReportKind.AS_OF,
    "AgedPayableDetail": ReportKind.AS_OF,
}


def report_kind(name: str) -> ReportKind:
    """A known report's kind; any other name is asked for as a detail report (long ranges,
    split where they truncate), which assumes nothing of its columns."""
    return _KINDS.get(name, ReportKind.DETAIL)


@dataclass(frozen=True)
class ReportRequest:
    """One request: the report, its basis (`Accrual`/`Cash`), the closed day range it
    covers (QBO's `end_date` is inclusive) and any further parameters."""

    name: str
    basis: str
    start: date
    end: date
    extra: tuple[tuple[str, str], ...] = ()

    @property
    def params(self) -> dict[str, str]:
        """The query parameters, as sent (the minor version aside)."""
        sent = {"accounting_method": self.basis}
        if report_kind(self.name) is ReportKind.AS_OF:
            sent["report_date"] = self.end.isoformat()
        else:
            sent |= {"start_date": self.start.isoformat(), "end_date": self.end.isoformat()}
        return sent | dict(self.extra)

    def narrowed(self, start: date, end: date) -> ReportRequest:
        """The same request over other days."""
        return ReportRequest(self.name, self.basis, start, end, self.extra)

    def exact(self, realm_id: str) -> dict[str, Any]:
        """The exact request, as stored with its answer."""
        return {
            "method": "GET",
            "path": f"/v3/company/{realm_id}/reports/{self.name}",
            "query": self.params | {"minorversion": MINOR_VERSION},
        }


@dataclass(frozen=True)
class ReportAnswer:
    """A report as served, and whether it was cut short."""

    request: ReportRequest
    payload: dict[str, Any]

    @property
    def truncated(self) -> bool:
        return is_truncated(self.payload)

    @property
    def header_time(self) -> datetime | None:
        """`Header.Time` as aware UTC."""
        header = self.payload.get("Header")
        return parse_timestamp(header.get("Time")) if isinstance(header, dict) else None


async def fetch_report(
    client: QboClient, request: ReportRequest, stats: ClientStats | None = None
) -> ReportAnswer:
    """One request; raises `ReportTooDense` on a 504, ApiError on any other failure."""
    payload = await client.get_report(request.name, request.params, stats)
    return ReportAnswer(request, payload)


def is_truncated(payload: dict[str, Any]) -> bool:
    """Whether the answer ends with Intuit's "Unable to display more data" row, found as
    the last row however deep the sections it closes are nested."""
    row = _last_row(payload.get("Rows"))
    while row is not None:
        cells = row.get("ColData")
        first = cells[0] if isinstance(cells, list) and cells else None
        if isinstance(first, dict) and str(first.get("value", "")).startswith(TRUNCATION_TEXT):
            return True
        row = _last_row(row.get("Rows"))
    return False


def _last_row(rows: Any) -> dict[str, Any] | None:
    listed = rows.get("Row") if isinstance(rows, dict) else None
    if isinstance(listed, list) and listed and isinstance(listed[-1], dict):
        return listed[-1]
    return None
