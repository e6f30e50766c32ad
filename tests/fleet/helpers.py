"""Helpers for the fleet's tests: a `Fleet` (the CLI's environment, its worker processes,
the queue and the ledger as the database holds them), and the comparison of every
company's raw tables with the sandbox."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from tests.helpers import views_schema_of

from qbo_backfill.sandbox import Sandbox

SRC = Path(__file__).resolve().parents[2] / "src"
QBO = [sys.executable, "-m", "qbo_backfill"]


def fleet_env(
    sb: Sandbox, database_url: str, schema: str, home: Path, **extra: str
) -> dict[str, str]:
    """The CLI's environment: the sandbox's app, the test's schema, this checkout's source.
    No QBO_REALM_ID and no refresh token: the fleet takes its companies from the store."""
    info = sb.info
    path = os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH", "")) if p)
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": path,
        "QBO_CLIENT_ID": info.client_id,
        "QBO_CLIENT_SECRET": info.client_secret,
        "QBO_API_BASE_URL": info.base_url,
        "QBO_TOKEN_URL": info.token_url,
        "QBO_DATABASE_URL": database_url,
        "QBO_SCHEMA": schema,
        "QBO_VIEWS_SCHEMA": views_schema_of(schema),
        "QBO_HOME": str(home),
        "QBO_BACKOFF_SECONDS": "0.05",
        "QBO_THROTTLE_WAIT_SECONDS": "0.5",
        **extra,
    }


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*QBO, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


class WorkerProcess:
    """A `qbo-backfill worker` subprocess, its log kept in a file."""

    def __init__(
        self, env: dict[str, str], cwd: Path, name: str, concurrency: int = 4, *options: str
    ) -> None:
        self.log_path = cwd / f"{name}.log"
        self._log = self.log_path.open("w", encoding="utf-8")
        self.signalled = False
        self.process = subprocess.Popen(
            [*QBO, "worker", "--concurrency", str(concurrency), *options],
            env=env,
            cwd=cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM, then wait for the exit code."""
        self.stop()
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGUSR1)  # the worker logs where it waits
            time.sleep(1)
            self.kill()
            raise AssertionError(f"the worker did not stop: {self.log()[-6000:]}") from None
        self._log.close()
        return code

    def stop(self) -> None:
        """SIGTERM, once (a second one during the exit would kill the process)."""
        if not self.signalled and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.signalled = True

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=30)
        self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8")


@dataclass
class Fleet:
    """The fleet of one test: the sandbox's companies, the CLI's environment and folder, and
    the workers started (the `fleet` fixture kills any a test leaves running)."""

    sandbox: Sandbox
    env: dict[str, str]
    cwd: Path
    workers: list[WorkerProcess] = field(default_factory=list)

    @property
    def database_url(self) -> str:
        return self.env["QBO_DATABASE_URL"]

    @property
    def schema(self) -> str:
        return self.env["QBO_SCHEMA"]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(list(args), self.env, self.cwd)

    def enqueue(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`fleet ARGS` (backfill or sync), which must succeed."""
        result = self.cli("fleet", *args)
        assert result.returncode == 0, result.stderr
        return result

    def import_tokens(self) -> subprocess.CompletedProcess[str]:
        """`auth import --from-json` of the sandbox's current refresh tokens."""
        path = self.cwd / "tokens.json"
        path.write_text(json.dumps(self.sandbox.info.refresh_tokens), encoding="utf-8")
        return self.cli("auth", "import", "--from-json", str(path))

    def start_worker(self, name: str, concurrency: int = 4, *options: str) -> WorkerProcess:
        worker = WorkerProcess(self.env, self.cwd, name, concurrency, *options)
        self.workers.append(worker)
        return worker

    def status(self) -> dict[str, Any]:
        """`fleet status --format json`, which must succeed."""
        result = self.cli("fleet", "status", "--format", "json")
        assert result.returncode == 0, result.stderr
        return dict(json.loads(result.stdout))

    def jobs(self) -> dict[str, int]:
        """The queue's jobs by status, read from its table (statuses with no job left out)."""
        table = sql.Identifier(self.schema, "procrastinate_jobs")
        query = sql.SQL("SELECT status::text, count(*) FROM {} GROUP BY 1").format(table)
        return {state: int(number) for state, number in self.fetch(query)}

    def queue_idle(self) -> bool:
        jobs = self.jobs()
        return jobs.get("todo", 0) == 0 and jobs.get("doing", 0) == 0 and sum(jobs.values()) > 0

    def wait_idle(self, timeout: float, what: str = "the queue to drain") -> None:
        wait_until(self.queue_idle, timeout, what)

    def fetch(
        self, query: sql.SQL | sql.Composed, params: Iterable[Any] = ()
    ) -> list[tuple[Any, ...]]:
        """Every row of one query, on a connection of its own."""
        with psycopg.connect(self.database_url, connect_timeout=5) as conn:
            return conn.execute(query, tuple(params)).fetchall()

    def chunks(self) -> list[tuple[str, int, str, int, int]]:
        """(realm, chunk id, status, attempts, rows_extracted) of every chunk."""
        return [
            (r[0], r[1], r[2], r[3], r[4])
            for r in self.fetch(
                sql.SQL(
                    "SELECT r.realm_id, c.chunk_id, c.status, c.attempts, c.rows_extracted "
                    "FROM {} c JOIN {} r USING (run_id) ORDER BY c.chunk_id"
                ).format(
                    sql.Identifier(self.schema, "qbo_backfill_chunks"),
                    sql.Identifier(self.schema, "qbo_backfill_runs"),
                )
            )
        ]

    def done_chunks(self) -> int:
        """Chunks marked done so far (0 before the first plan job made the ledger)."""
        try:
            return sum(1 for chunk in self.chunks() if chunk[2] == "done")
        except psycopg.errors.UndefinedTable:
            return 0

    def api_calls(self) -> int:
        """The data requests every company's sandbox answered since its counters were reset."""
        realms = self.sandbox.counters()["realms"]
        return sum(sum(c["requests"].values()) for c in realms.values())

    def assert_exact(self, *entities: str, realms: Iterable[str] | None = None) -> None:
        """Each company's live rows are exactly the sandbox's records, payload for payload."""
        for realm in self.sandbox.info.realm_ids if realms is None else realms:
            for entity in entities:
                expected = {int(r["Id"]): r for r in self.sandbox.records(entity, realm)}
                got = self.live_rows(f"qb_{entity.lower()}", realm)
                assert set(got) == set(expected), f"{realm} {entity}: ids differ"
                assert got == expected, f"{realm} {entity}: payloads differ"

    def live_rows(self, table: str, realm: str) -> dict[int, Any]:
        """The company's live rows (not marked deleted), id -> payload."""
        query = sql.SQL(
            "SELECT id, payload FROM {} WHERE realm_id = %s AND deleted_at_utc IS NULL"
        ).format(sql.Identifier(self.schema, table))
        return {r[0]: r[1] for r in self.fetch(query, [realm])}

    def marked_deleted(self, realm: str, invoice: int) -> bool:
        """Whether the company's invoice row is kept and marked deleted."""
        query = sql.SQL(
            "SELECT 1 FROM {} WHERE realm_id = %s AND id = %s AND deleted_at_utc IS NOT NULL"
        ).format(sql.Identifier(self.schema, "qb_invoice"))
        return len(self.fetch(query, [realm, invoice])) == 1


MakeFleet = Callable[..., Fleet]


def stop_all(workers: list[WorkerProcess]) -> list[int]:
    """SIGTERM every worker at once, then collect each exit code (none is left running)."""
    for worker in workers:
        worker.stop()
    codes, stuck = [], []
    for worker in workers:
        try:
            codes.append(worker.terminate())
        except AssertionError as exc:
            stuck.append(str(exc))
    assert not stuck, stuck
    return codes


def wait_until(check: Callable[[], bool], timeout: float, what: str, step: float = 0.5) -> None:
    """Poll `check` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
