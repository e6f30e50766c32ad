"""Scenario 2: the peers and us on one sandbox, same limits, same data.

Each peer is installed from the package index into its own virtual environment
(`.venv-bench-stitch`, `.venv-bench-airbyte`) and run unmodified through a small wrapper in
bench/peers/ that only points its hosts at the sandbox. Peers extract to stdout (their
output, counted); we extract and load into PostgreSQL.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.harness import (
    ENTITIES,
    ROOT,
    Row,
    SandboxProcess,
    Schema,
    api_calls,
    require_ok,
    run_backfill,
    throttled,
)

PEERS_DIR = ROOT / "bench" / "peers"
STREAMS = ("invoices", "customers", "items")
# A peer runs one request at a time; stop one that runs away rather than hang the bench.
PEER_TIMEOUT_SECONDS = 1800


@dataclass(frozen=True)
class Peer:
    key: str
    package: str
    venv: Path
    wrapper: str


STITCH = Peer("stitch", "tap-quickbooks==2.5.0", ROOT / ".venv-bench-stitch", "stitch_run.py")
AIRBYTE = Peer(
    "airbyte",
    "airbyte-source-quickbooks==4.0.4",
    ROOT / ".venv-bench-airbyte",
    "airbyte_run.py",
)


@dataclass
class PeerResult:
    ok: bool
    reason: str = ""
    seconds: float = 0.0
    calls: int = 0
    records: int = 0
    throttled: int = 0


def run(database_url: str, *, invoices: int, latency_ms: float, jitter_ms: float, install: bool):
    """Scenario 2's row."""
    sandbox = SandboxProcess(invoices=invoices, latency_ms=latency_ms, jitter_ms=jitter_ms)
    with sandbox, Schema(database_url, "peers") as schema, tempfile.TemporaryDirectory() as tmp:
        sandbox.reset()
        ours = run_backfill(sandbox, schema, Path(tmp))
        require_ok(ours, "our backfill")
        our_calls = api_calls(sandbox.counters())
        rows = sum(schema.rows(f"qb_{e.lower()}") for e in ENTITIES)
        results = {p.key: _run_peer(p, sandbox, Path(tmp), install) for p in (STITCH, AIRBYTE)}
    figures: dict[str, object] = {
        "rows": rows,
        "ours_wall_s": round(ours.seconds, 2),
        "ours_api_calls": our_calls,
    }
    targets: dict[str, bool] = {}
    notes = []
    for key, result in results.items():
        if not result.ok:
            figures[f"{key}"] = f"not run: {result.reason}"
            notes.append(f"{key} not run: {result.reason}")
            continue
        speedup = result.seconds / ours.seconds
        figures |= {
            f"{key}_wall_s": round(result.seconds, 2),
            f"{key}_api_calls": result.calls,
            f"{key}_records": result.records,
            f"{key}_429s": result.throttled,
            f"speedup_vs_{key}": round(speedup, 1),
        }
        need = 4 if key == "stitch" else 15
        targets[f">={need}x {key}"] = speedup >= need
        targets[f"fewer calls than {key}"] = our_calls < result.calls
    return Row(
        2,
        f"peers side by side ({invoices:,} invoices, 500/min, {latency_ms:g}±{jitter_ms:g} ms)",
        figures,
        targets,
        "; ".join(notes),
    )


def _run_peer(peer: Peer, sandbox: SandboxProcess, tmp: Path, install: bool) -> PeerResult:
    python = peer.venv / "bin" / "python"
    if not python.exists():
        if not install:
            return PeerResult(False, f"{peer.venv.name} absent (the full bench creates it)")
        reason = _install(peer)
        if reason:
            return PeerResult(False, reason)
    work = tmp / peer.key
    work.mkdir()
    try:
        command = _stitch_command if peer is STITCH else _airbyte_command
        args = command(python, sandbox, work)
    except (subprocess.SubprocessError, OSError, ValueError, KeyError) as exc:
        return PeerResult(False, f"could not prepare its run: {exc}")
    sandbox.reset()
    env = os.environ | {"OAUTHLIB_INSECURE_TRANSPORT": "1"}
    out = work / "out.jsonl"
    started = time.perf_counter()
    with out.open("wb") as stdout, (work / "err.log").open("wb") as stderr:
        try:
            proc = subprocess.run(
                args, stdout=stdout, stderr=stderr, env=env, cwd=work,
                timeout=PEER_TIMEOUT_SECONDS, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return PeerResult(False, f"did not finish within {PEER_TIMEOUT_SECONDS} s")
    seconds = time.perf_counter() - started
    counters = sandbox.counters()
    records = _records(out)
    if proc.returncode != 0:
        tail = (work / "err.log").read_text(errors="replace")[-300:].replace("\n", " ")
        return PeerResult(False, f"exited {proc.returncode}: {tail}")
    return PeerResult(True, "", seconds, api_calls(counters), records, throttled(counters))


def _install(peer: Peer) -> str:
    """Create the peer's virtual environment and install it; a reason on failure."""
    try:
        subprocess.run(["python3", "-m", "venv", str(peer.venv)], check=True, timeout=300)
        subprocess.run(
            [str(peer.venv / "bin" / "pip"), "install", "-q", peer.package],
            check=True, timeout=1200, capture_output=True,
        )  # fmt: skip
    except (subprocess.SubprocessError, OSError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        return f"install of {peer.package} failed: {exc} {detail.decode(errors='replace')[-300:]}"
    return ""


def _stitch_command(python: Path, sandbox: SandboxProcess, work: Path) -> list[str]:
    info = sandbox.info
    config = {
        "start_date": "2000-01-01T00:00:00Z",
        "user_agent": "qbo-backfill bench",
        "realm_id": info["realm_id"],
        "client_id": info["client_id"],
        "client_secret": info["client_secret"],
        "refresh_token": info["refresh_token"],
        "sandbox": "true",
    }
    (work / "config.json").write_text(json.dumps(config))
    wrapper = [str(python), str(PEERS_DIR / STITCH.wrapper), info["base_url"], info["token_url"]]
    discovered = subprocess.run(
        [*wrapper, "--", "--config", "config.json", "--discover"],
        cwd=work, env=os.environ | {"OAUTHLIB_INSECURE_TRANSPORT": "1"},
        capture_output=True, check=True, timeout=300,
    )  # fmt: skip
    catalog = json.loads(discovered.stdout)
    catalog["streams"] = [s for s in catalog["streams"] if s["tap_stream_id"] in STREAMS]
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = True
    (work / "catalog.json").write_text(json.dumps(catalog))
    return [*wrapper, "--", "--config", "config.json", "--catalog", "catalog.json"]


def _airbyte_command(python: Path, sandbox: SandboxProcess, work: Path) -> list[str]:
    info = sandbox.info
    config = {
        "realm_id": info["realm_id"],
        "client_id": info["client_id"],
        "client_secret": info["client_secret"],
        "refresh_token": info["refresh_token"],
        "access_token": "expired",
        "token_expiry_date": "2000-01-01T00:00:00Z",
        "start_date": "2024-01-01T00:00:00Z",
        "sandbox": True,
    }
    (work / "config.json").write_text(json.dumps(config))
    catalog = {
        "streams": [
            {
                "stream": {
                    "name": name,
                    "json_schema": {},
                    "supported_sync_modes": ["full_refresh", "incremental"],
                },
                "sync_mode": "full_refresh",
                "destination_sync_mode": "overwrite",
            }
            for name in STREAMS
        ]
    }
    (work / "catalog.json").write_text(json.dumps(catalog))
    wrapper = [str(python), str(PEERS_DIR / AIRBYTE.wrapper), info["base_url"], info["token_url"]]
    return [*wrapper, "--", "read", "--config", "config.json", "--catalog", "catalog.json"]


def _records(out: Path) -> int:
    """RECORD messages in a peer's output (Singer and Airbyte both say `"type": "RECORD"`)."""
    count = 0
    with out.open("rb") as lines:
        for line in lines:
            if b'"RECORD"' in line[:200]:
                count += 1
    return count
