"""Scenario 9: 1, 2, 3 and 4 processes running the same backfill of one company at
Intuit's limits, sharing its limits through PostgreSQL; scenario 10: the shared limiter's
own cost per request, measured in-process against the same database.

Scenario 9 pages in 100s over the seed's 7-day chunks, so the run is bound by the
500-a-minute limit (a few hundred calls) rather than by fixed costs: N processes together
should take about as long as one, with no 429 and never more than 10 in flight.
"""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from psycopg import sql

from bench.harness import (
    PYTHON,
    YEAR_END,
    YEAR_START,
    Row,
    SandboxProcess,
    Schema,
    api_calls,
    backfill_env,
    throttled,
)
from qbo_backfill.qbo.ratelimit import RateLimiter
from qbo_backfill.qbo.shared_limits import (
    LIMITS_TABLE,
    SLOTS_TABLE,
    LimiterStats,
    SharedLimiter,
)

# Full and smoke sizes: (invoices, latency ms, jitter ms, requests through the limiter),
# and the numbers of processes.
FULL = (16_000, 175.0, 75.0, 5_000)
SMOKE = (1_000, 20.0, 5.0, 200)
FULL_COUNTS, SMOKE_COUNTS = (1, 2, 3, 4), (1, 2)
ARGS = ("--chunk-days", "7", "--page-size", "100", "--json-logs")
# The bound: N processes together take at most this much longer than one alone.
MAX_SLOWDOWN = 1.3


def rows(database_url: str, wanted: set[int], *, smoke: bool) -> list[Row]:
    """Rows 9 and 10, those of them wanted."""
    invoices, latency_ms, jitter_ms, requests = SMOKE if smoke else FULL
    result = []
    if 9 in wanted:
        counts = SMOKE_COUNTS if smoke else FULL_COUNTS
        result.append(run(database_url, counts, invoices, latency_ms, jitter_ms))
    if 10 in wanted:
        result.append(overhead_row(database_url, requests=requests))
    return result


def run(
    database_url: str, counts: tuple[int, ...], invoices: int, latency_ms: float, jitter_ms: float
) -> Row:
    """Row 9: wall time, 429s, peak in flight and calls for each number of processes."""
    runs = {n: _processes(database_url, n, invoices, latency_ms, jitter_ms) for n in counts}
    alone = runs[1]["wall_s"]
    figures: dict[str, Any] = {}
    for n, measured in runs.items():
        figures |= {f"p{n}_{key}": value for key, value in measured.items()}
        figures[f"p{n}_vs_one"] = round(measured["wall_s"] / alone, 3)
    return Row(
        9,
        f"processes on one company ({invoices:,} invoices, 500/min, 10 in flight, "
        f"{latency_ms:g}±{jitter_ms:g} ms, pages of 100)",
        figures,
        {
            "zero 429s": all(r["429s"] == 0 for r in runs.values()),
            "<=10 in flight": all(r["max_in_flight_seen"] <= 10 for r in runs.values()),
            "exact row count": all(r["rows"] == invoices for r in runs.values()),
            f"<={MAX_SLOWDOWN}x one": all(
                r["wall_s"] <= MAX_SLOWDOWN * alone for r in runs.values()
            ),
        },
    )


def _processes(
    database_url: str, count: int, invoices: int, latency_ms: float, jitter_ms: float
) -> dict[str, Any]:
    # A sandbox of its own per count: each run imports the sandbox's first refresh token.
    sandbox = SandboxProcess(invoices=invoices, latency_ms=latency_ms, jitter_ms=jitter_ms)
    with sandbox, Schema(database_url, f"p{count}") as schema, tempfile.TemporaryDirectory() as tmp:
        sandbox.reset()
        env = backfill_env(sandbox, schema, Path(tmp)) | {"QBO_TOKEN_KEY": "bench-shared-key"}
        seconds, codes = _run_together(count, env, Path(tmp))
        if codes != [0] * count:
            raise RuntimeError(f"{count} processes exited {codes}")
        counters = sandbox.counters()
        time.sleep(1.0)  # the backends of the finished runs report their statistics on exit
        updates = _limiter_row_updates(schema)
        calls = api_calls(counters)
        return {
            "wall_s": round(seconds, 2),
            "api_calls": calls,
            "429s": throttled(counters),
            "max_in_flight_seen": counters["max_in_flight_seen"],
            "rows": schema.rows("qb_invoice"),
            "limiter_row_updates_per_call": round(updates / calls, 2),
        }


def _run_together(count: int, env: dict[str, str], home: Path) -> tuple[float, list[int]]:
    args = [PYTHON, "-m", "qbo_backfill", "backfill", "Invoice"]
    args += ["--start", YEAR_START, "--end", YEAR_END, *ARGS]
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            args, env=env, cwd=home, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for _ in range(count)
    ]
    codes = [proc.wait() for proc in procs]
    return time.perf_counter() - started, codes


def _limiter_row_updates(schema: Schema) -> int:
    """Rows the limiter updated: a start reserved, a slot claimed, given back or renewed."""
    rows = schema.query(
        sql.SQL(
            "SELECT coalesce(sum(n_tup_upd), 0) FROM pg_stat_user_tables "
            "WHERE schemaname = %s AND relname IN (%s, %s)"
        ),
        (schema.name, LIMITS_TABLE, SLOTS_TABLE),
    )
    return int(rows[0][0])


# ---- scenario 10: the limiter's own cost ---------------------------------------------------


def overhead_row(database_url: str, *, requests: int) -> Row:
    """Row 10: time per request through the shared limiter (one caller, ten) and the local one."""
    with Schema(database_url, "overhead") as schema:
        alone, _ = asyncio.run(_shared_cost(database_url, schema.name, requests, callers=1))
        crowded, stats = asyncio.run(_shared_cost(database_url, schema.name, requests, callers=10))
    local = asyncio.run(_local_cost(requests))
    statements = stats.statements / stats.slots
    share = alone / (60 / 490)  # of the 122 ms between starts at 490 requests a minute
    figures = {
        "requests": requests,
        "one_caller_us_per_call": round(alone * 1e6, 1),
        "ten_callers_us_per_call": round(crowded * 1e6, 1),
        "local_us_per_call": round(local * 1e6, 1),
        "statements_per_call": round(statements, 3),
        "share_of_request_spacing": round(share, 4),
    }
    return Row(
        10,
        "shared limiter's own cost (no pacing wait, same database; 1 and 10 callers)",
        figures,
        {"~2 statements per call (<=2.05)": statements <= 2.05, "<1% of spacing": share < 0.01},
    )


async def _shared_cost(
    url: str, schema: str, requests: int, *, callers: int
) -> tuple[float, LimiterStats]:
    # A rate far above any real one: what is left is the limiter's own work.
    limits = {"per_minute": 10_000_000, "max_in_flight": 10, "batch_per_minute": 40}
    async with SharedLimiter.open(url, schema, "9341453600000", **limits) as limiter:
        await _callers(limiter, 50, callers)  # warm up: connection, prepared statements
        limiter.stats = LimiterStats()
        seconds = await _callers(limiter, requests, callers)
        return seconds / requests, limiter.stats


async def _local_cost(requests: int) -> float:
    limiter = RateLimiter(10_000_000, 10)
    return await _callers(limiter, requests, 10) / requests


async def _callers(limiter: SharedLimiter | RateLimiter, requests: int, callers: int) -> float:
    remaining = iter(range(requests))

    async def caller() -> None:
        for _ in remaining:
            async with limiter.slot():
                await asyncio.sleep(0)

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(callers)))
    return time.perf_counter() - started
