"""The webhook and fleet-idle benchmarks' smoke runs: they run end to end and their figures
hold together (every edit arrives, every POST is answered and recorded). Not timed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.db, pytest.mark.slow, pytest.mark.repeats_at_scale]

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "bench" / "out"


def _run(module: str, database_url: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", module, "--smoke", "--database-url", database_url],
        cwd=ROOT, capture_output=True, text=True, timeout=280, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_webhooks_smoke(database_url: str) -> None:
    _run("bench.webhooks", database_url)
    result = json.loads((OUT / "webhooks-smoke.json").read_text())
    lag, load = result["lag"], result["load"]
    assert (lag["arrived"], lag["lost"]) == (lag["edits"], 0)
    assert lag["webhook_events"] >= lag["edits"]
    assert load["answered_200"] == load["posts"] == load["rate_per_s"] * load["seconds"]
    assert load["events_recorded"] == load["events_sent"]


def test_fleet_idle_smoke(database_url: str) -> None:
    _run("bench.fleet_idle", database_url)
    result = json.loads((OUT / "fleet-idle-smoke.json").read_text())
    for run in ("no_change", "one_change_each"):
        assert result[run]["calls_per_company"] == 1  # one CDC call, changed or not
        assert result[run]["cpu_ms_per_company"] > 0
