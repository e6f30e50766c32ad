"""Watching a run: the live table on a terminal, plain lines when piped, JSON lines on
request, and the `intuit_tid` of failed requests kept in the logs."""

from __future__ import annotations

import io
import json
import logging
import os
import pty
import subprocess
import threading
import time
from datetime import date
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from rich.console import Console
from tests.helpers import QBO, YEAR_2025_ARGS, YEAR_2025_CHUNKS, Cli

from qbo_backfill import redact
from qbo_backfill.entities import resolve_entity
from qbo_backfill.errors import ThrottledError, TransientApiError
from qbo_backfill.figures import ChunkFigures, EntityTotals
from qbo_backfill.run.engine import BackfillOptions, backfill
from qbo_backfill.sandbox import Sandbox
from qbo_backfill.ui.progress import (
    Display,
    JsonFormatter,
    LiveProgress,
    choose_display,
    log_handler,
)
from qbo_backfill.windows import ExtractWindow


def record(message: str, *args: object, level: int = logging.WARNING) -> logging.LogRecord:
    return logging.LogRecord("qbo_backfill.qbo.client", level, __file__, 1, message, args, None)


def test_json_lines_escape_every_message_and_carry_the_intuit_tid() -> None:
    error = TransientApiError(
        'QBO SERVICE: "resubmit" \\ once\nnext line', status=500, intuit_tid="1-6a1b-abc"
    )
    line = JsonFormatter().format(record("retrying in %.1fs after %s", 2.0, error))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == f"retrying in 2.0s after {error}"
    assert entry["intuit_tid"] == "1-6a1b-abc"
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "qbo_backfill.qbo.client"
    assert entry["time"].endswith("+00:00")


def test_every_handler_masks_registered_secrets() -> None:
    redact.register(["s3cr3t-value-xyz"])
    for display in Display:
        stream = io.StringIO()
        console = Console(file=stream, width=200)
        handler = log_handler(display, stream, console)
        logger = logging.getLogger(f"qbo_backfill.test.{display.value}")
        logger.handlers[:] = [handler]
        logger.propagate = False
        logger.warning("token %s refused", "s3cr3t-value-xyz")
        assert "s3cr3t-value-xyz" not in stream.getvalue()
        assert "token ********** refused" in stream.getvalue()


def test_display_is_chosen_from_the_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setenv("TERM", "xterm-256color")
    assert choose_display(False, Tty()) is Display.LIVE
    assert choose_display(True, Tty()) is Display.JSON
    assert choose_display(False, io.StringIO()) is Display.LINES
    monkeypatch.setenv("TERM", "dumb")
    assert choose_display(False, Tty()) is Display.LINES


def rendered(live: LiveProgress, now: float) -> str:
    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(live.render(now))
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_live_table_shows_throttle_waits_retries_and_eta() -> None:
    live = LiveProgress(Console(file=io.StringIO()))
    live.entity_started("Invoice", 7, chunks_total=4, chunks_done=1)
    start = live.entities["Invoice"].started
    live.chunk_started("Invoice", ExtractWindow(date(2025, 1, 1), date(2025, 1, 8)))
    live.page_loaded("Invoice", 1000)
    assert "1/4" in rendered(live, start + 1)
    assert live.entities["Invoice"].eta_seconds(start + 1) is None  # no chunk finished yet

    error = ThrottledError("QBO SERVICE: ThrottleExceeded", status=429, intuit_tid="tid-42")
    live.retrying(error, 30.0)
    figures = ChunkFigures(api_calls=3, pages=1, refetches=0, retries=1, throttled=1)
    live.chunk_finished("Invoice", ExtractWindow(date(2025, 1, 1), date(2025, 1, 8)), figures)
    text = rendered(live, time.monotonic())
    assert "2/4" in text
    assert "1 / 1" in text  # retries / 429s of the finished chunk
    assert "retries so far: 1 (1 throttled)" in text
    assert "waiting 30s" in text or "waiting 29s" in text
    assert "throttled (429)" in text
    assert "intuit_tid tid-42" in text
    assert "1,000" in text  # rows

    progress = live.entities["Invoice"]
    assert progress.eta_seconds(start + 10) == pytest.approx(20.0)  # 1 chunk in 10 s, 2 left
    live.entity_finished("Invoice", EntityTotals("done", 4, 4, 1000, 1000, 1000, 0))
    assert "waiting" not in rendered(live, time.monotonic() + 31)
    assert "done" in rendered(live, time.monotonic() + 31)


@pytest.mark.db
def test_live_progress_follows_a_real_backfill(
    cli: Cli, sandbox: Sandbox, database_url: str, schema: str
) -> None:
    stream = io.StringIO()
    console = Console(file=stream, force_terminal=True, width=160)
    options = BackfillOptions(
        entities=(resolve_entity("Invoice"),),
        window=ExtractWindow(date(2025, 1, 1), date(2026, 1, 1)),
        chunk_days=30,
        page_size=10,
    )
    with LiveProgress(console, refresh_per_second=20) as live:
        result = backfill(cli.settings(), options, live)
    assert result.ok

    progress = live.entities["Invoice"]
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            sql.SQL("SELECT count(*), sum(rows_extracted), sum(api_calls) FROM {}").format(
                sql.Identifier(schema, "qbo_backfill_chunks")
            )
        ).fetchone()
    assert row is not None
    chunks, rows, calls = row
    assert (progress.chunks_done, progress.rows, progress.api_calls) == (chunks, rows, calls)
    assert progress.status == "done"
    in_2025 = [r for r in sandbox.records("Invoice") if r["TxnDate"].startswith("2025")]
    assert rows == len(in_2025) > 0
    assert f"{chunks}/{chunks}" in stream.getvalue()
    assert "backfill progress" in stream.getvalue()


def run_with_stderr_on_a_terminal(cli: Cli, *args: str) -> tuple[int, str]:
    """Run the CLI with stderr on a pseudo-terminal, as a person at a terminal would."""
    master, slave = pty.openpty()
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the terminal's other end closed
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        process = subprocess.run(
            [QBO, *args],
            env=cli.env | {"TERM": "xterm-256color", "COLUMNS": "160"},
            cwd=cli.cwd,
            stdout=subprocess.DEVNULL,
            stderr=slave,
            timeout=240,
            check=False,
        )
    finally:
        os.close(slave)
        reader.join(timeout=10)
        os.close(master)
    return process.returncode, b"".join(chunks).decode(errors="replace")


@pytest.mark.db
def test_a_terminal_gets_the_live_table_and_a_pipe_gets_lines(cli: Cli) -> None:
    code, terminal = run_with_stderr_on_a_terminal(cli, "backfill", "Invoice", *YEAR_2025_ARGS)
    assert code == 0, terminal
    assert "backfill progress" in terminal
    assert f"{YEAR_2025_CHUNKS}/{YEAR_2025_CHUNKS}" in terminal
    assert "\x1b[" in terminal  # drawn with terminal control sequences

    piped = cli.run("backfill", "Invoice", *YEAR_2025_ARGS, "--force")
    assert piped.returncode == 0, piped.stderr
    assert "backfill progress" not in piped.stderr
    assert "\x1b[" not in piped.stderr
    lines = piped.stderr.splitlines()
    assert any(" INFO Invoice: run " in line for line in lines)
    assert sum(f"/{YEAR_2025_CHUNKS} chunks, pages" in line for line in lines) == YEAR_2025_CHUNKS


@pytest.mark.db
def test_json_logs_are_json_and_keep_the_intuit_tid_of_failures(
    cli: Cli, sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox.set_faults("500=0.25,seed=11")
    result = cli.run("backfill", "Invoice", *YEAR_2025_ARGS, "--json-logs", QBO_RETRY_ATTEMPTS="1")
    assert result.returncode == 1, result.stderr  # some chunks failed after their one attempt

    entries = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    assert entries, "no log lines"
    failures = [e for e in entries if e["level"] == "ERROR" and "failed" in e["message"]]
    assert failures
    assert all(e.get("intuit_tid") for e in failures)
    assert all(f"intuit_tid {e['intuit_tid']}" in e["message"] for e in failures)

    # The same tid is kept in the ledger, so the report shows it too.
    report = cli.run("report", "--format", "json")
    assert report.returncode == 1
    errors = [
        chunk["last_error"]
        for run in json.loads(report.stdout)["runs"]
        for chunk in run["chunks"]
        if chunk["last_error"]
    ]
    assert {e["intuit_tid"] for e in failures} <= {
        part.split("intuit_tid ")[1] for part in errors if "intuit_tid " in part
    }
