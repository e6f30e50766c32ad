"""Terminal renderings of results: the per-chunk table and per-entity totals."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from qbo_backfill.auth.login import expiry_warnings
from qbo_backfill.figures import ChunkRow
from qbo_backfill.load.syncruns import SyncRecord
from qbo_backfill.report.model import Report, RunReport
from qbo_backfill.report.wording import plural
from qbo_backfill.ui.moneytable import money_check_lines

CHUNK_COLUMNS = (
    ("window", "window"),
    ("status", "status"),
    ("pages", "pages"),
    ("rows_extracted", "extracted"),
    ("rows_inserted", "inserted"),
    ("rows_updated", "updated"),
    ("rows_unchanged", "unchanged"),
    ("source_count_after", "source"),
    ("rows_in_table", "in table"),
    ("matched", "match"),
    ("attempts", "attempts"),
    ("api_calls", "calls"),
)


def chunk_table(entity: str, run_id: int, chunks: Iterable[ChunkRow]) -> Table:
    """One row per chunk window with its volumetry and whether it reconciles."""
    table = Table(title=f"{entity} (run {run_id})", title_justify="left")
    for _, header in CHUNK_COLUMNS:
        table.add_column(
            header,
            justify="left" if header in ("window", "status") else "right",
            no_wrap=header == "window",
        )
    for chunk in chunks:
        table.add_row(*(_cell(key, chunk) for key, _ in CHUNK_COLUMNS))
    return table


def _cell(key: str, chunk: ChunkRow) -> str:
    if key == "window":
        return chunk.window.label
    value = _value(key, chunk)
    if key == "matched":
        return {True: "yes", False: "NO", None: "-"}[value]
    return "-" if value is None else str(value)


def _value(key: str, chunk: ChunkRow) -> Any:
    """A chunk's figure, or its attempts, status or duration, by column name."""
    if hasattr(chunk.figures, key):
        return getattr(chunk.figures, key)
    return getattr(chunk, key)


def check_table(checks: Iterable[Any]) -> Table:
    """`verify` figures: one row per window."""
    table = Table(title="reconciliation", title_justify="left")
    for header in ("entity", "window", "source", "in table", "loaded", "match"):
        table.add_column(header)
    for check in checks:
        row = check.as_dict()
        table.add_row(
            row["entity"],
            row["window"],
            str(row["source_count"]),
            str(row["rows_in_table"]),
            "-" if row["rows_loaded"] is None else str(row["rows_loaded"]),
            "yes" if row["matched"] else "NO",
        )
    return table


def token_table(statuses: Iterable[Any], now: datetime | None = None) -> Table:
    """`auth status`: one block per realm, dates and warnings only, never a token nor any
    part of one. Laid out vertically so it reads in an 80-column terminal."""
    now = now or datetime.now(UTC)
    table = Table(title="stored tokens", title_justify="left", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    for index, s in enumerate(statuses):
        if index:
            table.add_section()
        warnings = expiry_warnings(s, now)
        for label, value in (
            ("realm", f"{s.realm_id} ({s.environment})"),
            ("access token expires", _when(s.access_expires_at, now)),
            ("refresh token expires", _when(s.refresh_expires_at, now) + _ROLLING_NOTE),
            ("refresh hard expiry", _when(s.refresh_hard_expires_at, now)),
            ("last rotated", _when(s.rotated_at, now)),
            ("last refreshed", _when(s.refreshed_at, now)),
        ):
            table.add_row(label, value)
        table.add_row(
            "attention",
            Text("\n".join(warnings), style="bold yellow") if warnings else Text("ok", "green"),
        )
    return table


_ROLLING_NOTE = "\n(rolling: each refresh moves it)"


def _when(value: datetime | None, now: datetime | None = None) -> str:
    if value is None:
        return "-"
    text = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if now is None:
        return text
    return f"{text} ({_relative(value - now)})"


def _relative(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    span = abs(seconds)
    if span >= 2 * 86400:
        amount = f"{span / 86400:.0f} d"
    elif span >= 3600:
        amount = f"{span / 3600:.0f} h"
    else:
        amount = f"{span / 60:.0f} min"
    return f"in {amount}" if seconds >= 0 else f"{amount} ago"


REPORT_COLUMNS = (*CHUNK_COLUMNS, ("throttled", "429s"), ("duration_ms", "seconds"))
_CHECK_STYLES = {"pass": "green", "warn": "yellow", "fail": "bold red", "not checked": "dim"}


def report_renderables(report: Report, *, chunks: bool = True) -> list[RenderableType]:
    """`report --format table`: per run, its chunk windows with totals (unless `chunks` is
    false, when they were shown already) and its checks; then the verdict."""
    out: list[RenderableType] = []
    for run in report.runs:
        if chunks:
            out.append(_report_chunk_table(run))
        out.append(_report_check_table(run))
        for chunk in run.chunks:
            if chunk.last_error:
                out.append(Text(f"{chunk.window.label}: {chunk.last_error}", "red"))
    if report.syncs:
        out.append(sync_table(report.syncs, "sync runs, newest first"))
    if report.reports:
        out.append(reports_table(report))
    for change in report.report_changes:
        moved = ", ".join(f"{label} {amount}" for label, amount in change.difference.items())
        found = f"{change.detected_at_utc:%Y-%m-%d %H:%M}Z"
        out.append(
            Text(
                f"{change.report_name} {change.accounting_method} {change.period_start}.."
                f"{change.period_end} changed after it closed (found {found}): "
                f"{moved or 'same totals, other lines'}",
                "yellow",
            )
        )
    if report.views:
        out.append(views_table(report.views, f"typed views in schema {report.views_schema}"))
    out += [money_check_lines(check) for check in report.money]
    for realm, why in report.needs_reauthorization.items():
        out.append(Text(f"company {realm} needs re-authorization: {why}", "bold red"))
    counts = report.check_counts()
    verdict = "all checks pass" if report.ok else "ATTENTION: a run failed or a check failed"
    out.append(
        Text(
            f"{plural(len(report.runs), 'run')}, {report.selection.describe()}: {verdict} "
            f"({counts['pass']} pass, {counts['warn']} warn, {counts['fail']} fail, "
            f"{counts['not checked']} not checked)",
            "green" if report.ok else "bold red",
        )
    )
    return out


def _report_chunk_table(run: RunReport) -> Table:
    r = run.run
    title = (
        f"{run.entity}, run {run.run_id}, realm {r['realm_id']}, {run.window.label}: {r['status']}"
    )
    table = Table(title=title, title_justify="left", show_footer=True)
    footers = _report_footers(run.totals)
    for key, header in REPORT_COLUMNS:
        table.add_column(
            header,
            footer=footers.get(key, ""),
            justify="left" if key in ("window", "status") else "right",
        )
    for chunk in run.chunks:
        style = None if chunk.ok else "red"
        table.add_row(*(_report_cell(key, chunk) for key, _ in REPORT_COLUMNS), style=style)
    return table


def _report_footers(totals: dict[str, Any]) -> dict[str, str]:
    footers = {key: f"{totals[key]:,}" for key, _ in REPORT_COLUMNS if key in totals}
    footers["duration_ms"] = f"{totals['duration_ms'] / 1000:.2f}"
    return footers | {"window": "total", "matched": f"{totals['mismatches']} off"}


def _report_cell(key: str, chunk: ChunkRow) -> str:
    value = _value(key, chunk)
    if key == "duration_ms":
        return "-" if value is None else f"{value / 1000:.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return _cell(key, chunk)


def _report_check_table(run: RunReport) -> Table:
    table = Table(title=f"checks, {run.entity} run {run.run_id}", title_justify="left")
    for header in ("check", "result", "detail"):
        table.add_column(header)
    for check in run.checks:
        status = check.status.value
        table.add_row(check.name, Text(status, _CHECK_STYLES.get(status, "")), check.detail)
    return table


_SYNC_COLUMNS = (
    "entity",
    "path",
    "inserted",
    "updated",
    "deleted",
    "reactivated",
    "calls",
    "lag",
    "cursor",
)


def sync_table(records: Iterable[SyncRecord], title: str = "sync") -> Table:
    """One row per entity synced: what changed, the path taken, the lag, the new cursor."""
    table = Table(title=title, title_justify="left")
    for column in _SYNC_COLUMNS:
        table.add_column(column, justify="right" if column not in ("entity", "path") else "left")
    for r in records:
        f = r.figures
        table.add_row(
            r.entity,
            r.path,
            str(f.inserted),
            str(f.updated),
            str(f.deleted),
            str(f.reactivated),
            str(f.api_calls),
            f"{r.lag_seconds / 3600:.1f} h",
            f"{r.cursor_after:%Y-%m-%d %H:%M:%S}Z",
        )
    return table


def reports_table(report: Report) -> Table:
    """Copied reports: one row per company, report and basis."""
    table = Table(title="copied reports", title_justify="left")
    for column in _REPORT_COLUMNS:
        table.add_column(column, justify="left" if column in _REPORT_TEXT else "right")
    for r in report.reports:
        table.add_row(
            r.realm_id,
            r.report_name,
            r.accounting_method,
            f"{r.first_day}..{r.last_day}" if r.first_day else "-",
            str(r.periods),
            str(r.months_empty),
            str(r.truncations_split),
            str(r.dense_split),
            str(r.calls),
            str(r.changes),
        )
    return table


_REPORT_COLUMNS = (
    "realm",
    "report",
    "basis",
    "days",
    "periods",
    "empty months",
    "cut short",
    "504",
    "calls",
    "changed",
)
_REPORT_TEXT = ("realm", "report", "basis", "days")


def views_table(counts: Iterable[tuple[str, int]], title: str) -> Table:
    """One row per typed view that has rows; the empty ones (entities not copied) counted
    in the caption (JSON, CSV and HTML list every view)."""
    table = Table(title=title, title_justify="left")
    table.add_column("view")
    table.add_column("rows", justify="right")
    empty = 0
    for name, rows in counts:
        if rows:
            table.add_row(name, f"{rows:,}")
        else:
            empty += 1
    if empty:
        table.caption = f"and {plural(empty, 'empty view')} (entities not copied)"
        table.caption_justify = "left"
    return table
