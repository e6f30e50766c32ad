"""What every scenario shares: the sandbox as a separate process, a fresh database schema,
the backfill as a measured subprocess, and the row each scenario reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql

from qbo_backfill.sandbox.config import client_env

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
PYTHON = sys.executable
TIME = Path("/usr/bin/time")
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
# Invoices of every scenario fall in 2025 unless it says otherwise; the backfill asks for
# exactly that year unless given other window options.
YEAR_START, YEAR_END = "2025-01-01", "2026-01-01"
YEAR_WINDOW = ("--start", YEAR_START, "--end", YEAR_END, "--chunk-days", "auto")
ENTITIES = ("Invoice", "Customer", "Item")
# The theoretical ceiling of Intuit's limits: every allowed request returns a full page.
CEILING_ROWS_PER_MINUTE = 500 * 1000


@dataclass
class Row:
    """One scenario's line of the results table, and its JSON."""

    number: int
    name: str
    figures: dict[str, Any] = field(default_factory=dict)
    targets: dict[str, bool] = field(default_factory=dict)
    note: str = ""

    def cells(self) -> list[str]:
        shown = {k: v for k, v in self.figures.items() if not isinstance(v, dict)}  # JSON only
        figures = ", ".join(f"{k} {_fmt(v)}" for k, v in shown.items())
        met = ", ".join(f"{k}: {'yes' if ok else 'NO'}" for k, ok in self.targets.items())
        return [str(self.number), self.name, figures, met or "-", self.note or "-"]

    def save(self, tag: str) -> Path:
        OUT.mkdir(parents=True, exist_ok=True)
        path = OUT / f"scenario{self.number}{tag}.json"
        body = {
            "scenario": self.number,
            "name": self.name,
            "figures": self.figures,
            "targets": self.targets,
            "note": self.note,
        }
        path.write_text(json.dumps(body, indent=2, default=str) + "\n")
        return path


HEADER = ["#", "scenario", "figures", "targets met", "note"]


def table_line(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "/") for c in cells) + " |"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


class SandboxProcess:
    """`python -m qbo_backfill.sandbox serve` in its own process, and its admin API."""

    def __init__(
        self,
        *,
        invoices: int,
        customers: int = 200,
        items: int = 50,
        latency_ms: float = 0.0,
        jitter_ms: float = 0.0,
        limited: bool = True,
        invoice_start: str = YEAR_START,
        invoice_end: str = YEAR_END,
    ) -> None:
        args = [
            PYTHON,
            "-m",
            "qbo_backfill.sandbox",
            "serve",
            "--port",
            "0",
            "--invoices",
            str(invoices),
            "--customers",
            str(customers),
            "--items",
            str(items),
            "--invoice-start",
            invoice_start,
            "--invoice-end",
            invoice_end,
            "--latency-ms",
            str(latency_ms),
            "--latency-jitter-ms",
            str(jitter_ms),
        ]
        if limited:  # Intuit's limits, stated rather than left to defaults
            args += ["--rate-limit-per-min", "500", "--rate-limit-per-sec", "10"]
            args += ["--max-in-flight", "10", "--batch-limit-per-min", "40"]
        else:
            args += ["--rate-limit-per-min", "0", "--rate-limit-per-sec", "0"]
            args += ["--max-in-flight", "0", "--batch-limit-per-min", "0"]
        self.invoices = invoices
        self.customers = customers
        self.items = items
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        started = time.perf_counter()
        env = os.environ | {"PYTHONPATH": str(ROOT / "src")}
        self.proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=self._stderr, text=True, env=env
        )
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line:
            self._stderr.seek(0)
            raise RuntimeError(f"sandbox did not start: {self._stderr.read().decode()[-2000:]}")
        self.info: dict[str, Any] = json.loads(line)
        self.startup_seconds = time.perf_counter() - started
        self.http = httpx.Client(base_url=self.info["base_url"], timeout=60)

    @property
    def realm(self) -> str:
        return str(self.info["realm_id"])

    def counters(self) -> dict[str, Any]:
        body = self.http.get("/_sandbox/counters").json()
        return dict(body["realms"][self.realm])

    def reset(self) -> None:
        self.http.post("/_sandbox/reset").raise_for_status()

    def access_token(self) -> str:
        response = self.http.post(
            self.info["token_url"],
            auth=(self.info["client_id"], self.info["client_secret"]),
            data={"grant_type": "refresh_token", "refresh_token": self.info["refresh_token"]},
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

    def stop(self) -> None:
        self.http.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._stderr.close()

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def api_calls(counters: dict[str, Any]) -> int:
    """Data requests the sandbox received (every one is metered by Intuit)."""
    return sum(int(v) for v in counters["requests"].values())


def throttled(counters: dict[str, Any]) -> int:
    """429s the sandbox answered: limit breaches plus injected ones."""
    return int(counters["throttled"]) + int(counters.get("faults", {}).get("429", 0))


class Schema:
    """A fresh schema for one scenario, dropped at the end."""

    def __init__(self, database_url: str, label: str) -> None:
        self.url = database_url
        self.name = f"bench_{label}_{uuid.uuid4().hex[:8]}"
        self.views = f"{self.name}_views"  # where its backfills keep the typed views

    def rows(self, table: str) -> int:
        with psycopg.connect(self.url) as conn:
            row = conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(self.name, table))
            ).fetchone()
        return int(row[0]) if row else 0

    def query(self, text: sql.Composable, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url) as conn:
            return list(conn.execute(text, params).fetchall())

    def drop(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            for name in (self.name, self.views):
                conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name))
                )

    def __enter__(self) -> Schema:
        return self

    def __exit__(self, *exc: object) -> None:
        self.drop()


@dataclass
class RunMeasure:
    """A finished backfill subprocess: wall time, peak RSS, exit code, its log."""

    seconds: float
    peak_rss_mb: float
    returncode: int
    log: str


def run_backfill(
    sandbox: SandboxProcess,
    schema: Schema,
    home: Path,
    *,
    entities: tuple[str, ...] = ENTITIES,
    extra_args: tuple[str, ...] = (),
    env_extra: dict[str, str] | None = None,
    window_args: tuple[str, ...] = YEAR_WINDOW,
    command: str = "backfill",
) -> RunMeasure:
    """`qbo-backfill backfill` (or `verify`) as a subprocess; peak RSS from the kernel's own
    accounting. `window_args=()` runs it with the defaults, as a user types it."""
    env = backfill_env(sandbox, schema, home) | (env_extra or {})
    args = [PYTHON, "-m", "qbo_backfill", command, *entities, *window_args]
    args += ["--json-logs"] if command == "backfill" else []
    args += list(extra_args)
    rss_file = home / "maxrss.txt"
    if TIME.exists():
        # Through GNU time: a child forked from this (large) process and exec'ed would
        # report this process's resident set as its own peak; time's own is tiny.
        args = [str(TIME), "-f", "%M", "-o", str(rss_file), *args]
    with tempfile.TemporaryFile() as log:
        started = time.perf_counter()
        proc = subprocess.Popen(args, env=env, cwd=home, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        text = log.read().decode(errors="replace")
    peak_kib = int(rss_file.read_text().split()[-1]) if rss_file.exists() else usage.ru_maxrss
    rss_file.unlink(missing_ok=True)
    return RunMeasure(seconds, peak_kib / 1024, proc.returncode, text)


def backfill_env(sandbox: SandboxProcess, schema: Schema, home: Path) -> dict[str, str]:
    """The whole environment of a `qbo-backfill` subprocess: the sandbox's company, the
    scenario's schema, and this checkout's code (whatever is installed)."""
    return client_env(sandbox.info) | {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT / "src"),  # this checkout's code, whatever is installed
        "QBO_DATABASE_URL": schema.url,
        "QBO_SCHEMA": schema.name,
        "QBO_VIEWS_SCHEMA": schema.views,
        "QBO_HOME": str(home),
    }


def require_ok(measure: RunMeasure, what: str) -> None:
    if measure.returncode != 0:
        raise RuntimeError(f"{what} exited {measure.returncode}: {measure.log[-3000:]}")


def chunk_totals(schema: Schema) -> dict[str, int]:
    """Sums over the ledger's chunks of the schema's newest run of each entity."""
    rows = schema.query(
        sql.SQL(
            "SELECT coalesce(sum(rows_inserted), 0), coalesce(sum(rows_updated), 0), "
            "coalesce(sum(rows_unchanged), 0), coalesce(sum(api_calls), 0) FROM {} "
            "WHERE run_id IN (SELECT max(run_id) FROM {} GROUP BY entity)"
        ).format(
            sql.Identifier(schema.name, "qbo_backfill_chunks"),
            sql.Identifier(schema.name, "qbo_backfill_runs"),
        )
    )
    inserted, updated, unchanged, calls = rows[0]
    return {
        "rows_inserted": int(inserted),
        "rows_updated": int(updated),
        "rows_unchanged": int(unchanged),
        "chunk_api_calls": int(calls),
    }
