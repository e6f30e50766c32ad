"""The webhook benchmark: edits at the sandbox reach PostgreSQL through the sandbox's signed
webhooks, the receiver, the queue and one worker; and the receiver under load.

`python -m bench.webhooks` (full size: 100 companies, 1,000 edits; 200 POSTs a second for
60 s) or `--smoke` (seconds). Everything runs on this machine: the sandbox and the
receiver as processes of their own, one `qbo-backfill worker` (concurrency 4), PostgreSQL,
and this process (the edits, the load generator, the poller).

- lag: `--edits` invoice edits spread over `--companies` companies (CloudEvents, delay 0),
  `--edit-rate` a second; each edit's lag runs from the admin API's answer to the moment a
  poller (every 0.1 s) sees the edited SyncToken in the raw table.
- load: `--rate` signed POSTs a second for `--seconds` (open loop: each is sent at its
  time, whatever the earlier ones do), 1 to 3 events each for the same companies, while
  the worker syncs what they enqueue; each POST's status and latency; then every event
  sent is looked for in `qbo_backfill_webhook_events`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from aiohttp import ClientSession, ClientTimeout
from psycopg import sql

from bench.fleet import QBO, _env, cli, cpu_seconds, fleet_env, postgres_cpu_seconds, queue_left
from bench.harness import DEFAULT_DATABASE_URL, OUT, Schema
from qbo_backfill.webhooks.signature import sign

VERIFIER = "bench-verifier-token"
WINDOW = ["--start", "2024-01-01", "--end", "2026-01-01"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """A process that prints one JSON line once ready (the sandbox, the receiver)."""
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    line = proc.stdout.readline() if proc.stdout else ""
    if not line:
        raise RuntimeError(f"{' '.join(args[:4])} did not start")
    return proc, json.loads(line)


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (0.0 for none)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


class Stack:
    """Sandbox (webhooks to the receiver), companies copied, receiver and one worker."""

    def __init__(self, url: str, companies: int, invoices: int) -> None:
        self.port = free_port()
        self.home = Path(tempfile.mkdtemp(prefix="webhooks-bench-"))
        self.schema = Schema(url, "webhooks")
        args = [sys.executable, "-m", "qbo_backfill.sandbox", "serve", "--port", "0"]
        args += ["--realms", str(companies), "--invoices", str(invoices), "--customers", "5"]
        args += ["--items", "3", "--other-records", "0", "--webhook-verifier", VERIFIER]
        args += ["--webhook-url", f"http://127.0.0.1:{self.port}/webhooks"]
        args += ["--webhook-retry-scale", "0.05"]
        self.sandbox, self.info = start(args, _env({}))
        self.env = fleet_env(self.info, url, self.schema.name, self.home)
        tokens = self.home / "tokens.json"
        tokens.write_text(json.dumps(self.info["refresh_tokens"]), encoding="utf-8")
        cli(["auth", "import", "--from-json", str(tokens)], self.env)
        cli(["fleet", "backfill", "Invoice", *WINDOW], self.env)
        self.worker = subprocess.Popen(
            [*QBO, "worker", "--concurrency", "4"],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.wait_idle(600)
        receiver_env = {**self.env, "QBO_WEBHOOK_VERIFIER_TOKEN": VERIFIER}
        command = [*QBO, "webhooks", "serve", "--port", str(self.port)]
        self.receiver, self.urls = start(command, receiver_env)
        self.http = httpx.Client(base_url=self.info["base_url"], timeout=60)

    def wait_idle(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while queue_left(self.schema) and time.monotonic() < deadline:
            time.sleep(0.25)

    def close(self) -> None:
        for proc in (self.receiver, self.worker, self.sandbox):
            proc.terminate()
            proc.wait(timeout=120)
        self.http.close()
        self.schema.drop()

    def sync_tokens(self, keys: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """(realm, id) -> the SyncToken the raw table holds now."""
        query = sql.SQL(
            "SELECT realm_id, id, (payload ->> 'SyncToken')::int FROM {} "
            "WHERE (realm_id, id) IN (SELECT * FROM unnest(%s::text[], %s::bigint[]))"
        ).format(sql.Identifier(self.schema.name, "qb_invoice"))
        rows = self.schema.query(query, ([k[0] for k in keys], [k[1] for k in keys]))
        return {(r[0], int(r[1])): int(r[2]) for r in rows}


def lag_run(stack: Stack, edits: int, rate: float) -> dict[str, Any]:
    """Edits spread over the companies at `rate` a second; each one's lag to PostgreSQL."""
    realms = stack.info.get("realm_ids") or [stack.info["realm_id"]]
    ids = {realm: [int(r["Id"]) for r in _records(stack, realm)] for realm in realms}
    pending: dict[tuple[str, int], tuple[int, float]] = {}
    lags: list[float] = []
    started = time.perf_counter()
    for n in range(edits):
        realm = realms[n % len(realms)]
        record_id = ids[realm][(n // len(realms)) % len(ids[realm])]
        while time.perf_counter() < started + n / rate:
            _collect(stack, pending, lags)
            time.sleep(0.005)
        answer = stack.http.post(
            f"/_sandbox/realms/{realm}/Invoice/{record_id}", json={"PrivateNote": f"edit {n}"}
        ).json()
        pending[(realm, record_id)] = (int(answer["SyncToken"]), time.perf_counter())
    deadline = time.perf_counter() + 120
    while pending and time.perf_counter() < deadline:
        _collect(stack, pending, lags)
        time.sleep(0.1)
    counters = stack.http.get("/_sandbox/counters").json()["webhooks"]
    return {
        "edits": edits,
        "companies": len(realms),
        "edit_rate_per_s": rate,
        "arrived": len(lags),
        "lost": len(pending),
        "lag_p50_s": round(percentile(lags, 0.5), 3),
        "lag_p90_s": round(percentile(lags, 0.9), 3),
        "lag_p99_s": round(percentile(lags, 0.99), 3),
        "lag_max_s": round(max(lags), 3) if lags else None,
        "within_10_s": sum(1 for lag in lags if lag < 10),
        "webhook_posts": counters["posts"],
        "webhook_events": counters["events"],
    }


def _records(stack: Stack, realm: str) -> list[dict[str, Any]]:
    return list(stack.http.get(f"/_sandbox/realms/{realm}/Invoice").json()["records"])


def _collect(
    stack: Stack, pending: dict[tuple[str, int], tuple[int, float]], lags: list[float]
) -> None:
    """Move the edits the raw table now holds from `pending` to `lags` (an edit of the same
    record made later replaces the earlier one in `pending`: its lag is the later one's)."""
    if not pending or time.perf_counter() - getattr(_collect, "last", 0.0) < 0.1:
        return
    _collect.last = time.perf_counter()  # type: ignore[attr-defined]
    now = time.perf_counter()
    held = stack.sync_tokens(list(pending))
    for key, (token, at) in list(pending.items()):
        if held.get(key, -1) >= token:
            lags.append(now - at)
            del pending[key]


async def load_run(stack: Stack, rate: int, seconds: int) -> dict[str, Any]:
    """`rate` signed POSTs a second for `seconds`, open loop; statuses, latencies, losses."""
    realms = stack.info.get("realm_ids") or [stack.info["realm_id"]]
    rng = random.Random(7)
    sent: list[str] = []
    results: list[tuple[int, float]] = []
    cpu_before = (cpu_seconds(stack.receiver.pid), cpu_seconds(stack.worker.pid))
    pg_before = postgres_cpu_seconds()

    async def post(session: ClientSession, at: float, body: bytes) -> None:
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        began = time.perf_counter()
        headers = {"intuit-signature": sign(body, VERIFIER), "content-type": "application/json"}
        try:
            async with session.post(stack.urls["webhooks"], data=body, headers=headers) as answer:
                await answer.read()
                results.append((answer.status, time.perf_counter() - began))
        except Exception:  # noqa: BLE001 - a failed POST is counted, not raised
            results.append((0, time.perf_counter() - began))

    async with ClientSession(timeout=ClientTimeout(total=30)) as session:
        origin = time.perf_counter() + 0.5
        tasks = []
        for n in range(rate * seconds):
            events = []
            for _ in range(rng.randint(1, 3)):
                event_id = str(uuid.uuid4())
                sent.append(f"ce:{event_id}")
                realm = rng.choice(realms)
                events.append(_cloud_event(event_id, realm, str(rng.randint(1, 10))))
            tasks.append(
                asyncio.create_task(post(session, origin + n / rate, json.dumps(events).encode()))
            )
        await asyncio.gather(*tasks)
    wall = time.perf_counter() - origin
    stack.wait_idle(300)
    table = sql.Identifier(stack.schema.name, "qbo_backfill_webhook_events")
    [(found,)] = stack.schema.query(
        sql.SQL("SELECT count(*) FROM {} WHERE event_key = ANY(%s)").format(table), (sent,)
    )
    latencies = [latency for _, latency in results]
    return {
        "rate_per_s": rate,
        "seconds": seconds,
        "posts": len(results),
        "wall_s": round(wall, 2),
        "answered_200": sum(1 for status, _ in results if status == 200),
        "within_3_s": sum(1 for status, lat in results if status == 200 and lat < 3),
        "p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
        "events_sent": len(sent),
        "events_recorded": int(found),
        "receiver_cpu_s": round(cpu_seconds(stack.receiver.pid) - cpu_before[0], 1),
        "worker_cpu_s": round(cpu_seconds(stack.worker.pid) - cpu_before[1], 1),
        "postgres_cpu_s": round(postgres_cpu_seconds() - pg_before, 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def _cloud_event(event_id: str, realm: str, record_id: str) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "bench",
        "type": "qbo.invoice.updated.v1",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "intuitentityid": record_id,
        "intuitaccountid": realm,
        "datacontenttype": "application/json",
        "data": {},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.webhooks", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, seconds (CI)")
    parser.add_argument("--companies", type=int, default=100)
    parser.add_argument("--invoices", type=int, default=10, help="invoices per company")
    parser.add_argument("--edits", type=int, default=1000)
    parser.add_argument("--edit-rate", type=float, default=10.0, help="edits a second")
    parser.add_argument("--rate", type=int, default=200, help="POSTs a second")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--only", default="lag,load", help="parts to run: lag, load or both")
    parser.add_argument(
        "--database-url", default=os.environ.get("QBO_BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    args = parser.parse_args(argv)
    parts = {part.strip() for part in args.only.split(",")}
    if args.smoke:
        args.companies, args.edits, args.edit_rate, args.rate, args.seconds = 3, 12, 6.0, 20, 2
    stack = Stack(args.database_url, args.companies, args.invoices)
    lag: dict[str, Any] = {}
    load: dict[str, Any] = {}
    try:
        if "lag" in parts:
            lag = lag_run(stack, args.edits, args.edit_rate)
            print(json.dumps({"lag": lag}), flush=True)
        if "load" in parts:
            load = asyncio.run(load_run(stack, args.rate, args.seconds))
            print(json.dumps({"load": load}), flush=True)
    finally:
        stack.close()
    OUT.mkdir(parents=True, exist_ok=True)
    tag = "-smoke" if args.smoke else ""
    machine = {"cores": os.cpu_count(), "at": time.strftime("%Y-%m-%d %H:%M %Z")}
    body = {"machine": machine, "lag": lag, "load": load}
    name = "webhooks" if parts >= {"lag", "load"} else f"webhooks-{'-'.join(sorted(parts))}"
    (OUT / f"{name}{tag}.json").write_text(json.dumps(body, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
