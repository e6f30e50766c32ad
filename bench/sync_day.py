"""Scenario 7: what a sync costs. A company of N invoices is backfilled; a day of changes
follows (edits, voids, deletes, new invoices, customers made inactive), spread over the
sandbox's clock; `qbo-backfill sync` brings the copy up to date. Then an idle sync, and a
second day of changes synced after a 40-day gap (the LastUpdatedTime path, deletes found by
counts)."""

from __future__ import annotations

import random
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from psycopg import sql

from bench.harness import (
    PYTHON,
    Row,
    SandboxProcess,
    Schema,
    api_calls,
    backfill_env,
    require_ok,
    run_backfill,
)

DAY = 86400
FORTY_DAYS = 40 * DAY


def run(database_url: str, *, invoices: int, latency_ms: float, jitter_ms: float) -> Row:
    """The row of scenario 7."""
    sandbox = SandboxProcess(invoices=invoices, latency_ms=latency_ms, jitter_ms=jitter_ms)
    with sandbox, Schema(database_url, "sync") as schema, tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        backfilled = run_backfill(sandbox, schema, home)
        require_ok(backfilled, "backfill before the sync")
        rng = random.Random(61)
        day = _day_of_changes(sandbox, rng, invoices)
        first = _measured_sync(sandbox, schema, home)
        idle = _measured_sync(sandbox, schema, home)
        _day_of_changes(sandbox, rng, invoices)
        sandbox.http.post("/_sandbox/clock", json={"advance_seconds": FORTY_DAYS})
        late = _measured_sync(sandbox, schema, home)
        marked = schema.query(
            sql.SQL("SELECT count(*) FROM {} WHERE deleted_at_utc IS NOT NULL").format(
                sql.Identifier(schema.name, "qb_invoice")
            )
        )[0][0]
    return Row(
        7,
        f"sync after a day of changes ({invoices:,} invoices, {latency_ms:g}±{jitter_ms:g} ms)",
        {
            "changes_per_day": day,
            "sync_api_calls": first["calls"],
            "sync_wall_s": first["seconds"],
            "idle_api_calls": idle["calls"],
            "idle_wall_s": idle["seconds"],
            "after_40_days_api_calls": late["calls"],
            "after_40_days_wall_s": late["seconds"],
            "invoices_marked_deleted": marked,
            "requests_by_endpoint": {"day": first["by"], "idle": idle["by"], "late": late["by"]},
        },
        {"idle <=2 calls": idle["calls"] <= 2, "day <=10 calls": first["calls"] <= 10},
    )


def _day_of_changes(sandbox: SandboxProcess, rng: random.Random, invoices: int) -> int:
    """500 edits, 50 voids, 50 deletes, 100 new invoices, 20 customers made inactive, spread
    over 24 hours of the sandbox's clock; the number of changes."""
    realm = f"/_sandbox/realms/{sandbox.realm}"
    picked = rng.sample(range(1, invoices + 1), 600)
    calls: list[tuple[str, str, dict[str, Any] | None]] = []
    calls += [("POST", f"{realm}/Invoice/{i}", {"PrivateNote": "edited"}) for i in picked[:500]]
    calls += [("POST", f"{realm}/Invoice/{i}/void", None) for i in picked[500:550]]
    calls += [("DELETE", f"{realm}/Invoice/{i}", None) for i in picked[550:]]
    calls += [("POST", f"{realm}/Invoice", {"CustomerRef": {"value": "1"}})] * 100
    calls += [("DELETE", f"{realm}/Customer/{c}", None) for c in rng.sample(range(1, 200), 20)]
    rng.shuffle(calls)
    step = DAY // len(calls)
    for method, path, body in calls:
        sandbox.http.post("/_sandbox/clock", json={"advance_seconds": step})
        response = sandbox.http.request(method, path, json=body)
        if response.status_code not in (200, 201, 404):  # 404: already deleted this day
            response.raise_for_status()
    return len(calls)


def _measured_sync(sandbox: SandboxProcess, schema: Schema, home: Path) -> dict[str, Any]:
    sandbox.reset()
    env = backfill_env(sandbox, schema, home)
    started = time.perf_counter()
    done = subprocess.run(
        [PYTHON, "-m", "qbo_backfill", "sync", "--json-logs"],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = round(time.perf_counter() - started, 2)
    if done.returncode != 0:
        raise RuntimeError(f"sync exited {done.returncode}: {done.stderr[-3000:]}")
    counters = sandbox.counters()
    return {"calls": api_calls(counters), "seconds": seconds, "by": counters["requests"]}
