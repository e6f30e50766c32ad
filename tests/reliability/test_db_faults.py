"""PostgreSQL stopped and restarted in the middle of a run (a private embedded server): the
run stops with exit 1 and one clear line, nothing is half-written, and the next run resumes
to an exact copy."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from tests.helpers import run_cli
from tests.reliability.harness import (
    ENTITIES,
    assert_one_line_error,
    cli_env,
    compare,
    done_chunks_without_rows,
    record_figures,
    sandbox_process,
    start_cli,
)

from qbo_backfill.load.db import embedded_url, stop_embedded

pytestmark = [pytest.mark.db, pytest.mark.slow, pytest.mark.own_server]

ARGS = [
    "backfill",
    *ENTITIES,
    "--start=2024-01-01",
    "--end=2026-01-01",
    "--chunk-days=7",
    "--page-size=50",
]


def test_database_stopped_mid_run_then_resumed(tmp_path: Path, home: Path) -> None:
    pg_home = tmp_path / "private-pg"
    url = embedded_url(pg_home)
    try:
        with sandbox_process(invoices=5000, customers=100, items=30, latency_ms=120) as sandbox:
            env = cli_env(sandbox.info, url, "dbfault", home)
            run = start_cli(ARGS, env, tmp_path)
            time.sleep(2.5)
            assert run.poll() is None, "the run ended before the database was stopped"
            stop_embedded(pg_home)
            _, stderr = run.communicate(timeout=120)
            assert run.returncode == 1, stderr[-1500:]
            line = assert_one_line_error(stderr)
            url = embedded_url(pg_home)
            resumed = run_cli(ARGS, cli_env(sandbox.info, url, "dbfault", home), tmp_path)
            assert resumed.returncode == 0, resumed.stderr[-1500:]
            for entity in ENTITIES:
                result = compare(sandbox, url, "dbfault", entity)
                assert result.exact, result.summary()
            assert done_chunks_without_rows(url, "dbfault") == []
    finally:
        stop_embedded(pg_home)
    record_figures("db-restart", {"restarts": 1, "line": line})
