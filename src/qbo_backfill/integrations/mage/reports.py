"""The Mage blocks that copy reports: `copy_reports` (the one-time `qb_reports_backfill`
pipeline) and `sync_reports` (after `sync_company` in `qb_sync`: the months that can still
change asked for again). One row of figures per report and basis; never the payloads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from qbo_backfill.errors import ConfigError, RunFailedError
from qbo_backfill.integrations.mage.blocks import one_line_errors, run_to_end
from qbo_backfill.integrations.mage.log import block_log
from qbo_backfill.integrations.mage.secrets import load_settings
from qbo_backfill.qbo.reports import DEFAULT_REPORTS
from qbo_backfill.run.reports import ReportsOptions, ReportsResult, bases_of, copy_reports, last_day
from qbo_backfill.settings import Settings
from qbo_backfill.windows import parse_date

__all__ = ["copy_reports_block", "sync_reports"]


def copy_reports_block(
    variables: Mapping[str, Any], *, settings: Settings | None = None
) -> list[dict[str, Any]]:
    """Copy `reports` (comma-separated; default the default set) in `basis` (accrual, cash
    or both) from `start_date` (default: the first transaction's month) to the month before
    `end_date` (exclusive; default: the current month). Resumes: stored months cost no call."""
    with one_line_errors():
        names = [n.strip() for n in str(variables.get("reports") or "").split(",") if n.strip()]
        basis = str(variables.get("basis") or "accrual")
        if basis not in ("accrual", "cash", "both"):
            raise ConfigError(f"basis must be accrual, cash or both, not {basis!r}")
        start, end = variables.get("start_date"), variables.get("end_date")
        options = ReportsOptions(
            tuple(names) or DEFAULT_REPORTS,
            tuple(bases_of(basis)),
            parse_date(str(start), "start_date") if start else None,
            last_day(parse_date(str(end), "end_date")) if end else None,
        )
        return _figures(variables, run_to_end(copy_reports(settings or load_settings(), options)))


def sync_reports(
    variables: Mapping[str, Any], *, settings: Settings | None = None
) -> list[dict[str, Any]]:
    """Ask again for the open months (`report_months`, default 2, the current one counted)
    of every report copied for the company; no call when none was copied."""
    with one_line_errors():
        months = int(variables.get("report_months") or 2)
        if not 1 <= months <= 120:
            raise ConfigError(f"report_months must be 1 to 120, not {months}")
        options = ReportsOptions((), refresh=True, open_months=months)
        return _figures(variables, run_to_end(copy_reports(settings or load_settings(), options)))


def _figures(variables: Mapping[str, Any], result: ReportsResult) -> list[dict[str, Any]]:
    log = block_log(variables)
    for f in result.figures:
        log.line(
            f"{f.report} {f.basis}: {f.status}, {f.periods_stored} periods stored, "
            f"{f.months_empty} months empty, {f.truncations_split} cut short and split, "
            f"{f.dense_split} 504s split, {f.changes_found} closed periods changed; {f.calls} calls"
        )
    if result.failed:
        first = result.failed[0]
        raise RunFailedError(
            f"{len(result.failed)} report(s) failed; first {first.report} {first.basis}: "
            f"{first.error}. Run the pipeline again to resume"
        )
    log.line(f"{len(result.figures)} reports, {result.calls} API calls")
    return [asdict(f) for f in result.figures]
