"""Helpers for the fleet's tests: CLI and worker processes, waiting on the queue, comparing
every company's raw tables with the sandbox."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

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
        "QBO_HOME": str(home),
        "QBO_BACKOFF_SECONDS": "0.05",
        "QBO_THROTTLE_WAIT_SECONDS": "0.5",
        **extra,
    }


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*QBO, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def import_tokens(sb: Sandbox, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    path = cwd / "tokens.json"
    path.write_text(json.dumps(sb.info.refresh_tokens), encoding="utf-8")
    return run_cli(["auth", "import", "--from-json", str(path)], env, cwd)


class WorkerProcess:
    """A `qbo-backfill worker` subprocess, its log kept in a file."""

    def __init__(self, env: dict[str, str], cwd: Path, name: str, concurrency: int = 4) -> None:
        self.log_path = cwd / f"{name}.log"
        self._log = self.log_path.open("w", encoding="utf-8")
        self.signalled = False
        self.process = subprocess.Popen(
            [*QBO, "worker", "--concurrency", str(concurrency)],
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


def status(env: dict[str, str], cwd: Path) -> dict[str, Any]:
    result = run_cli(["fleet", "status", "--format", "json"], env, cwd)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def wait_until(check: Callable[[], bool], timeout: float, what: str, step: float = 0.5) -> None:
    """Poll `check` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def jobs_by_status(database_url: str, schema: str) -> dict[str, int]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            sql.SQL("SELECT status::text, count(*) FROM {} GROUP BY 1").format(
                sql.Identifier(schema, "procrastinate_jobs")
            )
        ).fetchall()
    return {r[0]: int(r[1]) for r in rows}


def queue_idle(database_url: str, schema: str) -> bool:
    counts = jobs_by_status(database_url, schema)
    return counts.get("todo", 0) == 0 and counts.get("doing", 0) == 0 and sum(counts.values()) > 0


def realm_rows(database_url: str, schema: str, table: str, realm: str) -> dict[int, Any]:
    """The company's live rows (not marked deleted), id -> payload."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            sql.SQL(
                "SELECT id, payload FROM {} WHERE realm_id = %s AND deleted_at_utc IS NULL"
            ).format(sql.Identifier(schema, table)),
            (realm,),
        ).fetchall()
    return {r[0]: r[1] for r in rows}


def assert_exact(sb: Sandbox, database_url: str, schema: str, realm: str, entity: str) -> None:
    """The company's live rows are exactly the sandbox's records, payload for payload."""
    expected = {int(r["Id"]): r for r in sb.records(entity, realm)}
    got = realm_rows(database_url, schema, f"qb_{entity.lower()}", realm)
    assert set(got) == set(expected), f"{realm} {entity}: ids differ"
    assert got == expected, f"{realm} {entity}: payloads differ"


def chunk_attempts(database_url: str, schema: str) -> list[tuple[str, int, str, int, int]]:
    """(realm, chunk id, status, attempts, rows_extracted) of every chunk."""
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            sql.SQL(
                "SELECT r.realm_id, c.chunk_id, c.status, c.attempts, c.rows_extracted "
                "FROM {} c JOIN {} r USING (run_id) ORDER BY c.chunk_id"
            ).format(
                sql.Identifier(schema, "qbo_backfill_chunks"),
                sql.Identifier(schema, "qbo_backfill_runs"),
            )
        ).fetchall()


def count_marked(database_url: str, schema: str, realm: str, invoice: int) -> int:
    """1 when the company's invoice row is kept and marked deleted."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            sql.SQL(
                "SELECT count(*) FROM {} WHERE realm_id = %s AND id = %s "
                "AND deleted_at_utc IS NOT NULL"
            ).format(sql.Identifier(schema, "qb_invoice")),
            (realm, invoice),
        ).fetchone()
    return int(row[0]) if row else 0
