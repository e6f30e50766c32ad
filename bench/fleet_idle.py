"""The cost of keeping a fleet current: `fleet sync` of many companies with no change, and
with one change each, measured in CPU (the worker and the PostgreSQL server) and API calls.

`python -m bench.fleet_idle --companies 1000 [--companies-per-job K]` (or `--smoke`): the
sandbox serves N companies (10 invoices, 5 customers, 3 items each), `fleet backfill
Invoice Customer Item` copies them with one worker (concurrency 4), a first `fleet sync`
runs (warm-up: the first sync of an entity prepares its cursor), then, measured from the
enqueue to the empty queue:
a `fleet sync` with no change anywhere, and one after one invoice edit per company. The
projection: that CPU per company x 10,000 companies an hour, as a share of 2 cores.
PostgreSQL's CPU is given twice: the whole server's (other work on the machine counts in it)
and that of the backends serving the worker (`PGAPPNAME`), which leaves out the enqueueing
command's own connections.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
from psycopg import sql

from bench.fleet import (
    QBO,
    api_calls,
    cli,
    cpu_seconds,
    fleet_env,
    postgres_cpu_seconds,
    queue_left,
    start_sandbox,
)
from bench.harness import DEFAULT_DATABASE_URL, OUT, Schema

ENTITIES = ["Invoice", "Customer", "Item"]
WINDOW = ["--start", "2024-01-01", "--end", "2026-01-01"]
HOURLY_COMPANIES = 10_000
APP_NAME = f"qbo-fleet-idle-{os.getpid()}"
CORES = 2


def measured_sync(
    env: dict[str, str],
    schema: Schema,
    worker: subprocess.Popen[bytes],
    base_url: str,
    per_job: int | None,
) -> dict[str, Any]:
    """One `fleet sync` of every company, from the enqueue to the empty queue."""
    calls, worker_cpu, pg_cpu = api_calls(base_url), cpu_seconds(worker.pid), postgres_cpu_seconds()
    start = backend_cpu(schema)
    seen = dict(start)
    started = time.perf_counter()
    cli(["fleet", "sync", *([] if per_job is None else ["--companies-per-job", str(per_job)])], env)
    time.sleep(0.2)
    while queue_left(schema):
        seen.update(backend_cpu(schema))
        time.sleep(0.2)
    seen.update(backend_cpu(schema))
    return {
        "wall_s": round(time.perf_counter() - started, 2),
        "worker_cpu_s": round(cpu_seconds(worker.pid) - worker_cpu, 2),
        "postgres_cpu_s": round(postgres_cpu_seconds() - pg_cpu, 2),
        "worker_backends_cpu_s": round(sum(seen[p] - start.get(p, 0.0) for p in seen), 2),
        "api_calls": api_calls(base_url) - calls,
    }


def backend_cpu(schema: Schema) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving the worker (its application name);
    sampled every 0.2 s, so a backend that ends loses at most its last 0.2 s."""
    query = sql.SQL("SELECT pid FROM pg_stat_activity WHERE application_name = %s")
    cpu: dict[int, float] = {}
    for (pid,) in schema.query(query, (APP_NAME,)):
        try:
            cpu[int(pid)] = cpu_seconds(int(pid))
        except psutil.Error:
            continue
    return cpu


def with_projection(figures: dict[str, Any], companies: int) -> dict[str, Any]:
    """Per company CPU, and 10,000 companies hourly as a share of 2 cores."""
    cpu_ms = (figures["worker_cpu_s"] + figures["postgres_cpu_s"]) * 1000 / companies
    share = HOURLY_COMPANIES * cpu_ms / 1000 / 3600 / CORES
    own_ms = (figures["worker_cpu_s"] + figures["worker_backends_cpu_s"]) * 1000 / companies
    own_share = HOURLY_COMPANIES * own_ms / 1000 / 3600 / CORES
    return {
        **figures,
        "own_cpu_ms_per_company": round(own_ms, 1),
        "own_share_of_2_cores_at_10000_hourly_pct": round(own_share * 100, 2),
        "cpu_ms_per_company": round(cpu_ms, 1),
        "worker_cpu_ms_per_company": round(figures["worker_cpu_s"] * 1000 / companies, 1),
        "postgres_cpu_ms_per_company": round(figures["postgres_cpu_s"] * 1000 / companies, 1),
        "calls_per_company": round(figures["api_calls"] / companies, 2),
        "share_of_2_cores_at_10000_hourly_pct": round(share * 100, 2),
    }


def run(url: str, companies: int, per_job: int | None) -> dict[str, Any]:
    sandbox, info = start_sandbox(companies, 10)
    home = Path(tempfile.mkdtemp(prefix="fleet-idle-"))
    schema = Schema(url, "fleet_idle")
    worker: subprocess.Popen[bytes] | None = None
    try:
        env = fleet_env(info, url, schema.name, home)
        tokens = home / "tokens.json"
        tokens.write_text(json.dumps(info["refresh_tokens"]), encoding="utf-8")
        cli(["auth", "import", "--from-json", str(tokens)], env)
        cli(["fleet", "backfill", *ENTITIES, *WINDOW], env)
        command = [*QBO, "worker", "--concurrency", "4"]
        worker = subprocess.Popen(
            command,
            env={**env, "PGAPPNAME": APP_NAME},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started = time.perf_counter()
        while queue_left(schema):
            time.sleep(0.5)
        backfill_s = time.perf_counter() - started
        warm = measured_sync(env, schema, worker, info["base_url"], per_job)
        idle = measured_sync(env, schema, worker, info["base_url"], per_job)
        with httpx.Client(base_url=info["base_url"], timeout=60) as http:
            for realm in info.get("realm_ids") or [info["realm_id"]]:
                http.post(f"/_sandbox/realms/{realm}/Invoice/1", json={"PrivateNote": "one change"})
        changed = measured_sync(env, schema, worker, info["base_url"], per_job)
        return {
            "companies": companies,
            "companies_per_job": per_job or "default",
            "entities": ENTITIES,
            "backfill_s": round(backfill_s, 1),
            "first_sync": with_projection(warm, companies),
            "no_change": with_projection(idle, companies),
            "one_change_each": with_projection(changed, companies),
            "load_average_1m": round(os.getloadavg()[0], 2),
        }
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=120)
        sandbox.terminate()
        sandbox.wait(timeout=60)
        schema.drop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet_idle", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, seconds (CI)")
    parser.add_argument("--companies", type=int, default=1000)
    parser.add_argument(
        "--companies-per-job", type=int, default=None, help="fleet sync's (default: its own)"
    )
    parser.add_argument(
        "--database-url", default=os.environ.get("QBO_BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    args = parser.parse_args(argv)
    companies = 10 if args.smoke else args.companies
    result = run(args.database_url, companies, args.companies_per_job)
    result["machine"] = {"cores": os.cpu_count(), "at": time.strftime("%Y-%m-%d %H:%M %Z")}
    print(json.dumps(result), flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    tag = ("-smoke" if args.smoke else "") + (
        f"-per-job-{args.companies_per_job}" if args.companies_per_job else ""
    )
    (OUT / f"fleet-idle{tag}.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
