"""The fleet benchmark: many small companies copied by 1, 2 and 4 worker processes.

`python -m bench.fleet --companies 1000 --workers 1,2,4` starts the sandbox as its own
process with N companies (`--realms N`, Intuit's per-company limits), imports their tokens
(`auth import --from-json`), enqueues `fleet backfill Invoice`, then for each worker count
runs that many `qbo-backfill worker` processes into a fresh schema until the queue is empty.
Measured: wall time (workers started -> queue empty), rows/s, API calls per 1,000 rows (the
sandbox's counters), the peak resident memory of each worker (psutil, sampled every 0.5 s),
the peak PostgreSQL connections the workers held (`pg_stat_activity` by application name),
the CPU seconds of the workers, the sandbox and the PostgreSQL server, and plain COPY of
the same payloads into the same database, for the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from psycopg import sql

from bench.harness import DEFAULT_DATABASE_URL, Schema
from bench.raw_speed import PAGE, _time_plain_copy

SRC = Path(__file__).resolve().parents[1] / "src"
QBO = [sys.executable, "-m", "qbo_backfill"]
WINDOW = ["--start", "2024-01-01", "--end", "2026-01-01"]


def start_sandbox(
    companies: int, invoices: int, prerender: bool = False
) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    args = [sys.executable, "-m", "qbo_backfill.sandbox", "serve", "--port", "0"]
    args += ["--realms", str(companies), "--invoices", str(invoices), "--customers", "5"]
    args += ["--items", "3", "--other-records", "0", *(["--prerender"] if prerender else [])]
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=_env({})
    )
    line = proc.stdout.readline() if proc.stdout else ""
    if not line:
        raise RuntimeError("the sandbox did not start")
    return proc, json.loads(line)


def _env(extra: dict[str, str]) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(SRC), **extra}


def fleet_env(info: dict[str, Any], url: str, schema: str, home: Path) -> dict[str, str]:
    return _env(
        {
            "QBO_CLIENT_ID": info["client_id"],
            "QBO_CLIENT_SECRET": info["client_secret"],
            "QBO_API_BASE_URL": info["base_url"],
            "QBO_TOKEN_URL": info["token_url"],
            "QBO_DATABASE_URL": url,
            "QBO_SCHEMA": schema,
            "QBO_VIEWS_SCHEMA": f"{schema}_views",
            "QBO_HOME": str(home),
        }
    )


def cli(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run([*QBO, *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {done.stderr[-2000:]}")
    return done.stdout


def api_calls(base_url: str) -> int:
    import httpx

    realms = httpx.get(f"{base_url}/_sandbox/counters", timeout=60).json()["realms"]
    return sum(sum(c["requests"].values()) for c in realms.values())


def queue_left(schema: Schema) -> int:
    """Jobs waiting or running."""
    jobs = sql.Identifier(schema.name, "procrastinate_jobs")
    query = sql.SQL("SELECT count(*) FROM {} WHERE status IN ('todo', 'doing')").format(jobs)
    [(left,)] = schema.query(query)
    return int(left)


def connections(schema: Schema, app_name: str) -> int:
    """The database connections open under `app_name`."""
    query = sql.SQL("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s")
    [(held,)] = schema.query(query, (app_name,))
    return int(held)


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def postgres_cpu_seconds() -> float:
    """CPU of the local PostgreSQL server: its running processes, and the ended backends the
    postmaster has reaped (its children's times). Other databases' work counts too."""
    total = 0.0
    for proc in psutil.process_iter(["name", "ppid"]):
        if not (proc.info["name"] or "").startswith("postgres") or proc.info["ppid"] != 1:
            continue
        try:
            times = proc.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
            total += sum(cpu_seconds(child.pid) for child in proc.children())
        except psutil.Error:
            continue
    return total


def one_run(
    info: dict[str, Any], url: str, workers: int, concurrency: int, sandbox_pid: int
) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="fleet-bench-"))
    tokens = home / "tokens.json"
    tokens.write_text(json.dumps(info["refresh_tokens"]), encoding="utf-8")
    with Schema(url, f"fleet_{workers}w") as schema:
        env = fleet_env(info, url, schema.name, home)
        cli(["auth", "import", "--from-json", str(tokens)], env)
        enqueue_started = time.perf_counter()
        cli(["fleet", "backfill", "Invoice", *WINDOW], env)
        enqueue_s = time.perf_counter() - enqueue_started
        calls_before = api_calls(info["base_url"])
        app_name = f"qbo-fleet-bench-{workers}-{os.getpid()}"
        worker_env = env | {"PGAPPNAME": app_name}
        command = [*QBO, "worker", "--concurrency", str(concurrency)]
        started = time.perf_counter()
        sandbox_cpu, postgres_cpu = cpu_seconds(sandbox_pid), postgres_cpu_seconds()
        procs = [
            subprocess.Popen(
                command, env=worker_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            for _ in range(workers)
        ]
        peak_rss, peak_conns, worker_cpu = [0] * workers, 0, [0.0] * workers
        while queue_left(schema):
            for n, proc in enumerate(procs):
                try:
                    peak_rss[n] = max(peak_rss[n], psutil.Process(proc.pid).memory_info().rss)
                    worker_cpu[n] = cpu_seconds(proc.pid)
                except psutil.NoSuchProcess:
                    raise RuntimeError("a worker died") from None
            peak_conns = max(peak_conns, connections(schema, app_name))
            time.sleep(0.5)
        wall = time.perf_counter() - started
        sandbox_cpu = cpu_seconds(sandbox_pid) - sandbox_cpu
        postgres_cpu = postgres_cpu_seconds() - postgres_cpu
        load = os.getloadavg()[0]
        for proc in procs:
            proc.terminate()
        codes = [proc.wait(timeout=120) for proc in procs]
        calls = api_calls(info["base_url"]) - calls_before
        status = json.loads(cli(["fleet", "status", "--format", "json"], env))
        rows, copy_seconds = plain_copy(schema, info["realm_id"])
        return {
            "workers": workers,
            "concurrency": concurrency,
            "companies": status["realms"],
            "jobs": status["jobs"],
            "exit_codes": codes,
            "rows": rows,
            "enqueue_s": round(enqueue_s, 2),
            "wall_s": round(wall, 2),
            "rows_per_s": round(rows / wall),
            "api_calls": calls,
            "calls_per_1000_rows": round(calls * 1000 / rows, 1),
            "peak_rss_mb_per_worker": [round(r / 2**20, 1) for r in peak_rss],
            "peak_pg_connections": peak_conns,
            "workers_cpu_s": round(sum(worker_cpu), 1),
            "sandbox_cpu_s": round(sandbox_cpu, 1),
            "postgres_cpu_s": round(postgres_cpu, 1),
            "load_average_1m_at_end": round(load, 2),
            "plain_copy_rows_per_s": round(rows / copy_seconds),
            "fleet_vs_copy": round((rows / wall) / (rows / copy_seconds), 3),
        }


def plain_copy(schema: Schema, realm: str) -> tuple[int, float]:
    """The raw table's rows, and seconds to COPY the same payloads into a bare table, timed
    as scenario 3 times it (one realm id on every row: COPY does the same work whichever)."""
    table = sql.Identifier(schema.name, "qb_invoice")
    payloads = [r[0] for r in schema.query(sql.SQL("SELECT payload FROM {}").format(table))]
    pages = [
        json.dumps({"QueryResponse": {"Invoice": payloads[n : n + PAGE]}}).encode()
        for n in range(0, len(payloads), PAGE)
    ]
    return len(payloads), _time_plain_copy(schema.url, schema.name, realm, pages)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet", description=__doc__)
    parser.add_argument("--companies", type=int, default=1000)
    parser.add_argument("--invoices", type=int, default=100, help="invoices per company")
    parser.add_argument("--workers", default="1,2,4", help="worker counts, e.g. 1,2,4")
    parser.add_argument("--concurrency", type=int, default=4, help="jobs per worker")
    parser.add_argument(
        "--database-url", default=os.environ.get("QBO_BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    parser.add_argument(
        "--sandbox-prerender",
        action="store_true",
        help="the sandbox builds its records at start: its CPU (Intuit's, in production) "
        "then leaves the measured window almost whole",
    )
    args = parser.parse_args(argv)
    sandbox, info = start_sandbox(args.companies, args.invoices, args.sandbox_prerender)
    try:
        print(f"# {platform.node()} nproc={os.cpu_count()} {time.strftime('%Y-%m-%d %H:%M')}")
        for workers in (int(w) for w in args.workers.split(",")):
            result = one_run(info, args.database_url, workers, args.concurrency, sandbox.pid)
            print(json.dumps({**result, "sandbox_prerender": args.sandbox_prerender}), flush=True)
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
