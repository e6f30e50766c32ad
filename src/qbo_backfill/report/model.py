"""The evidence of runs, as data: which runs (`Selection`), each run with its chunks and
checks (`RunReport`), the request rate, and the whole `Report`. Reading it from the
database is `read`; checking it is `checks`; printing it is `formats` and `html`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from qbo_backfill.errors import ConfigError
from qbo_backfill.figures import SUMMED, ChunkRow
from qbo_backfill.load.syncruns import SyncRecord
from qbo_backfill.report.money import MoneyCheck
from qbo_backfill.report.rate import RatePoint, request_rate
from qbo_backfill.report.reportcopies import ReportChange, ReportCopy
from qbo_backfill.webhooks.activity import WebhookActivity
from qbo_backfill.windows import ExtractWindow

__all__ = [
    "INTUIT_REQUESTS_PER_MINUTE",
    "Check",
    "CheckStatus",
    "RatePoint",
    "Report",
    "RunReport",
    "Selection",
    "request_rate",
]

# Intuit's documented limit per realm; the chart draws it next to the configured limit.
INTUIT_REQUESTS_PER_MINUTE = 500


class CheckStatus(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    NOT_CHECKED = "not checked"


@dataclass(frozen=True)
class Check:
    """One validation: its name, outcome and the figures behind it."""

    name: str
    status: CheckStatus
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"check": self.name, "status": self.status.value, "detail": self.detail}


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
    chunks: list[ChunkRow]
    checks: list[Check] = field(default_factory=list)

    @property
    def run_id(self) -> int:
        return int(self.run["run_id"])

    @property
    def entity(self) -> str:
        return str(self.run["entity"])

    @property
    def window(self) -> ExtractWindow:
        return ExtractWindow(self.run["window_start"], self.run["window_end"])

    @property
    def totals(self) -> dict[str, Any]:
        flat = [c.as_dict() for c in self.chunks]
        totals: dict[str, Any] = {name: sum(int(c[name] or 0) for c in flat) for name in SUMMED}
        totals["chunks"] = len(self.chunks)
        totals["chunks_done"] = sum(c.status == "done" for c in self.chunks)
        totals["mismatches"] = sum(c.figures.matched is False for c in self.chunks)
        starts = [c.started_at for c in self.chunks if c.started_at]
        ends = [c.finished_at for c in self.chunks if c.finished_at]
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
            "chunks": [c.as_dict() for c in self.chunks],
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
    syncs: list[SyncRecord] = field(default_factory=list)  # newest first
    needs_reauthorization: dict[str, str] = field(default_factory=dict)  # realm -> why
    reports: list[ReportCopy] = field(default_factory=list)
    report_changes: list[ReportChange] = field(default_factory=list)  # newest first
    views_schema: str = ""
    views: list[tuple[str, int]] = field(default_factory=list)  # typed view -> rows
    money: list[MoneyCheck] = field(default_factory=list)  # newest per company and basis
    webhooks: WebhookActivity = field(default_factory=lambda: WebhookActivity(24))

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.runs) and all(m.ok for m in self.money)

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
            "syncs": [_flat(s) for s in self.syncs],
            "needs_reauthorization": self.needs_reauthorization,
            "reports": [asdict(r) for r in self.reports],
            "report_changes": [asdict(c) for c in self.report_changes],
            "views": {"schema": self.views_schema, "rows": dict(self.views)},
            "money": [m.as_dict() for m in self.money],
            "webhooks": self.webhooks.as_dict(),
        }


def _flat(record: SyncRecord) -> dict[str, Any]:
    """A sync row for JSON: its figures next to the rest."""
    values = asdict(record)
    return values | values.pop("figures")
