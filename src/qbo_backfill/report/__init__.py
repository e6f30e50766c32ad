"""The evidence of runs: the data (`model`), read from the ledger in one snapshot (`read`),
validated in SQL (`checks`), and printed as JSON and CSV (`formats`) or HTML (`html`)."""

from qbo_backfill.report.formats import checks_csv, chunks_csv, to_json, write_all
from qbo_backfill.report.model import (
    Check,
    CheckStatus,
    RatePoint,
    Report,
    RunReport,
    Selection,
    request_rate,
)
from qbo_backfill.report.read import build_report, load_report

__all__ = [
    "Check",
    "CheckStatus",
    "RatePoint",
    "Report",
    "RunReport",
    "Selection",
    "build_report",
    "checks_csv",
    "chunks_csv",
    "load_report",
    "request_rate",
    "to_json",
    "write_all",
]
