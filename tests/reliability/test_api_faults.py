"""API faults: every kind the sandbox injects, at 5% (the copy completes, exact) and at 100%
(the run stops in bounded time with exit 1 and one line; the next run, faults off, resumes)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
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

pytestmark = [pytest.mark.db, pytest.mark.repeats_at_scale]

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
    with sandbox_process(invoices=1200, customers=80, items=30, seed=11) as sb:
        yield sb


def _faults_seen(sandbox: SandboxProcess) -> dict[str, int]:
    realm = sandbox.info["realm_id"]
    return dict(sandbox.counters()["realms"][realm]["faults"])


@dataclass
class FaultedRun:
    """One CLI run, and the faults the sandbox injected during it."""

    result: subprocess.CompletedProcess[str]
    injected: dict[str, int]
    seconds: float


@dataclass
class FaultedCli:
    """The CLI against the module's sandbox and the test's schema, with faults set per run."""

    sandbox: SandboxProcess
    database_url: str
    schema: str
    home: Path
    cwd: Path

    def run(self, faults: str, **env: str) -> FaultedRun:
        """`qbo-backfill ARGS` with `faults` set on the sandbox for this run only."""
        cli = cli_env(self.sandbox.info, self.database_url, self.schema, self.home, **env)
        self.sandbox.set_faults(faults)
        try:
            started = time.monotonic()
            result = run_cli(ARGS, cli, self.cwd)
            seconds = time.monotonic() - started
            injected = _faults_seen(self.sandbox)
        finally:
            self.sandbox.set_faults("")
        return FaultedRun(result, injected, seconds)

    def assert_exact(self) -> int:
        """Every entity's table equals the sandbox's records; returns the rows compared."""
        compared = 0
        for entity in ENTITIES:
            result = compare(self.sandbox, self.database_url, self.schema, entity)
            assert result.exact, result.summary()
            compared += result.compared
        return compared


@pytest.fixture
def cli(
    sandbox: SandboxProcess, database_url: str, schema: str, home: Path, tmp_path: Path
) -> FaultedCli:
    sandbox.admin("POST", "/reset")
    return FaultedCli(sandbox, database_url, schema, home, tmp_path)


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_each_fault_at_5_percent_still_gives_an_exact_copy(kind: str, cli: FaultedCli) -> None:
    run = cli.run(f"{kind}=0.05,slow_seconds=1.5,seed=5", **FAULT_ENV)
    assert run.result.returncode == 0, run.result.stderr[-2000:]
    assert "Traceback" not in run.result.stderr
    assert run.injected.get(kind, 0) > 0, f"no {kind} fault was injected: {run.injected}"
    compared = cli.assert_exact()
    record_figures(f"faults-5%-{kind}", {"injected": run.injected, "rows_compared": compared})


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_each_fault_at_100_percent_stops_in_one_line_then_resumes(
    kind: str, cli: FaultedCli
) -> None:
    failed = cli.run(
        f"{kind}=1.0,slow_seconds=1.5", QBO_REQUEST_TIMEOUT_SECONDS="0.5", QBO_RETRY_ATTEMPTS="3"
    )
    assert failed.result.returncode == 1, failed.result.stderr[-2000:]
    assert failed.seconds < FAILING_RUN_SECONDS
    line = assert_one_line_error(failed.result.stderr)
    assert "run failed" in line
    assert failed.injected.get(kind, 0) > 0
    # The resumed run keeps the usual retries: a 429 burst may still be running out.
    resumed = cli.run("", **FAULT_ENV)
    assert resumed.result.returncode == 0, resumed.result.stderr[-2000:]
    compared = cli.assert_exact()
    record_figures(
        f"faults-100%-{kind}",
        {
            "injected": failed.injected,
            "failing_run_seconds": round(failed.seconds, 1),
            "line": line,
            "rows_compared": compared,
        },
    )
