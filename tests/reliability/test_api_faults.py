"""API faults: every kind the sandbox injects, at 5% (the copy completes, exact) and at 100%
(the run stops in bounded time with exit 1 and one line; the next run, faults off, resumes)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers import run_cli
from tests.reliability.harness import (
    ENTITIES,
    SandboxProcess,
    assert_one_line_error,
    cli_env,
    compare,
    record_figures,
    sandbox_process,
)

from qbo_backfill.sandbox import FAULT_KINDS

pytestmark = pytest.mark.db

# A request past the client's timeout: `slow` sleeps longer than QBO_REQUEST_TIMEOUT_SECONDS.
# A 429 fault is a burst (the faulted request and the next 3 of the realm): a request that
# runs alone at the end of a run meets the whole burst, so attempts must outlast a burst and
# the 5% chance of another one (with 6, about 1 run in 10 failed; with 10, about 1 in 400).
FAULT_ENV = {"QBO_REQUEST_TIMEOUT_SECONDS": "0.5", "QBO_RETRY_ATTEMPTS": "10"}
ARGS = [
    "backfill",
    *ENTITIES,
    "--start=2024-01-01",
    "--end=2026-01-01",
    "--chunk-days=30",
    "--page-size=25",
]
# Bound on a run that meets a fault on every request.
FAILING_RUN_SECONDS = 60


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxProcess]:
    with sandbox_process(
        "--invoices=1200",
        "--customers=80",
        "--items=30",
        "--seed=11",
        "--rate-limit-per-min=0",
        "--rate-limit-per-sec=0",
    ) as sb:
        yield sb


def _faults_seen(sandbox: SandboxProcess) -> dict[str, int]:
    realm = sandbox.info["realm_id"]
    return dict(sandbox.counters()["realms"][realm]["faults"])


def _assert_exact(sandbox: SandboxProcess, database_url: str, schema: str) -> int:
    compared = 0
    for entity in ENTITIES:
        result = compare(sandbox, database_url, schema, entity)
        assert result.exact, result.summary()
        compared += result.compared
    return compared


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_each_fault_at_5_percent_still_gives_an_exact_copy(
    kind: str,
    sandbox: SandboxProcess,
    database_url: str,
    schema: str,
    home: Path,
    tmp_path: Path,
) -> None:
    sandbox.admin("POST", "/reset")
    sandbox.set_faults(f"{kind}=0.05,slow_seconds=1.5,seed=5")
    try:
        env = cli_env(sandbox.info, database_url, schema, home, **FAULT_ENV)
        result = run_cli(ARGS, env, tmp_path)
        injected = _faults_seen(sandbox)
    finally:
        sandbox.set_faults("")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert injected.get(kind, 0) > 0, f"no {kind} fault was injected: {injected}"
    compared = _assert_exact(sandbox, database_url, schema)
    record_figures(f"faults-5%-{kind}", {"injected": injected, "rows_compared": compared})


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_each_fault_at_100_percent_stops_in_one_line_then_resumes(
    kind: str,
    sandbox: SandboxProcess,
    database_url: str,
    schema: str,
    home: Path,
    tmp_path: Path,
) -> None:
    sandbox.admin("POST", "/reset")
    env = cli_env(
        sandbox.info,
        database_url,
        schema,
        home,
        QBO_REQUEST_TIMEOUT_SECONDS="0.5",
        QBO_RETRY_ATTEMPTS="3",
    )
    sandbox.set_faults(f"{kind}=1.0,slow_seconds=1.5")
    try:
        started = time.monotonic()
        failed = run_cli(ARGS, env, tmp_path)
        seconds = time.monotonic() - started
        injected = _faults_seen(sandbox)
    finally:
        sandbox.set_faults("")
    assert failed.returncode == 1, failed.stderr[-2000:]
    assert seconds < FAILING_RUN_SECONDS
    line = assert_one_line_error(failed.stderr)
    assert "run failed" in line
    assert injected.get(kind, 0) > 0
    # The resumed run keeps the usual retries: a 429 burst may still be running out.
    resumed = run_cli(ARGS, env | FAULT_ENV, tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    compared = _assert_exact(sandbox, database_url, schema)
    record_figures(
        f"faults-100%-{kind}",
        {
            "injected": injected,
            "failing_run_seconds": round(seconds, 1),
            "line": line,
            "rows_compared": compared,
        },
    )
