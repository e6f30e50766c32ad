"""Shared pieces of the reliability tests and harnesses: a sandbox in its own process, the
CLI as a subprocess, and exact comparisons of the raw tables with the sandbox's records."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql
from tests.helpers import QBO_MODULE, REPO, sandbox_env

from qbo_backfill.auth.oauth import ClientCredentials, refresh_grant
from qbo_backfill.auth.tokens import TOKEN_TABLE, TokenCipher
from qbo_backfill.sandbox import SandboxConfig
from qbo_backfill.settings import Secret

ENTITIES = ("Customer", "Item", "Invoice")


@dataclass
class SandboxProcess:
    """`python -m qbo_backfill.sandbox serve` in a process of its own, and its admin API."""

    args: list[str]
    info: dict[str, Any] = field(default_factory=dict)
    process: subprocess.Popen[str] | None = None

    def start(self) -> SandboxProcess:
        command = [sys.executable, "-m", "qbo_backfill.sandbox", "serve", "--port", "0"]
        self.process = subprocess.Popen(
            [*command, *self.args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=REPO,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(timeout=10)
            raise RuntimeError(f"sandbox did not start (exit {self.process.returncode})")
        self.info = json.loads(line)
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        url = self.info["base_url"] + "/_sandbox" + path
        response = httpx.request(method, url, json=body, timeout=120)
        response.raise_for_status()
        return response.json()

    def records(self, entity: str) -> dict[int, dict[str, Any]]:
        """id -> record, inactive included, as the sandbox holds them."""
        body = self.admin("GET", f"/realms/{self.info['realm_id']}/{entity}")
        return {int(r["Id"]): r for r in body["records"]}

    def counters(self) -> dict[str, Any]:
        result: dict[str, Any] = self.admin("GET", "/counters")
        return result

    def set_faults(self, spec: str) -> None:
        self.admin("POST", "/faults", {"spec": spec})

    def current_refresh_token(self) -> str:
        return str(self.admin("GET", "/tokens")["refresh_tokens"][self.info["realm_id"]])


# The sandbox's request-rate limits, off unless a test sets them: these tests study faults,
# crashes and data, not pacing.
UNPACED: dict[str, Any] = {"rate_limit_per_min": 0, "rate_limit_per_sec": 0}


def serve_args(**fields: Any) -> list[str]:
    """`sandbox serve` options for `SandboxConfig` fields: `items=5` is `--items=5`."""
    unknown = set(fields) - {f.name for f in dataclasses.fields(SandboxConfig)}
    assert not unknown, f"not SandboxConfig fields: {sorted(unknown)}"
    return [f"--{name.replace('_', '-')}={value}" for name, value in fields.items()]


@contextmanager
def sandbox_process(*args: str, **fields: Any) -> Iterator[SandboxProcess]:
    """A sandbox in its own process, started with `args` and the `SandboxConfig` `fields`;
    its request rate is not limited unless the fields say so."""
    sandbox = SandboxProcess([*args, *serve_args(**(UNPACED | fields))]).start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


def cli_env(
    info: dict[str, Any], database_url: str, schema: str, home: Path, **extra: str
) -> dict[str, str]:
    """`sandbox_env`, with short throttle waits and no pacing to speak of."""
    fast = {"QBO_THROTTLE_WAIT_SECONDS": "0.2", "QBO_REQUESTS_PER_MINUTE": "60000"}
    return sandbox_env(info, database_url, schema, home, **(fast | extra))


def start_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*QBO_MODULE, *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


# ---- comparisons --------------------------------------------------------------------------


@dataclass
class Comparison:
    """How a raw table differs from the sandbox: every count must be 0 for an exact copy."""

    entity: str
    compared: int = 0
    missing: list[int] = field(default_factory=list)
    extra: list[int] = field(default_factory=list)
    different: list[int] = field(default_factory=list)
    inactive: int = 0

    @property
    def exact(self) -> bool:
        return not (self.missing or self.extra or self.different)

    def summary(self) -> str:
        return (
            f"{self.entity}: {self.compared} compared, missing {self.missing[:5]}"
            f"({len(self.missing)}), extra {self.extra[:5]}({len(self.extra)}), "
            f"different {self.different[:5]}({len(self.different)})"
        )


def table_payloads(database_url: str, schema: str, entity: str) -> dict[int, Any]:
    table = sql.Identifier(schema, f"qb_{entity.lower()}")
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(sql.SQL("SELECT id, payload FROM {}").format(table)).fetchall()
    return {int(row[0]): row[1] for row in rows}


def compare(sandbox: SandboxProcess, database_url: str, schema: str, entity: str) -> Comparison:
    """Ids and whole payloads of the table against the sandbox's records."""
    source = sandbox.records(entity)
    table = table_payloads(database_url, schema, entity)
    result = Comparison(entity, compared=len(source))
    result.missing = sorted(set(source) - set(table))
    result.extra = sorted(set(table) - set(source))
    result.different = sorted(i for i in set(source) & set(table) if source[i] != table[i])
    result.inactive = sum(1 for r in source.values() if r.get("Active") is False)
    return result


def duplicate_ids(database_url: str, schema: str, entity: str) -> int:
    """Rows beyond one per (realm, id): the primary key makes this 0 unless it was dropped."""
    table = sql.Identifier(schema, f"qb_{entity.lower()}")
    query = sql.SQL("SELECT count(*) - count(DISTINCT (realm_id, id)) FROM {}").format(table)
    with psycopg.connect(database_url) as conn:
        row = conn.execute(query).fetchone()
    return int(row[0]) if row else 0


def done_chunks_without_rows(database_url: str, schema: str) -> list[str]:
    """Done chunks whose recorded rows are not in the table for their window.

    For each done chunk of the newest run per entity: the ledger's `rows_in_table` and
    `source_count_after` must equal the rows the table holds in that window now (the data
    does not change during these runs), and `matched` must be true.
    """
    chunks = sql.Identifier(schema, "qbo_backfill_chunks")
    runs = sql.Identifier(schema, "qbo_backfill_runs")
    problems: list[str] = []
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            sql.SQL(
                "SELECT c.entity, c.window_start, c.window_end, c.rows_in_table, "
                "c.source_count_after, c.matched, c.rows_quarantined "
                "FROM {} c JOIN {} r USING (run_id) WHERE c.status = 'done'"
            ).format(chunks, runs)
        ).fetchall()
        for entity, start, end, in_table, source, matched, quarantined in rows:
            actual = _rows_in_window(conn, schema, entity, start, end)
            if not matched or in_table != actual or source != actual + quarantined:
                problems.append(
                    f"{entity} [{start}, {end}): ledger rows_in_table={in_table} "
                    f"source={source} matched={matched}, table holds {actual}"
                )
    return problems


def _rows_in_window(
    conn: psycopg.Connection, schema: str, entity: str, start: Any, end: Any
) -> int:
    table = sql.Identifier(schema, f"qb_{entity.lower()}")
    if start.year <= 1900:  # a list entity taken whole
        query = sql.SQL("SELECT count(*) FROM {}").format(table)
        row = conn.execute(query).fetchone()
    else:
        query = sql.SQL(
            "SELECT count(*) FROM {} WHERE payload->>'TxnDate' >= %s AND payload->>'TxnDate' < %s"
        ).format(table)
        row = conn.execute(query, (start.isoformat(), end.isoformat())).fetchone()
    return int(row[0]) if row else 0


def stored_refresh_token(database_url: str, schema: str, realm_id: str, key: str) -> str:
    """The refresh token the store holds, decrypted with the run's QBO_TOKEN_KEY."""
    table = sql.Identifier(schema, TOKEN_TABLE)
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            sql.SQL("SELECT refresh_token_enc FROM {} WHERE realm_id = %s").format(table),
            (realm_id,),
        ).fetchone()
    assert row is not None, "no token stored"
    return TokenCipher(Secret(key)).decrypt(row[0]).reveal()


def refresh_token_works(sandbox: SandboxProcess, token: str) -> bool:
    """Spend the token at the sandbox's token endpoint (ends the test's use of the store)."""
    info = sandbox.info
    credentials = ClientCredentials(
        info["client_id"], Secret(info["client_secret"]), info["token_url"]
    )
    grant = refresh_grant(credentials, Secret(token))
    return bool(grant.access_token.reveal())


def wait_until(predicate: Any, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def record_figures(name: str, figures: dict[str, Any]) -> None:
    """Append a test's figures to QBO_RELIABILITY_FIGURES (JSON lines) when it is set."""
    path = os.environ.get("QBO_RELIABILITY_FIGURES")
    if path:
        with Path(path).open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"test": name, **figures}, default=str) + "\n")


def assert_one_line_error(stderr: str) -> str:
    """The run's last stderr line is one `error: ...` line, and no traceback was printed."""
    assert "Traceback" not in stderr, stderr[-2000:]
    line = last_line(stderr)
    assert line.startswith("error: "), stderr[-2000:]
    return line
