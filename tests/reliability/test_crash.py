"""The crash harness with a small count (QBO_CRASH_KILLS, QBO_CRASH_INVOICES); the full run
is `python -m tests.reliability.crash_harness --kills 30 --invoices 50000`."""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path

import pytest
from tests.reliability.crash_harness import CrashConfig, run_harness
from tests.reliability.harness import record_figures

pytestmark = [pytest.mark.db, pytest.mark.slow, pytest.mark.repeats_at_scale]


def test_killed_runs_resume_to_an_exact_copy(
    database_url: str, schema: str, tmp_path: Path
) -> None:
    config = CrashConfig(
        kills=int(os.environ.get("QBO_CRASH_KILLS", "5")),
        invoices=int(os.environ.get("QBO_CRASH_INVOICES", "4000")),
        customers=150,
        items=40,
        seed=int(os.environ.get("QBO_CRASH_SEED", "7")),
        max_delay=2.5,
    )
    figures = run_harness(config, database_url, schema, tmp_path)
    assert figures.ok, figures.problems
    assert figures.kills == config.kills
    record_figures("crash", asdict(figures))
