"""Scenario 1, at Intuit's limits; and scenario 4, re-runs of the finished backfill on the
same sandbox and schema."""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.harness import (
    CEILING_ROWS_PER_MINUTE,
    ENTITIES,
    Row,
    SandboxProcess,
    Schema,
    api_calls,
    chunk_totals,
    require_ok,
    run_backfill,
    throttled,
)


def run(database_url: str, *, invoices: int, latency_ms: float, jitter_ms: float) -> list[Row]:
    """Rows of scenarios 1 and 4."""
    sandbox = SandboxProcess(invoices=invoices, latency_ms=latency_ms, jitter_ms=jitter_ms)
    with sandbox, Schema(database_url, "limits") as schema, tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        sandbox.reset()
        first = run_backfill(sandbox, schema, home)
        require_ok(first, "backfill at the limits")
        counters = sandbox.counters()
        rows = sum(schema.rows(f"qb_{e.lower()}") for e in ENTITIES)
        limits_row = _limits_row(invoices, latency_ms, jitter_ms, first.seconds, counters, rows)
        return [limits_row, _reruns_row(sandbox, schema, home, rows)]


def _limits_row(
    invoices: int,
    latency_ms: float,
    jitter_ms: float,
    seconds: float,
    counters: dict[str, object],
    rows: int,
) -> Row:
    calls = api_calls(counters)  # type: ignore[arg-type]
    rows_per_minute = rows / seconds * 60
    calls_per_1000 = calls / rows * 1000
    ratio = rows_per_minute / CEILING_ROWS_PER_MINUTE
    throttles = throttled(counters)  # type: ignore[arg-type]
    return Row(
        1,
        f"at Intuit's limits ({invoices:,} invoices, {latency_ms:g}±{jitter_ms:g} ms)",
        {
            "wall_s": round(seconds, 2),
            "rows": rows,
            "api_calls": calls,
            "requests_per_min": round(calls / seconds * 60, 1),
            "rows_per_min": round(rows_per_minute),
            "calls_per_1000_rows": round(calls_per_1000, 3),
            "429s": throttles,
            "ceiling_ratio": round(ratio, 3),
            "max_in_flight_seen": counters["max_in_flight_seen"],
            "requests_by_endpoint": counters["requests"],
        },
        {
            ">=0.90 of ceiling": ratio >= 0.90,
            "<=1.1 calls/1000 rows": calls_per_1000 <= 1.1,
            "zero 429s": throttles == 0,
        },
    )


def _reruns_row(sandbox: SandboxProcess, schema: Schema, home: Path, rows: int) -> Row:
    sandbox.reset()
    again = run_backfill(sandbox, schema, home)
    require_ok(again, "second run")
    again_calls = api_calls(sandbox.counters())
    sandbox.reset()
    forced = run_backfill(sandbox, schema, home, extra_args=("--force",))
    require_ok(forced, "--force run")
    forced_counters = sandbox.counters()
    totals = chunk_totals(schema)
    rewritten = totals["rows_inserted"] + totals["rows_updated"]
    return Row(
        4,
        "re-runs of the finished backfill",
        {
            "second_run_api_calls": again_calls,
            "second_run_wall_s": round(again.seconds, 2),
            "force_wall_s": round(forced.seconds, 2),
            "force_api_calls": api_calls(forced_counters),
            "force_rows_rewritten": rewritten,
            "force_rows_unchanged": totals["rows_unchanged"],
            "rows_in_tables": rows,
        },
        {
            "second run: 0 calls": again_calls == 0,
            "second run ~1 s": again.seconds <= 2.0,
            "force: 0 rewritten": rewritten == 0,
        },
    )
