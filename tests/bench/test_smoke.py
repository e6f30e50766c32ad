"""The benchmark's smoke run: every scenario produces its row, with sane figures.

Not a timed test: it only proves the harness still runs end to end (tiny sizes, seconds).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.db, pytest.mark.slow, pytest.mark.repeats_at_scale]

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "bench" / "out"


def test_smoke_run_produces_every_scenario(database_url: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--database-url", database_url],
        cwd=ROOT, capture_output=True, text=True, timeout=280, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| ")]
    numbers = [line.split("|")[1].strip() for line in rows[2:]]
    assert numbers == ["1", "4", "2", "3", "5", "6", "7", "8", "9", "10", "12"], proc.stdout
    figures = {
        n: json.loads((OUT / f"scenario{n}-smoke.json").read_text())["figures"]
        for n in range(1, 11)
    }
    views = json.loads((OUT / "scenario12-smoke.json").read_text())["figures"]
    assert views["invoices"] == 2000
    assert views["same_answer"] is True
    assert views["view_query_s"] > 0
    assert views["table_query_s"] > 0

    synced = figures[7]
    assert synced["idle_api_calls"] <= 2
    assert 0 < synced["sync_api_calls"] <= 10
    assert synced["invoices_marked_deleted"] > 0

    limits = figures[1]
    assert limits["rows"] == 3000 + 200 + 50
    assert 0 < limits["api_calls"] <= 20
    assert limits["429s"] == 0
    assert 0 < limits["ceiling_ratio"] < 1.5

    reruns = figures[4]
    assert reruns["second_run_api_calls"] == 0
    assert reruns["force_rows_rewritten"] == 0
    assert reruns["force_rows_unchanged"] == reruns["rows_in_tables"]

    peers = figures[2]
    assert peers["rows"] == 1000 + 200 + 50
    assert peers["ours_api_calls"] > 0
    for key in ("stitch", "airbyte"):  # run, or said plainly why not
        assert f"{key}_wall_s" in peers or str(peers.get(key, "")).startswith("not run:")

    raw = figures[3]
    assert raw["end_to_end_rows"] == 5000
    for name in ("loader", "plain_copy", "row_by_row", "end_to_end"):
        assert raw[f"{name}_rows_per_s"] > 0

    memory = figures[5]
    assert all(0 < value < 2000 for key, value in memory.items() if key.startswith("rss_mb"))

    processes = figures[9]
    for n in (1, 2):
        assert processes[f"p{n}_rows"] == 1000
        assert processes[f"p{n}_429s"] == 0
        assert 0 < processes[f"p{n}_max_in_flight_seen"] <= 10

    limiter = figures[10]
    assert 0 < limiter["statements_per_call"] <= 3

    wide = figures[6]  # the default command over 2000-01-01..tomorrow, 2,000 invoices
    assert wide["rows"] == 2000
    assert wide["api_calls"] <= 1.5 * 2 + 10
    assert wide["verify_api_calls"] <= 30

    peers_wide = figures[8]
    assert peers_wide["rows"] == 1000 + 200 + 50
    assert "stitch_wall_s" in peers_wide or str(peers_wide.get("stitch", "")).startswith("not run:")
