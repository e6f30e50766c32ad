"""Crash harness: SIGKILL a backfill at random instants, resume it each time, then prove the
copy is exact, no chunk is marked done without its rows, and the stored refresh token works.

    python -m tests.reliability.crash_harness --kills 30 --invoices 50000

The sandbox runs in its own process with latency (so kills land mid-request) and a short
access-token life with rotation on every refresh (so kills land mid-refresh). Kill delays are
drawn from a seeded generator: `--seed` replays a failure. At each kill the harness records
what the run's PostgreSQL sessions were doing (COPY, upsert, commit, a token refresh holding
its row lock, idle between requests), from `pg_stat_activity`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from tests.helpers import run_cli
from tests.reliability.harness import (
    ENTITIES,
    cli_env,
    compare,
    done_chunks_without_rows,
    duplicate_ids,
    refresh_token_works,
    sandbox_process,
    start_cli,
    stored_refresh_token,
)

TOKEN_KEY = "crash-harness-token-key"


@dataclass
class CrashConfig:
    """The company the crash test copies, and how often and how soon its runs are killed."""

    kills: int = 30
    """Runs to kill with SIGKILL before the final run is let finish."""
    invoices: int = 50_000
    customers: int = 500
    items: int = 100
    seed: int = 7
    """Seeds the sandbox's data and the kill delays: the same seed replays a failure."""
    latency_ms: float = 40.0
    """The sandbox's delay per answer (with half as much jitter), so kills land mid-request."""
    page_size: int = 100
    chunk_days: int = 7
    min_delay: float = 0.3
    max_delay: float = 4.0
    """Each run is killed after a delay drawn from min_delay to max_delay seconds."""
    access_token_ttl: float = 62.0
    """Seconds an access token lives: the client refreshes 60 s early, so about every 2 s,
    and every refresh rotates the refresh token (kills land mid-refresh)."""


@dataclass
class CrashFigures:
    """What the kills hit and what the final comparison checked."""

    kills: int = 0
    attempts: int = 0
    """Runs started before the final one, killed or not."""
    finished_before_kill: int = 0
    """Runs that ended before their kill came; the next one re-extracts with --force."""
    forced_runs: int = 0
    kill_phases: dict[str, int] = field(default_factory=dict)
    """What the run's database sessions were doing at each kill, and how often."""
    rows_compared: int = 0
    """Source records compared with the table, every entity's added up."""
    inactive_compared: int = 0
    rows_missing: int = 0
    rows_extra: int = 0
    rows_different: int = 0
    """Rows whose payload is not the source's record."""
    duplicates: int = 0
    """Rows beyond one per (realm, Id)."""
    done_chunks_without_rows: int = 0
    """Done chunks whose recorded rows are not in the table for their window."""
    chunks_checked: int = 0
    refresh_token_works: bool = False
    """The stored refresh token still gets an access token at the end."""
    token_refreshes: int = 0
    invalid_grants: int = 0
    """Refreshes the sandbox refused with invalid_grant."""
    final_exit_code: int | None = None
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            not self.problems
            and self.kills > 0
            and self.rows_missing == self.rows_extra == self.rows_different == 0
            and self.duplicates == 0
            and self.done_chunks_without_rows == 0
            and self.refresh_token_works
            and self.final_exit_code == 0
        )


def _phase(database_url: str, app: str) -> str:
    """What the run's database sessions were doing at the kill (most telling first)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT state, query FROM pg_stat_activity WHERE application_name = %s", (app,)
        ).fetchall()
    seen: set[str] = set()
    for state, query in rows:
        text = (query or "").lstrip().upper()
        if "QBO_BACKFILL_TOKENS" in text and state == "idle in transaction":
            seen.add("token refresh (row lock held)")
        elif state == "active" and text.startswith("COPY"):
            seen.add("COPY")
        elif state == "active" and (text.startswith("WITH WRITTEN") or "INSERT INTO" in text):
            seen.add("upsert")
        elif text.startswith("COMMIT") and state == "active":
            seen.add("commit")
        elif state == "idle in transaction":
            seen.add("chunk transaction open (awaiting a page)")
    for phase in (
        "token refresh (row lock held)",
        "commit",
        "COPY",
        "upsert",
        "chunk transaction open (awaiting a page)",
    ):
        if phase in seen:
            return phase
    return "start-up, planning or between chunks" if rows else "before connecting"


def run_harness(config: CrashConfig, database_url: str, schema: str, workdir: Path) -> CrashFigures:
    """Kill and resume `config.kills` times, finish, and compare everything."""
    figures = CrashFigures()
    rng = random.Random(config.seed)
    started = time.monotonic()
    app = f"qbo-crash-{schema}"[:63]
    home = workdir / "home"
    home.mkdir(parents=True, exist_ok=True)
    with sandbox_process(
        invoices=config.invoices,
        customers=config.customers,
        items=config.items,
        seed=config.seed,
        latency_ms=config.latency_ms,
        latency_jitter_ms=config.latency_ms / 2,
        access_token_ttl=config.access_token_ttl,
        refresh_rotation="every",
    ) as sandbox:
        env = cli_env(
            sandbox.info, database_url, schema, home, QBO_TOKEN_KEY=TOKEN_KEY, PGAPPNAME=app
        )
        args = [
            "backfill",
            *ENTITIES,
            "--start=2024-01-01",
            "--end=2026-01-01",
            f"--chunk-days={config.chunk_days}",
            f"--page-size={config.page_size}",
            "--json-logs",
        ]
        phases: Counter[str] = Counter()
        force = False
        while figures.kills < config.kills:
            figures.attempts += 1
            process = start_cli([*args, "--force"] if force else args, env, workdir)
            force = False
            delay = rng.uniform(config.min_delay, config.max_delay)
            try:
                process.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                phases[_phase(database_url, app)] += 1
                process.send_signal(signal.SIGKILL)
                process.communicate()
                figures.kills += 1
                continue
            _, stderr = process.communicate()
            figures.finished_before_kill += 1
            if process.returncode != 0:
                figures.problems.append(
                    f"attempt {figures.attempts} exit {process.returncode}: "
                    f"{stderr.strip().splitlines()[-1:]}"
                )
            # Done before the kill: re-extract everything so later kills still land mid-run.
            force = True
            figures.forced_runs += 1
        final = run_cli(args, env, workdir, timeout=1800)
        figures.final_exit_code = final.returncode
        if final.returncode != 0:
            figures.problems.append(f"final run exit {final.returncode}: {final.stderr[-400:]}")
        figures.kill_phases = dict(phases)
        _check(figures, sandbox, database_url, schema)
    figures.seconds = round(time.monotonic() - started, 1)
    return figures


def _check(figures: CrashFigures, sandbox: Any, database_url: str, schema: str) -> None:
    for entity in ENTITIES:
        result = compare(sandbox, database_url, schema, entity)
        figures.rows_compared += result.compared
        figures.inactive_compared += result.inactive
        figures.rows_missing += len(result.missing)
        figures.rows_extra += len(result.extra)
        figures.rows_different += len(result.different)
        figures.duplicates += duplicate_ids(database_url, schema, entity)
        if not result.exact:
            figures.problems.append(result.summary())
    problems = done_chunks_without_rows(database_url, schema)
    figures.done_chunks_without_rows = len(problems)
    figures.problems.extend(problems[:10])
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE status = 'done'").format(
                sql.Identifier(schema, "qbo_backfill_chunks")
            )
        ).fetchone()
    figures.chunks_checked = int(row[0]) if row else 0
    oauth = sandbox.counters()["oauth"]
    figures.token_refreshes = oauth["refresh"]
    figures.invalid_grants = oauth["invalid_grant"]
    token = stored_refresh_token(database_url, schema, sandbox.info["realm_id"], TOKEN_KEY)
    if token != sandbox.current_refresh_token():
        figures.problems.append("the stored refresh token is not the sandbox's newest")
    figures.refresh_token_works = refresh_token_works(sandbox, token)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = CrashConfig()
    for name, value in asdict(defaults).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    parser.add_argument("--database-url", default=os.environ.get("QBO_DATABASE_URL"))
    parser.add_argument("--out", type=Path, help="Also write the figures as JSON here.")
    ns = vars(parser.parse_args(argv))
    url, out = ns.pop("database_url"), ns.pop("out")
    config = CrashConfig(**ns)
    with tempfile.TemporaryDirectory(prefix="qbo-crash-") as tmp:
        workdir = Path(tmp)
        pg_home = workdir / "pg"
        if url is None:
            from qbo_backfill.load.db import embedded_url

            url = embedded_url(pg_home)
        schema = f"crash_{uuid.uuid4().hex[:8]}"
        try:
            figures = run_harness(config, url, schema, workdir)
        finally:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
                )
            if (pg_home / "pgdata").exists():
                from qbo_backfill.load.db import stop_embedded

                stop_embedded(pg_home)
    text = json.dumps(asdict(figures) | {"ok": figures.ok, "config": asdict(config)}, indent=2)
    print(text)
    if out is not None:
        out.write_text(text + "\n")
    return 0 if figures.ok else 1


if __name__ == "__main__":
    sys.exit(main())
