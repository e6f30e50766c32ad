"""Scenario 11: what each tool's output holds after the same churn.

One sandbox company is copied by us (`backfill`) and by each peer (installed and run
unmodified as in scenario 2, output to stdout); then one seeded set of changes goes through
the sandbox's admin API: invoice edits, voids, hard deletes, customers made inactive, new
invoices (one dated after our backfill's window). Each tool then runs its follow-up: our
`sync`; Stitch's tap with the state its first run emitted; Airbyte's connector in its
incremental mode with its state (and the config it asked to persist). What each output then
holds is compared with the source, record by record.

A peer's output is what it emitted: for the final state the newest version of each Id
(highest SyncToken) across both runs, as a warehouse merge would keep it; a record counts as
deleted only when the peer emitted a deletion marker for it (the tap's `deleted_objects`).

The tap's `deleted_objects` stream reads CDC from its bookmark, which starts at the
config's `start_date`: with a `start_date` old enough to copy the company's history, CDC
refuses it (30-day look-back) and the tap exits 1. So it runs here as a second instance of
the tap whose `start_date` is when the first runs ended ("stitch+deletes": the default
instance's records plus that instance's markers); the refused one-config run is recorded
too. Not in the default `--only` list: it needs the peers' virtual environments.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from psycopg import sql

from bench.harness import Row, SandboxProcess, Schema, api_calls, require_ok, run_backfill
from bench.peers_side_by_side import (
    AIRBYTE,
    HISTORY_START,
    STITCH,
    airbyte_catalog,
    airbyte_config,
    ready,
    run_measured,
    stitch_config,
    stitch_discover,
    stitch_selected,
)
from bench.sync_day import _measured_sync

STREAMS = {"invoices": "Invoice", "customers": "Customer", "items": "Item"}
# Intuit's limits, with a low latency: the peers make one request at a time.
LATENCY_MS, JITTER_MS = 20.0, 5.0
TOOLS = ("ours", "stitch", "stitch+deletes", "airbyte")


@dataclass(frozen=True)
class Churn:
    """What the admin API changed, by Id."""

    edited: list[str]
    voided: list[str]
    deleted: list[str]
    deactivated: list[str]
    created_in_window: list[str]
    created_after_window: list[str]

    def total(self) -> int:
        return sum(len(v) for v in self.__dict__.values())


@dataclass
class PeerRun:
    returncode: int
    seconds: float
    calls: int
    messages: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""


def run(database_url: str, *, invoices: int, install: bool) -> Row:
    """The row of scenario 11."""
    sandbox = SandboxProcess(invoices=invoices, latency_ms=LATENCY_MS, jitter_ms=JITTER_MS)
    reasons = {p.key: ready(p, install) for p in (STITCH, AIRBYTE)}
    with sandbox, Schema(database_url, "churn") as schema, TemporaryDirectory() as tmp:
        home = Path(tmp)
        sandbox.reset()
        require_ok(run_backfill(sandbox, schema, home), "our backfill")
        ours_first = api_calls(sandbox.counters())
        peers = _Peers(sandbox, home, reasons)
        peers.first_runs()
        time.sleep(1.5)  # every change after this lands in a later second than any cursor
        churn = _apply_churn(sandbox, random.Random(11), invoices)
        ours = _measured_sync(sandbox, schema, home)
        peers.follow_ups()
        source = _source(sandbox)
        outcomes = peers.outcomes()
        outcomes["ours"] = Outcome(
            _our_final(schema), ours_first, PeerRun(0, ours["seconds"], ours["calls"])
        )
    side: dict[str, dict[str, Any]] = {}
    for tool in TOOLS:
        outcome = outcomes.get(tool)
        if outcome is None:
            side[tool] = {"not run": reasons["stitch" if tool.startswith("stitch") else "airbyte"]}
        else:
            side[tool] = _score(outcome.final, source, churn) | outcome.costs()
    notes = [f"{k} not run: {v}" for k, v in reasons.items() if v]
    notes += [f"{k} exited {o.follow.returncode}: {o.follow.error}"
              for k, o in outcomes.items() if o.follow.returncode]  # fmt: skip
    figures: dict[str, Any] = {
        "changes": churn.total(),
        **{f"{t}_ghost_invoices": s.get("deleted_invoices_live") for t, s in side.items()},
        **{f"{t}_follow_up_calls": s.get("follow_up_api_calls") for t, s in side.items()},
        "side_by_side": side,
        "churn": {k: len(v) for k, v in churn.__dict__.items()},
    }
    if peers.one_config is not None:
        figures["stitch_deletes_from_history_start"] = {
            "exit": peers.one_config.returncode,
            "api_calls": peers.one_config.calls,
            "error": peers.one_config.error,
        }
    return Row(
        11,
        f"peers after the same churn ({invoices:,} invoices, {churn.total()} changes, "
        f"500/min, {LATENCY_MS:g}±{JITTER_MS:g} ms)",
        figures,
        {
            "ours exact": bool(side["ours"]["live_rows_equal_source"]),
            "ours 0 deleted invoices live": side["ours"]["deleted_invoices_live"] == 0,
        },
        "; ".join(notes),
    )


@dataclass
class Outcome:
    """A tool's output after its follow-up, and what its runs cost."""

    final: dict[str, dict[str, Version]]
    first_calls: int
    follow: PeerRun
    repeated: int | None = None  # follow-up records at a version the first run had emitted

    def costs(self) -> dict[str, Any]:
        return {
            "first_run_api_calls": self.first_calls,
            "follow_up_api_calls": self.follow.calls,
            "follow_up_wall_s": round(self.follow.seconds, 2),
            "follow_up_exit": self.follow.returncode,
            "follow_up_records": _records(self.follow.messages) if self.follow.messages else None,
            "follow_up_records_already_emitted": self.repeated,
        }


class _Peers:
    """Each peer's runs, in their own working directories under `home`."""

    def __init__(self, sandbox: SandboxProcess, home: Path, reasons: dict[str, str]) -> None:
        self.sandbox = sandbox
        self.stitch_ok = not reasons["stitch"]
        self.airbyte_ok = not reasons["airbyte"]
        self.dirs = {k: home / k for k in ("stitch", "deletes", "history", "airbyte")}
        self.runs: dict[str, list[PeerRun]] = {"stitch": [], "deletes": [], "airbyte": []}
        self.one_config: PeerRun | None = None
        self.catalog: dict[str, Any] = {}

    def first_runs(self) -> None:
        if self.stitch_ok:
            self.catalog = stitch_discover(self.sandbox, self.dirs["stitch"])
            self._stitch_setup("stitch", set(STREAMS), HISTORY_START)
            self.runs["stitch"].append(_stitch_run(self.sandbox, self.dirs["stitch"]))
        if self.airbyte_ok:
            _airbyte_setup(self.sandbox, self.dirs["airbyte"])
            self.runs["airbyte"].append(_airbyte_run(self.sandbox, self.dirs["airbyte"]))
        if self.stitch_ok:
            # The deletes instance starts where the copies end: CDC accepts that bookmark.
            self._stitch_setup("deletes", {"deleted_objects"}, _sandbox_now(self.sandbox))
            self.runs["deletes"].append(_stitch_run(self.sandbox, self.dirs["deletes"]))

    def follow_ups(self) -> None:
        if self.stitch_ok:
            self.runs["stitch"].append(_stitch_run(self.sandbox, self.dirs["stitch"]))
            self.runs["deletes"].append(_stitch_run(self.sandbox, self.dirs["deletes"]))
            # The deletes stream in a config that copies the history: what CDC answers it.
            self._stitch_setup("history", {"deleted_objects"}, HISTORY_START)
            self.one_config = _stitch_run(self.sandbox, self.dirs["history"])
        if self.airbyte_ok:
            self.runs["airbyte"].append(_airbyte_run(self.sandbox, self.dirs["airbyte"]))

    def outcomes(self) -> dict[str, Outcome]:
        found: dict[str, Outcome] = {}
        if self.stitch_ok:
            stitch, deletes = self.runs["stitch"], self.runs["deletes"]
            found["stitch"] = Outcome(
                _peer_final(stitch), stitch[0].calls, stitch[1], _repeated(stitch)
            )
            found["stitch+deletes"] = Outcome(
                _peer_final(stitch + deletes),
                stitch[0].calls + deletes[0].calls,
                _combined(stitch[1], deletes[1]),
                _repeated(stitch),
            )
        if self.airbyte_ok:
            airbyte = self.runs["airbyte"]
            found["airbyte"] = Outcome(
                _peer_final(airbyte), airbyte[0].calls, airbyte[1], _repeated(airbyte)
            )
        return found

    def _stitch_setup(self, key: str, streams: set[str], start: str) -> None:
        _stitch_setup(self.sandbox, self.dirs[key], self.catalog, streams, start)


# What the scored table shows, in this order: label, key in a tool's scores.
LINES = (
    ("live rows equal the source (Invoice, Customer, Item)", "live_rows_equal_source"),
    ("deleted invoices still live", "deleted_invoices_live"),
    ("deleted invoices marked deleted", "deleted_invoices_marked"),
    ("voided invoices seen as updates", "voids_seen"),
    ("edited invoices at the source's version", "edits_seen"),
    ("customers made inactive seen inactive", "deactivations_seen"),
    ("new invoices seen (dated in the window)", "created_in_window_seen"),
    ("new invoices seen (dated after the window)", "created_after_window_seen"),
    ("live rows the source no longer holds", "live_rows_not_at_source"),
    ("live rows not at the source's version", "stale_live_rows"),
    ("source records missing", "missing"),
    ("API calls, first run", "first_run_api_calls"),
    ("API calls, follow-up", "follow_up_api_calls"),
    ("follow-up wall s", "follow_up_wall_s"),
    ("follow-up exit code", "follow_up_exit"),
    ("records emitted by the follow-up", "follow_up_records"),
    ("... of them already emitted by the first run", "follow_up_records_already_emitted"),
)


def table(row: Row) -> str:
    """The side-by-side Markdown table of a scenario 11 row."""
    side: dict[str, dict[str, Any]] = row.figures["side_by_side"]
    churn: dict[str, int] = row.figures["churn"]
    out = ["| after the churn | " + " | ".join(side) + " |", "|---" * (len(side) + 1) + "|"]
    for label, key in LINES:
        cells = []
        for scores in side.values():
            value = scores.get(key, "-")
            total = _of(key, churn)
            if isinstance(value, bool):
                value = "yes" if value else "NO"
            elif value is None:
                value = "-"
            elif total is not None:
                value = f"{value} of {total}"
            cells.append(str(value))
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def _of(key: str, churn: dict[str, int]) -> int | None:
    return {
        "deleted_invoices_live": churn["deleted"],
        "deleted_invoices_marked": churn["deleted"],
        "voids_seen": churn["voided"],
        "edits_seen": churn["edited"],
        "deactivations_seen": churn["deactivated"],
        "created_in_window_seen": churn["created_in_window"],
        "created_after_window_seen": churn["created_after_window"],
    }.get(key)


# ----- the churn and the source


def _apply_churn(sandbox: SandboxProcess, rng: random.Random, invoices: int) -> Churn:
    """100 edits, 20 voids, 20 hard deletes of invoices, 10 customers made inactive, 9 new
    invoices dated in 2025 and 1 dated today (after the backfill's window), shuffled."""
    realm = f"/_sandbox/realms/{sandbox.realm}"
    picked = [str(i) for i in rng.sample(range(1, invoices + 1), 140)]
    churn = Churn(
        picked[:100],
        picked[100:120],
        picked[120:],
        [str(c) for c in rng.sample(range(1, sandbox.customers + 1), 10)],
        [],
        [],
    )
    calls: list[tuple[str, str, dict[str, Any] | None]] = []
    calls += [("POST", f"{realm}/Invoice/{i}", {"PrivateNote": "edited"}) for i in churn.edited]
    calls += [("POST", f"{realm}/Invoice/{i}/void", None) for i in churn.voided]
    calls += [("DELETE", f"{realm}/Invoice/{i}", None) for i in churn.deleted]
    calls += [("DELETE", f"{realm}/Customer/{c}", None) for c in churn.deactivated]
    for _ in range(9):
        day = f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        calls.append(("POST", f"{realm}/Invoice", {"CustomerRef": {"value": "1"}, "TxnDate": day}))
    calls.append(("POST", f"{realm}/Invoice", {"CustomerRef": {"value": "1"}}))
    rng.shuffle(calls)
    for method, path, body in calls:
        response = sandbox.http.request(method, path, json=body)
        response.raise_for_status()
        if method == "POST" and path.endswith("/Invoice"):
            record = response.json()
            dated_after = record["TxnDate"] >= "2026-01-01"
            (churn.created_after_window if dated_after else churn.created_in_window).append(
                record["Id"]
            )
    return churn


def _source(sandbox: SandboxProcess) -> dict[str, dict[str, dict[str, Any]]]:
    """Every record the sandbox holds now (inactive included, deleted excluded), by Id."""
    realm = f"/_sandbox/realms/{sandbox.realm}"
    source = {}
    for entity in STREAMS.values():
        records = sandbox.http.get(f"{realm}/{entity}").json()["records"]
        source[entity] = {str(r["Id"]): r for r in records}
    return source


def _sandbox_now(sandbox: SandboxProcess) -> str:
    return str(sandbox.http.get("/_sandbox/clock").json()["time"])


# ----- outputs, and their score


@dataclass
class Version:
    """The newest version of one Id in an output."""

    sync_token: int
    record: dict[str, Any]
    deleted: bool = False


def _our_final(schema: Schema) -> dict[str, dict[str, Version]]:
    final: dict[str, dict[str, Version]] = {}
    for entity in STREAMS.values():
        rows = schema.query(
            sql.SQL("SELECT id, payload, deleted_at_utc IS NOT NULL FROM {}").format(
                sql.Identifier(schema.name, f"qb_{entity.lower()}")
            )
        )
        final[entity] = {str(i): Version(int(p["SyncToken"]), p, bool(gone)) for i, p, gone in rows}
    return final


def _peer_final(runs: list[PeerRun]) -> dict[str, dict[str, Version]]:
    """Newest version per Id over the runs' RECORD messages, then the deletion markers."""
    final: dict[str, dict[str, Version]] = {e: {} for e in STREAMS.values()}
    markers: list[tuple[str, str]] = []
    for peer_run in runs:
        for message in peer_run.messages:
            if message.get("type") != "RECORD":
                continue
            stream, data = _stream_and_data(message)
            if stream == "deleted_objects":
                markers.append((data["Type"], str(data["Id"])))
                continue
            entity = STREAMS.get(stream)
            if entity is None:
                continue
            token = int(data["SyncToken"])
            known = final[entity].get(str(data["Id"]))
            if known is None or token >= known.sync_token:
                final[entity][str(data["Id"])] = Version(token, data)
    for entity, record_id in markers:
        version = final.get(entity, {}).get(record_id)
        if version is not None:
            version.deleted = True
    return final


def _stream_and_data(message: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Singer: `{"stream", "record"}`; Airbyte: `{"record": {"stream", "data"}}`."""
    if "stream" in message:
        return str(message["stream"]), message["record"]
    return str(message["record"]["stream"]), message["record"]["data"]


def _score(
    final: dict[str, dict[str, Version]],
    source: dict[str, dict[str, dict[str, Any]]],
    churn: Churn,
) -> dict[str, Any]:
    stale = missing = ghosts = 0
    for entity, records in source.items():
        live = {i: v for i, v in final[entity].items() if not v.deleted}
        missing += len(records.keys() - live.keys())
        ghosts += len(live.keys() - records.keys())
        stale += sum(
            1 for i, v in live.items() if i in records and v.sync_token != _token(records[i])
        )
    invoices, customers = final["Invoice"], final["Customer"]
    source_invoices = source["Invoice"]

    def current(record_id: str) -> bool:
        version = invoices.get(record_id)
        return (
            version is not None
            and not version.deleted
            and version.sync_token == _token(source_invoices[record_id])
        )

    return {
        "live_rows_equal_source": stale == missing == ghosts == 0,
        "deleted_invoices_live": sum(
            1 for i in churn.deleted if i in invoices and not invoices[i].deleted
        ),
        "deleted_invoices_marked": sum(
            1 for i in churn.deleted if i in invoices and invoices[i].deleted
        ),
        "voids_seen": sum(
            1
            for i in churn.voided
            if current(i) and float(invoices[i].record.get("TotalAmt") or 0) == 0
        ),
        "edits_seen": sum(1 for i in churn.edited if current(i)),
        "deactivations_seen": sum(
            1
            for c in churn.deactivated
            if c in customers and customers[c].record.get("Active") is False
        ),
        "created_in_window_seen": sum(1 for i in churn.created_in_window if current(i)),
        "created_after_window_seen": sum(1 for i in churn.created_after_window if current(i)),
        "stale_live_rows": stale,
        "missing": missing,
        "live_rows_not_at_source": ghosts,
    }


def _token(record: dict[str, Any]) -> int:
    return int(record["SyncToken"])


def _records(messages: list[dict[str, Any]]) -> int:
    return sum(1 for m in messages if m.get("type") == "RECORD")


def _repeated(runs: list[PeerRun]) -> int:
    """Records of the second run at a version (stream, Id, SyncToken) the first emitted."""
    seen = set()
    for message in runs[0].messages:
        if message.get("type") == "RECORD":
            stream, data = _stream_and_data(message)
            seen.add((stream, str(data.get("Id")), str(data.get("SyncToken"))))
    count = 0
    for message in runs[1].messages:
        if message.get("type") == "RECORD":
            stream, data = _stream_and_data(message)
            count += (stream, str(data.get("Id")), str(data.get("SyncToken"))) in seen
    return count


def _combined(a: PeerRun, b: PeerRun) -> PeerRun:
    return PeerRun(
        a.returncode or b.returncode,
        a.seconds + b.seconds,
        a.calls + b.calls,
        a.messages + b.messages,
        a.error or b.error,
    )


# ----- running the peers


def _run_peer(sandbox: SandboxProcess, work: Path, args: list[str]) -> PeerRun:
    """One measured run from `work`; its stdout parsed, the calls it cost."""
    run = run_measured(sandbox, work, args)
    returncode = -1 if run.returncode is None else run.returncode
    with run.out.open("rb") as lines:
        messages = [json.loads(line) for line in lines if line.startswith(b"{")]
    error = ""
    if returncode:
        said = run.err.read_text(errors="replace").strip().splitlines()
        error = said[-1][-300:] if said else "no message"
    return PeerRun(returncode, run.seconds, api_calls(run.counters), messages, error)


def _stitch_setup(
    sandbox: SandboxProcess, work: Path, catalog: dict[str, Any], streams: set[str], start: str
) -> None:
    """A tap instance in `work`: its config (the tap rewrites it with each rotated refresh
    token) and a catalog selecting `streams`."""
    work.mkdir(exist_ok=True)
    (work / "config.json").write_text(json.dumps(stitch_config(sandbox, start)))
    chosen = stitch_selected(catalog, streams)
    (work / "catalog.json").write_text(json.dumps({"streams": chosen}))


def _stitch_run(sandbox: SandboxProcess, work: Path) -> PeerRun:
    """The tap with the state its previous run in `work` emitted last (none the first time)."""
    args = STITCH.command(sandbox, "--config", "config.json", "--catalog", "catalog.json")
    if (work / "state.json").exists():
        args += ["--state", "state.json"]
    result = _run_peer(sandbox, work, args)
    states = [m["value"] for m in result.messages if m.get("type") == "STATE"]
    if states:
        (work / "state.json").write_text(json.dumps(states[-1]))
    return result


def _airbyte_setup(sandbox: SandboxProcess, work: Path) -> None:
    """Config as in scenario 2; every stream in incremental mode on the connector's cursor."""
    work.mkdir(exist_ok=True)
    (work / "config.json").write_text(json.dumps(airbyte_config(sandbox)))
    catalog = airbyte_catalog(
        {
            "sync_mode": "incremental",
            "cursor_field": ["airbyte_cursor"],
            "destination_sync_mode": "append_dedup",
            "primary_key": [["Id"]],
        },
        cursor={"source_defined_cursor": True, "default_cursor_field": ["airbyte_cursor"]},
    )
    (work / "catalog.json").write_text(json.dumps(catalog))


def _airbyte_run(sandbox: SandboxProcess, work: Path) -> PeerRun:
    """The connector with the newest state per stream its previous run emitted, and the
    config it asked the platform to persist (a rotated refresh token), as the platform does."""
    args = AIRBYTE.command(sandbox, "read", "--config", "config.json", "--catalog", "catalog.json")
    if (work / "state.json").exists():
        args += ["--state", "state.json"]
    result = _run_peer(sandbox, work, args)
    newest: dict[str, Any] = {}
    for message in result.messages:
        if message.get("type") == "STATE":
            state = message["state"]
            if "stream" in state:
                newest[state["stream"]["stream_descriptor"]["name"]] = state
        elif message.get("type") == "CONTROL":
            config = message["control"].get("connectorConfig", {}).get("config")
            if config:
                (work / "config.json").write_text(json.dumps(config))
    if newest:
        (work / "state.json").write_text(json.dumps(list(newest.values())))
    return result
