"""`sandbox serve` as a separate process: one JSON line, real HTTP, clean stop, exit code 2."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from click.testing import CliRunner

from qbo_backfill.sandbox.cli import sandbox_group

SERVE = [sys.executable, "-m", "qbo_backfill.sandbox", "serve"]


@pytest.fixture
def served() -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [*SERVE, "--port", "0", "--invoices", "120", "--customers", "10", "--items", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def test_serve_prints_one_json_line_and_serves(served: subprocess.Popen[str]) -> None:
    assert served.stdout is not None
    line = served.stdout.readline()
    info = json.loads(line)
    assert set(info) == {
        "base_url",
        "token_url",
        "discovery_url",
        "client_id",
        "client_secret",
        "realm_id",
        "refresh_token",
    }
    assert info["base_url"].startswith("http://127.0.0.1:")
    with httpx.Client(timeout=30) as http:
        token = http.post(
            info["token_url"],
            auth=(info["client_id"], info["client_secret"]),
            data={"grant_type": "refresh_token", "refresh_token": info["refresh_token"]},
        ).json()["access_token"]
        count = http.get(
            f"{info['base_url']}/v3/company/{info['realm_id']}/query",
            params={"query": "SELECT COUNT(*) FROM Invoice"},
            headers={"Authorization": f"Bearer {token}"},
        ).json()
    assert count["QueryResponse"]["totalCount"] == 120
    served.send_signal(signal.SIGTERM)
    assert served.wait(timeout=20) == 0
    stdout, stderr = served.communicate(timeout=5)
    assert stdout == ""  # exactly one line on stdout
    assert "QBO sandbox listening on" in stderr
    assert info["client_secret"] not in stderr


def test_serve_with_several_realms_lists_them() -> None:
    proc = subprocess.Popen(
        [
            *SERVE,
            "--port",
            "0",
            "--realms",
            "2",
            "--invoices",
            "10",
            "--refresh-token",
            "AB11fixed",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
        if proc.stdout is not None:
            proc.stdout.close()
    assert len(info["realm_ids"]) == 2
    assert info["realm_id"] == info["realm_ids"][0]
    assert info["refresh_tokens"][info["realm_id"]] == "AB11fixed" == info["refresh_token"]


def test_bad_option_exits_2_with_one_line_from_a_real_process() -> None:
    result = subprocess.run(
        [*SERVE, "--port", "abc"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "Error: Invalid value for '--port': 'abc' is not a valid integer."
    ]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--faults", "boom=1"], "unknown kind"),
        (["--refresh-rotation", "sometimes"], "refresh_rotation"),
        (["--realms", "0"], "realms"),
        (["--invoice-start", "2025-02-30"], "--invoice-start"),
        (["--no-such-option"], "--no-such-option"),
        (["--max-in-flight", "-1"], "max_in_flight"),
        (["--invoice-start", "2026-01-01", "--invoice-end", "2025-01-01"], "invoice_end"),
        (["--report-cell-cap", "0"], "report_cell_cap"),
        (["--report-dense-rows", "-1"], "report_dense_rows"),
    ],
)
def test_bad_options_exit_2_with_one_line(args: list[str], fragment: str) -> None:
    result = CliRunner(mix_stderr=False).invoke(sandbox_group, ["serve", "--port", "0", *args])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert fragment in lines[0]


def test_help_lists_every_option() -> None:
    result = CliRunner().invoke(sandbox_group, ["serve", "--help"])
    assert result.exit_code == 0
    for option in (
        "--host",
        "--port",
        "--seed",
        "--realms",
        "--customers",
        "--items",
        "--invoices",
        "--latency-ms",
        "--latency-jitter-ms",
        "--rate-limit-per-min",
        "--max-in-flight",
        "--faults",
        "--client-id",
        "--client-secret",
        "--refresh-token",
        "--access-token-ttl",
        "--refresh-rotation",
        "--refresh-grace-seconds",
        "--report-cell-cap",
        "--report-dense-rows",
    ):
        assert option in result.output


def test_realm_option_fixes_the_company_ids() -> None:
    proc = subprocess.Popen(
        [*SERVE, "--port", "0", "--invoices", "5", "--customers", "2", "--items", "2",
         "--realm", "123146", "--realm", "987654321"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["realm_ids"] == ["123146", "987654321"]
        assert info["realm_id"] == "123146"
        assert set(info["refresh_tokens"]) == {"123146", "987654321"}
    finally:
        proc.kill()
        proc.communicate(timeout=10)


@pytest.mark.parametrize("realm", ["abc", "12-3"])
def test_a_realm_id_that_is_not_digits_is_bad_input(realm: str) -> None:
    result = CliRunner().invoke(sandbox_group, ["serve", "--port", "0", "--realm", realm])
    assert result.exit_code == 2
    assert "realm id" in result.output
