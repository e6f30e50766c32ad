"""The report's text formats: JSON, CSV (chunks, checks, views, money), and an archive of
every format."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any

import orjson

from qbo_backfill.figures import CHUNK_COLUMNS
from qbo_backfill.report.model import Report
from qbo_backfill.report.money import MONEY_CSV_COLUMNS

__all__ = ["checks_csv", "chunks_csv", "money_csv", "to_json", "views_csv", "write_all"]


def to_json(report: Report) -> str:
    """The whole report as indented JSON (dates ISO 8601, times UTC)."""
    return orjson.dumps(
        report.as_dict(), option=orjson.OPT_INDENT_2, default=_json_default
    ).decode()


def _json_default(value: object) -> object:
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def chunks_csv(report: Report) -> str:
    """One row per chunk window of every run."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("realm_id", *CHUNK_COLUMNS))
    for run in report.runs:
        for chunk in run.chunks:
            flat = chunk.as_dict()
            writer.writerow((run.run["realm_id"], *(_csv_cell(flat[c]) for c in CHUNK_COLUMNS)))
    return out.getvalue()


def checks_csv(report: Report) -> str:
    """One row per check of every run."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("run_id", "realm_id", "entity", "check", "status", "detail"))
    for run in report.runs:
        for check in run.checks:
            writer.writerow(
                (
                    run.run_id,
                    run.run["realm_id"],
                    run.entity,
                    check.name,
                    check.status.value,
                    check.detail,
                )
            )
    return out.getvalue()


def views_csv(report: Report) -> str:
    """One row per typed view: its schema, name and rows."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("schema", "view", "rows"))
    for name, rows in report.views:
        writer.writerow((report.views_schema, name, rows))
    return out.getvalue()


def money_csv(report: Report) -> str:
    """One row per month of the newest money check of each company and basis."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("realm_id", "basis", "run_id", *MONEY_CSV_COLUMNS))
    for check in report.money:
        for month in check.months:
            cells = (_csv_cell(getattr(month, name)) for name in MONEY_CSV_COLUMNS)
            writer.writerow((check.realm_id, check.accounting_method, check.run_id, *cells))
    return out.getvalue()


def _csv_cell(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if value is None:
        return ""
    return value


def write_all(report: Report, directory: Path, table_text: str, html: str) -> list[Path]:
    """Archive every format under `directory` (created if missing); the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "report.txt": table_text,
        "report.json": to_json(report) + "\n",
        "report-chunks.csv": chunks_csv(report),
        "report-checks.csv": checks_csv(report),
        "report-views.csv": views_csv(report),
        "report-money.csv": money_csv(report),
        "report.html": html,
    }
    paths = []
    for name, text in files.items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths
