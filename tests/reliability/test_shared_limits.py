"""Several CLI processes on one company share its limits through PostgreSQL: no 429 of
their own making, never more in flight than the company allows, an exact copy; and a
process killed mid-request gives its slots back within the lease."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from tests.reliability.harness import (
    cli_env,
    compare,
    record_figures,
    sandbox_process,
    start_cli,
    wait_until,
)

from qbo_backfill.qbo.shared_limits import LEASE_SECONDS, SLOTS_TABLE, SharedLimiter

pytestmark = [pytest.mark.db, pytest.mark.repeats_at_scale]

YEAR = ["--start=2025-01-01", "--end=2026-01-01"]
SANDBOX_YEAR = ["--invoice-start=2025-01-01", "--invoice-end=2026-01-01"]
# Pages of 100 in 7-day chunks: a run of a few hundred calls, bound by the rate limit.
BACKFILL = ["backfill", "Invoice", *YEAR, "--chunk-days=7", "--page-size=100"]


def _run_together(count: int, env: dict[str, str], cwd: Path) -> list[tuple[int, str]]:
    runs = [start_cli(BACKFILL, env, cwd) for _ in range(count)]
    return [(run.wait(timeout=280), run.communicate()[1]) for run in runs]


def _realm_counters(sandbox: Any) -> dict[str, Any]:
    counters: dict[str, Any] = sandbox.counters()["realms"][sandbox.info["realm_id"]]
    return counters


@pytest.mark.parametrize(
    ("company", "client", "in_flight", "figures"),
    [
        pytest.param(
            # Intuit's limits and latency. Each process alone paces 490 a minute: three pacing
            # alone would send 24 a second against the 10 allowed.
            [
                "--invoices=2500",
                "--customers=20",
                "--items=10",
                "--latency-ms=175",
                "--latency-jitter-ms=75",
                "--rate-limit-per-min=500",
                "--rate-limit-per-sec=10",
                "--max-in-flight=10",
            ],
            {"QBO_REQUESTS_PER_MINUTE": "490"},
            10,
            "shared_limits_three_processes",
            id="rate-binds",
        ),
        pytest.param(
            # Slow answers and a fast rate: in flight is the limit that binds. Each process
            # runs four chunks at once; three of them must still share the company's 3 slots.
            [
                "--invoices=600",
                "--customers=5",
                "--items=5",
                "--latency-ms=400",
                "--rate-limit-per-min=0",
                "--rate-limit-per-sec=0",
                "--max-in-flight=3",
            ],
            {"QBO_MAX_IN_FLIGHT": "3"},
            3,
            None,
            id="in-flight-binds",
        ),
    ],
)
def test_three_processes_on_one_company_keep_its_limits_and_copy_exactly(
    company: list[str],
    client: dict[str, str],
    in_flight: int,
    figures: str | None,
    database_url: str,
    schema: str,
    home: Path,
    tmp_path: Path,
) -> None:
    """No 429 of their own making, never more in flight than the company allows, whichever
    of its limits binds (`company`: the sandbox's options; `client`: the processes' own)."""
    with sandbox_process(*company, *SANDBOX_YEAR) as sandbox:
        env = cli_env(
            sandbox.info,
            database_url,
            schema,
            home,
            QBO_TOKEN_KEY="shared-limits-key",
            QBO_THROTTLE_WAIT_SECONDS="60",
            **client,
        )
        results = _run_together(3, env, tmp_path)
        counters = _realm_counters(sandbox)
        comparison = compare(sandbox, database_url, schema, "Invoice")
    assert [code for code, _ in results] == [0, 0, 0], [err[-1500:] for _, err in results]
    assert counters["throttled"] == 0, counters
    assert counters["max_in_flight_arrivals"] <= in_flight, counters
    assert comparison.exact, comparison.summary()
    if figures:
        record_figures(figures, counters)


def test_a_killed_process_holds_no_slot_past_its_lease(
    database_url: str, schema: str, home: Path, tmp_path: Path
) -> None:
    # Answers take 3 s: the process is killed in the middle of requests it holds slots for.
    with sandbox_process(
        "--invoices=600", "--customers=5", "--items=5", *SANDBOX_YEAR, "--latency-ms=3000"
    ) as sandbox:
        env = cli_env(sandbox.info, database_url, schema, home, QBO_TOKEN_KEY="k")
        victim = start_cli(BACKFILL, env, tmp_path)
        try:
            held = wait_until(lambda: _held_by(database_url, schema, victim.pid) > 0, 120)
            os.kill(victim.pid, signal.SIGKILL)
        finally:
            victim.kill()
            victim.communicate()
        assert held, "the process never held a slot"
        # Its leases end within LEASE_SECONDS of the kill, on the database's clock.
        lease_left = _longest_lease_left(database_url, schema)
        assert lease_left <= LEASE_SECONDS <= 15, lease_left
        assert wait_until(lambda: _held(database_url, schema) == 0, 15.5, step=0.5)
    # And every slot, the killed process's too, can be claimed again.
    assert asyncio.run(_claim_every_slot(database_url, schema, sandbox.info["realm_id"])) == 10


async def _claim_every_slot(database_url: str, schema: str, realm_id: str) -> int:
    limits = {"per_minute": 60_000, "max_in_flight": 10, "batch_per_minute": 40}
    claimed = asyncio.Event()
    holding = 0

    async def hold() -> None:
        nonlocal holding
        async with limiter.slot():
            holding += 1
            if holding == 10:
                claimed.set()
            await claimed.wait()

    async with SharedLimiter.open(database_url, schema, realm_id, **limits) as limiter:
        await asyncio.wait_for(asyncio.gather(*(hold() for _ in range(10))), timeout=30)
    return holding


def _value(database_url: str, query: sql.Composable, params: tuple[Any, ...] = ()) -> Any:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(query, params).fetchone()
    return row[0] if row else None


def _slots(query: str, schema: str) -> sql.Composed:
    return sql.SQL(query).format(sql.Identifier(schema, SLOTS_TABLE))


def _held_by(database_url: str, schema: str, pid: int) -> int:
    name = f'"{schema}".{SLOTS_TABLE}'
    if not _value(database_url, sql.SQL("SELECT to_regclass(%s) IS NOT NULL"), (name,)):
        return 0
    query = _slots(
        "SELECT count(*) FROM {} WHERE holder LIKE %s AND lease_until > clock_timestamp()", schema
    )
    return int(_value(database_url, query, (f"%:{pid}:%",)))


def _held(database_url: str, schema: str) -> int:
    query = _slots("SELECT count(*) FROM {} WHERE lease_until > clock_timestamp()", schema)
    return int(_value(database_url, query))


def _longest_lease_left(database_url: str, schema: str) -> float:
    query = _slots(
        "SELECT coalesce(extract(epoch FROM max(lease_until) - clock_timestamp()), 0) FROM {}",
        schema,
    )
    return float(_value(database_url, query))
