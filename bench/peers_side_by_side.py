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
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.harness import (
    ENTITIES,
    ROOT,
    YEAR_WINDOW,
    Row,
    RunMeasure,
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
HISTORY_START = "2000-01-01T00:00:00Z"  # the tap's start_date that copies every record


@dataclass(frozen=True)
class Peer:
    """A peer as installed: its package, virtual environment and wrapper in bench/peers/."""

    key: str
    package: str
    venv: Path
    wrapper: str

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def command(self, sandbox: SandboxProcess, *args: str) -> list[str]:
        """The peer's own command line `args`, through the wrapper that points it at `sandbox`."""
        info = sandbox.info
        wrapper = [str(self.python), str(PEERS_DIR / self.wrapper)]
        return [*wrapper, info["base_url"], info["token_url"], "--", *args]


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


def run(
    database_url: str, *, invoices: int, latency_ms: float, jitter_ms: float, install: bool
) -> Row:
    """Scenario 2's row."""
    sandbox = SandboxProcess(invoices=invoices, latency_ms=latency_ms, jitter_ms=jitter_ms)
    both = ours_then_peers(sandbox, database_url, "peers", (STITCH, AIRBYTE), install=install)
    our_calls = api_calls(both.counters)
    figures: dict[str, object] = {
        "rows": both.rows,
        "ours_wall_s": round(both.ours.seconds, 2),
        "ours_api_calls": our_calls,
    }
    targets: dict[str, bool] = {}
    notes = []
    for key, result in both.peers.items():
        if not result.ok:
            figures[f"{key}"] = f"not run: {result.reason}"
            notes.append(f"{key} not run: {result.reason}")
            continue
        speedup = result.seconds / both.ours.seconds
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


@dataclass(frozen=True)
class SideBySide:
    """Our backfill and the peers' runs after it, on one sandbox."""

    ours: RunMeasure
    counters: dict[str, Any]  # the sandbox's, for our backfill alone
    rows: int  # in our raw tables after it
    peers: dict[str, PeerResult]


def ours_then_peers(
    sandbox: SandboxProcess,
    database_url: str,
    schema_name: str,
    peers: tuple[Peer, ...],
    *,
    install: bool,
    window_args: tuple[str, ...] = YEAR_WINDOW,
) -> SideBySide:
    """Our backfill into a fresh schema, then each peer, each from zeroed counters."""
    with sandbox, Schema(database_url, schema_name) as schema, tempfile.TemporaryDirectory() as tmp:
        sandbox.reset()
        ours = run_backfill(sandbox, schema, Path(tmp), window_args=window_args)
        require_ok(ours, "our backfill")
        counters = sandbox.counters()
        rows = sum(schema.rows(f"qb_{e.lower()}") for e in ENTITIES)
        results = {p.key: run_peer(p, sandbox, Path(tmp), install) for p in peers}
    return SideBySide(ours, counters, rows, results)


def run_peer(peer: Peer, sandbox: SandboxProcess, tmp: Path, install: bool) -> PeerResult:
    """One full extract by `peer` from zeroed counters, in `tmp`/its key; why not, if not."""
    reason = ready(peer, install)
    if reason:
        return PeerResult(False, reason)
    work = tmp / peer.key
    work.mkdir()
    try:
        command = _stitch_command if peer is STITCH else _airbyte_command
        args = command(sandbox, work)
    except (subprocess.SubprocessError, OSError, ValueError, KeyError) as exc:
        return PeerResult(False, f"could not prepare its run: {exc}")
    run = run_measured(sandbox, work, args)
    if run.returncode is None:
        return PeerResult(False, f"did not finish within {PEER_TIMEOUT_SECONDS} s")
    if run.returncode != 0:
        tail = run.err.read_text(errors="replace")[-300:].replace("\n", " ")
        return PeerResult(False, f"exited {run.returncode}: {tail}")
    counters = run.counters
    return PeerResult(
        True, "", run.seconds, api_calls(counters), _records(run.out), throttled(counters)
    )


def _stitch_command(sandbox: SandboxProcess, work: Path) -> list[str]:
    catalog = stitch_discover(sandbox, work)
    catalog["streams"] = stitch_selected(catalog, set(STREAMS))
    (work / "catalog.json").write_text(json.dumps(catalog))
    return STITCH.command(sandbox, "--config", "config.json", "--catalog", "catalog.json")


def _airbyte_command(sandbox: SandboxProcess, work: Path) -> list[str]:
    (work / "config.json").write_text(json.dumps(airbyte_config(sandbox)))
    catalog = airbyte_catalog({"sync_mode": "full_refresh", "destination_sync_mode": "overwrite"})
    (work / "catalog.json").write_text(json.dumps(catalog))
    return AIRBYTE.command(sandbox, "read", "--config", "config.json", "--catalog", "catalog.json")


def _records(out: Path) -> int:
    """RECORD messages in a peer's output (Singer and Airbyte both say `"type": "RECORD"`)."""
    count = 0
    with out.open("rb") as lines:
        for line in lines:
            if b'"RECORD"' in line[:200]:
                count += 1
    return count


# ----- installing and running the peers (scenarios 2, 8 and 11)


def ready(peer: Peer, install: bool) -> str:
    """Empty when the peer's virtual environment is there (created if allowed); else why."""
    if peer.python.exists():
        return ""
    if not install:
        return f"{peer.venv.name} absent (the full bench creates it, unless --no-install)"
    return _install(peer)


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


def _peer_env() -> dict[str, str]:
    # The wrappers point the peers at the sandbox's plain-HTTP token endpoint.
    return os.environ | {"OAUTHLIB_INSECURE_TRANSPORT": "1"}


@dataclass(frozen=True)
class PeerProcess:
    """One measured run of a peer's command."""

    returncode: int | None  # None: stopped after PEER_TIMEOUT_SECONDS
    seconds: float
    counters: dict[str, Any]  # the sandbox's, for this run alone
    out: Path  # its stdout
    err: Path  # its stderr


def run_measured(sandbox: SandboxProcess, work: Path, args: list[str]) -> PeerProcess:
    """Run a peer's command from `work` on zeroed counters, its stdout and stderr to files."""
    sandbox.reset()
    out, err = work / "out.jsonl", work / "err.log"
    returncode: int | None = None  # unless it finishes in time
    started = time.perf_counter()
    with out.open("wb") as stdout, err.open("wb") as stderr, suppress(subprocess.TimeoutExpired):
        returncode = subprocess.run(
            args, stdout=stdout, stderr=stderr, env=_peer_env(), cwd=work,
            timeout=PEER_TIMEOUT_SECONDS, check=False,
        ).returncode  # fmt: skip
    seconds = time.perf_counter() - started
    return PeerProcess(returncode, seconds, sandbox.counters(), out, err)


def stitch_config(sandbox: SandboxProcess, start_date: str) -> dict[str, str]:
    """The tap's config for the sandbox's company, copying from `start_date`."""
    info = sandbox.info
    return {
        "start_date": start_date,
        "user_agent": "qbo-backfill bench",
        "realm_id": info["realm_id"],
        "client_id": info["client_id"],
        "client_secret": info["client_secret"],
        "refresh_token": info["refresh_token"],
        "sandbox": "true",
    }


def stitch_discover(sandbox: SandboxProcess, work: Path) -> dict[str, Any]:
    """The tap's catalog, from its discovery mode run in `work` with a config from HISTORY_START."""
    work.mkdir(exist_ok=True)
    (work / "config.json").write_text(json.dumps(stitch_config(sandbox, HISTORY_START)))
    discovered = subprocess.run(
        STITCH.command(sandbox, "--config", "config.json", "--discover"),
        cwd=work, env=_peer_env(), capture_output=True, check=True, timeout=300,
    )  # fmt: skip
    return dict(json.loads(discovered.stdout))


def stitch_selected(catalog: dict[str, Any], streams: set[str]) -> list[dict[str, Any]]:
    """The catalog's entries of `streams`, each marked selected (the tap reads no other)."""
    chosen = [s for s in catalog["streams"] if s["tap_stream_id"] in streams]
    for stream in chosen:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = True
    return chosen


def airbyte_config(sandbox: SandboxProcess) -> dict[str, Any]:
    """The connector's config for the sandbox's company (an expired access token: it refreshes)."""
    info = sandbox.info
    return {
        "realm_id": info["realm_id"],
        "client_id": info["client_id"],
        "client_secret": info["client_secret"],
        "refresh_token": info["refresh_token"],
        "access_token": "expired",
        "token_expiry_date": "2000-01-01T00:00:00Z",
        "start_date": "2024-01-01T00:00:00Z",
        "sandbox": True,
    }


def airbyte_catalog(mode: dict[str, Any], cursor: dict[str, Any] | None = None) -> dict[str, Any]:
    """A configured catalog of STREAMS, each read in `mode`; `cursor` adds to each stream."""
    return {
        "streams": [
            {
                "stream": {
                    "name": name,
                    "json_schema": {},
                    "supported_sync_modes": ["full_refresh", "incremental"],
                    **(cursor or {}),
                },
                **mode,
            }
            for name in STREAMS
        ]
    }
