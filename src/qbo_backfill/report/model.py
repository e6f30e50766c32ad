"""The evidence of a backfill: per chunk window, what was fetched and written, and checks
computed in SQL against the ledger and the raw tables (`report_checks`), in four formats.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import Enum
from pathlib import Path
from typing import Any

import orjson
import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from qbo_backfill.entities import resolve_entity
from qbo_backfill.errors import ConfigError
from qbo_backfill.load import db
from qbo_backfill.load.ledger import CHUNKS, RUNS
from qbo_backfill.report.checks import Check, CheckStatus, run_checks, table_exists
from qbo_backfill.report.rate import RatePoint, read_measured, request_rate
from qbo_backfill.settings import Settings

__all__ = [
    "INTUIT_REQUESTS_PER_MINUTE",
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

# Intuit's documented limit per realm; the chart draws it next to the configured limit.
INTUIT_REQUESTS_PER_MINUTE = 500

CHUNK_FIELDS = (
    "run_id",
    "entity",
    "window_start",
    "window_end",
    "status",
    "pages",
    "rows_extracted",
    "rows_inserted",
    "rows_updated",
    "rows_unchanged",
    "rows_quarantined",
    "source_duplicates",
    "source_count",
    "source_count_after",
    "rows_in_table",
    "matched",
    "refetches",
    "attempts",
    "api_calls",
    "throttled",
    "retries",
    "duration_ms",
    "started_at",
    "finished_at",
    "last_error",
)
_NOT_SUMMED = frozenset(
    (
        "run_id",
        "entity",
        "window_start",
        "window_end",
        "status",
        "matched",
        "started_at",
        "finished_at",
        "last_error",
    )
)
# Every other figure of a chunk adds up to the run's total.
TOTAL_FIELDS = tuple(f for f in CHUNK_FIELDS if f not in _NOT_SUMMED)


@dataclass(frozen=True)
class Selection:
    """Which runs: by id, those of the newest session (`--last`), or all of an entity."""

    run_ids: tuple[int, ...] = ()
    last: bool = False
    entity: str | None = None

    def __post_init__(self) -> None:
        chosen = sum((bool(self.run_ids), self.last, self.entity is not None))
        if chosen > 1:
            raise ConfigError("choose one of --run, --last or --entity")

    def describe(self) -> str:
        if self.run_ids:
            return "runs " + ", ".join(str(r) for r in sorted(self.run_ids))
        if self.entity is not None:
            return f"all runs of {self.entity}"
        return "the newest session's runs"


@dataclass
class RunReport:
    """One run: its ledger row, its chunks in window order, totals and checks."""

    run: dict[str, Any]
    chunks: list[dict[str, Any]]
    checks: list[Check] = field(default_factory=list)

    @property
    def run_id(self) -> int:
        return int(self.run["run_id"])

    @property
    def entity(self) -> str:
        return str(self.run["entity"])

    @property
    def totals(self) -> dict[str, Any]:
        totals: dict[str, Any] = {
            name: sum(int(c.get(name) or 0) for c in self.chunks) for name in TOTAL_FIELDS
        }
        totals["chunks"] = len(self.chunks)
        totals["chunks_done"] = sum(c["status"] == "done" for c in self.chunks)
        totals["mismatches"] = sum(c.get("matched") is False for c in self.chunks)
        starts = [c["started_at"] for c in self.chunks if c.get("started_at")]
        ends = [c["finished_at"] for c in self.chunks if c.get("finished_at")]
        totals["wall_seconds"] = (
            round((max(ends) - min(starts)).total_seconds(), 3) if starts and ends else None
        )
        return totals

    @property
    def ok(self) -> bool:
        return self.run.get("status") == "done" and not any(
            c.status is CheckStatus.FAIL for c in self.checks
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "totals": self.totals,
            "checks": [c.as_dict() for c in self.checks],
            "chunks": self.chunks,
        }


@dataclass
class Report:
    generated_at: datetime
    selection: Selection
    database: str
    schema: str
    runs: list[RunReport]
    configured_per_minute: int
    limit_per_minute: int = INTUIT_REQUESTS_PER_MINUTE
    request_minutes: list[RatePoint] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.runs)

    @property
    def rate_measured(self) -> bool:
        """Whether `rate` is what was measured (else an estimate, for older runs)."""
        return bool(self.request_minutes)

    @property
    def rate(self) -> list[RatePoint]:
        if self.request_minutes:
            return self.request_minutes
        chunks = (c for r in self.runs for c in r.chunks)
        return request_rate(chunks, ceiling=self.configured_per_minute)

    def check_counts(self) -> dict[str, int]:
        counts = dict.fromkeys((s.value for s in CheckStatus), 0)
        for run in self.runs:
            for check in run.checks:
                counts[check.status.value] += 1
        return counts

    def as_dict(self) -> dict[str, Any]:
        return {
            "generated_at": self.generated_at,
            "selection": self.selection.describe(),
            "database": self.database,
            "schema": self.schema,
            "ok": self.ok,
            "checks": self.check_counts(),
            "limit_per_minute": self.limit_per_minute,
            "configured_per_minute": self.configured_per_minute,
            "request_rate": [{"at": p.at, "per_minute": round(p.per_minute, 1)} for p in self.rate],
            "request_rate_measured": self.rate_measured,
            "runs": [r.as_dict() for r in self.runs],
        }


def build_report(settings: Settings, selection: Selection) -> Report:
    """The report of the selected runs, read from the settings' database and schema."""
    with db.connect(db.database_url(settings)) as conn:
        return load_report(
            conn,
            settings.schema,
            selection,
            database=db.describe(settings),
            configured_per_minute=settings.requests_per_minute,
        )


def load_report(
    conn: psycopg.Connection,
    schema: str,
    selection: Selection,
    *,
    database: str = "",
    configured_per_minute: int = INTUIT_REQUESTS_PER_MINUTE,
) -> Report:
    """Read runs, chunks and checks in one read-only snapshot."""
    # One snapshot, so the checks and the figures describe the same moment even while a
    # backfill is writing; read-only, so a report can never change the evidence.
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    with conn.transaction():
        conn.execute("SET LOCAL TIME ZONE 'UTC'")
        ledger = _LedgerReader(conn, schema)
        runs = [RunReport(run, ledger.chunks(run["run_id"])) for run in ledger.runs(selection)]
        for run in runs:
            run.checks = run_checks(conn, schema, run)
        now = datetime.now(UTC)
        minutes = read_measured(conn, schema, [r.run for r in runs], now)
    return Report(
        now, selection, database, schema, runs, configured_per_minute, request_minutes=minutes
    )


class _LedgerReader:
    def __init__(self, conn: psycopg.Connection, schema: str) -> None:
        self.conn = conn
        self.runs_table = sql.Identifier(schema, RUNS)
        self.chunks_table = sql.Identifier(schema, CHUNKS)
        if not table_exists(conn, schema, RUNS):
            raise ConfigError(
                f"no backfill has run in schema {schema!r} yet (no {RUNS} table): "
                "run `qbo-backfill backfill ...` first, or set QBO_SCHEMA"
            )

    def runs(self, selection: Selection) -> list[dict[str, Any]]:
        where: sql.Composable
        params: tuple[Any, ...]
        if selection.run_ids:
            where, params = sql.SQL("run_id = ANY(%s)"), (list(selection.run_ids),)
        elif selection.entity is not None:
            where, params = sql.SQL("entity = %s"), (resolve_entity(selection.entity).name,)
        else:
            where = sql.SQL(
                "session_id = (SELECT session_id FROM {} "
                "ORDER BY coalesce(finished_at, created_at) DESC, run_id DESC LIMIT 1)"
            ).format(self.runs_table)
            params = ()
        query = sql.SQL("SELECT * FROM {} WHERE {} ORDER BY run_id").format(self.runs_table, where)
        rows = self.conn.cursor(row_factory=dict_row).execute(query, params).fetchall()
        missing = set(selection.run_ids) - {row["run_id"] for row in rows}
        if missing:
            raise ConfigError(f"no such run: {', '.join(str(r) for r in sorted(missing))}")
        if not rows:
            raise ConfigError(f"no runs match ({selection.describe()})")
        return [_public_run(row) for row in rows]

    def chunks(self, run_id: int) -> list[dict[str, Any]]:
        query = sql.SQL(
            "SELECT {} FROM {} WHERE run_id = %s ORDER BY window_start, window_end"
        ).format(sql.SQL(", ").join(map(sql.Identifier, CHUNK_FIELDS)), self.chunks_table)
        return list(self.conn.cursor(row_factory=dict_row).execute(query, (run_id,)))


def _public_run(row: dict[str, Any]) -> dict[str, Any]:
    """The run row without the lookup key (a hash: not evidence, only noise)."""
    return {k: v for k, v in row.items() if k != "run_key"}


# ---- formats -------------------------------------------------------------------------


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
    writer.writerow(("realm_id", *CHUNK_FIELDS))
    for run in report.runs:
        for chunk in run.chunks:
            writer.writerow((run.run["realm_id"], *(_csv_cell(chunk[f]) for f in CHUNK_FIELDS)))
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
        "report.html": html,
    }
    paths = []
    for name, text in files.items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths
