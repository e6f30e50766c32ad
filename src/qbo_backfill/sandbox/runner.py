"""Running the sandbox: in-process on a background thread, or in the foreground for the CLI."""

from __future__ import annotations

import asyncio
import gc
import signal
import socket
import sys
import threading
from datetime import datetime
from types import FrameType, TracebackType
from typing import Any, TextIO

import httpx
import orjson
from aiohttp import web

from qbo_backfill.sandbox.config import SandboxConfig, SandboxInfo
from qbo_backfill.sandbox.server import build_app
from qbo_backfill.sandbox.state import SandboxState

__all__ = ["Sandbox", "serve_forever"]


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.setblocking(False)
    return sock


class Sandbox:
    """A sandbox served on its own event loop in a background thread."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self._info: SandboxInfo | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: httpx.Client | None = None
        self._failure: BaseException | None = None
        self._state: SandboxState | None = None

    # ---- lifecycle --------------------------------------------------------------------
    def start(self) -> Sandbox:
        """Generate the data, bind the port and start serving; returns self."""
        if self._thread is not None:
            raise RuntimeError("sandbox already started")
        self.config.validate()
        sock = _bind(self.config.host, self.config.port)
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        base_url = f"http://{shown}:{port}"
        try:
            state = SandboxState(self.config, base_url)
        except BaseException:
            sock.close()
            raise
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._serve, args=(loop, state, sock, ready), name="qbo-sandbox", daemon=True
        )
        self._loop = loop
        self._thread.start()
        ready.wait()
        if self._failure is not None:
            self._thread.join()
            self._thread = None
            raise RuntimeError(f"sandbox failed to start: {self._failure}") from self._failure
        creds = state.credentials
        self._state = state
        self._info = SandboxInfo(
            base_url=base_url,
            token_url=state.url("/oauth2/v1/tokens/bearer"),
            authorize_url=state.url("/connect/oauth2"),
            revoke_url=state.url("/v2/oauth2/tokens/revoke"),
            discovery_url=state.url("/.well-known/openid_configuration"),
            client_id=creds.client_id,
            client_secret=creds.client_secret,
            realm_id=creds.realm_ids[0],
            realm_ids=list(creds.realm_ids),
            refresh_token=creds.refresh_tokens[creds.realm_ids[0]],
            refresh_tokens=dict(creds.refresh_tokens),
        )
        return self

    def _serve(
        self,
        loop: asyncio.AbstractEventLoop,
        state: SandboxState,
        sock: socket.socket,
        ready: threading.Event,
    ) -> None:
        asyncio.set_event_loop(loop)
        runner = web.AppRunner(build_app(state), access_log=None, handle_signals=False)
        try:
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.SockSite(runner, sock).start())
        except Exception as exc:  # noqa: BLE001 - handed to the starting thread, which raises it
            self._failure = exc
            sock.close()
            loop.close()
            ready.set()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            sock.close()

    def stop(self) -> None:
        """Stop serving and release the port; safe to call twice."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._thread = None
        self._loop = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def info(self) -> SandboxInfo:
        """Addresses and credentials; only once started."""
        if self._info is None:
            raise RuntimeError("sandbox not started")
        return self._info

    # ---- the admin API, over HTTP -----------------------------------------------------
    @property
    def state(self) -> SandboxState:
        """The running sandbox's state (companies and their books), for inspection in
        process: read it between requests, not while the server is answering one."""
        if self._state is None:
            raise RuntimeError("sandbox not started")
        return self._state

    def _admin(
        self, method: str, path: str, body: Any = None, content: bytes | None = None, **params: Any
    ) -> Any:
        if self._client is None:
            self._client = httpx.Client(base_url=self.info.base_url, timeout=60.0)
        query = {k: v for k, v in params.items() if v is not None}
        response = self._client.request(
            method, "/_sandbox" + path, json=body, content=content, params=query
        )
        if response.status_code >= 400:
            raise ValueError(f"sandbox admin {method} {path}: {response.json().get('error')}")
        return response.json()

    def _realm(self, realm: str | None) -> str:
        return realm or self.info.realm_id

    def counters(self, realm: str | None = None) -> dict[str, Any]:
        """Counters of all realms (or one) and of OAuth, as `GET /_sandbox/counters` gives."""
        result: dict[str, Any] = self._admin("GET", "/counters", realm=realm)
        return result

    def reset_counters(self) -> None:
        """Zero the counters, limiter windows and fault sequences."""
        self._admin("POST", "/reset")

    def records(self, entity: str, realm: str | None = None) -> list[dict[str, Any]]:
        """Every record the sandbox holds for an entity, inactive included, deleted excluded."""
        body = self._admin("GET", f"/realms/{self._realm(realm)}/{entity}")
        records: list[dict[str, Any]] = body["records"]
        return records

    def create(
        self, entity: str, fields: dict[str, Any], realm: str | None = None
    ) -> dict[str, Any]:
        """Create a record now; returns it with its new Id."""
        record: dict[str, Any] = self._admin(
            "POST", f"/realms/{self._realm(realm)}/{entity}", fields
        )
        return record

    def update(
        self, entity: str, record_id: str | int, patch: dict[str, Any], realm: str | None = None
    ) -> dict[str, Any]:
        """Merge a patch into a record; bumps SyncToken and MetaData.LastUpdatedTime."""
        path = f"/realms/{self._realm(realm)}/{entity}/{record_id}"
        record: dict[str, Any] = self._admin("POST", path, patch)
        return record

    def delete(
        self, entity: str, record_id: str | int, realm: str | None = None, *, hard: bool = False
    ) -> dict[str, Any]:
        """Delete as QBO does: a list record with `Active` becomes inactive (an update), a
        transaction is gone (CDC reports a tombstone); `hard=True` removes a list record too.

        Returns `{"deleted": id, "hard": bool}`, plus `"record"` (the inactive record) when
        it was an update."""
        path = f"/realms/{self._realm(realm)}/{entity}/{record_id}"
        answer: dict[str, Any] = self._admin("DELETE", path, hard="true" if hard else None)
        return answer

    def void(self, entity: str, record_id: str | int, realm: str | None = None) -> dict[str, Any]:
        """Void a transaction: TotalAmt, Balance and line amounts 0, PrivateNote "Voided";
        an ordinary update (SyncToken and LastUpdatedTime bump). Returns the record."""
        path = f"/realms/{self._realm(realm)}/{entity}/{record_id}/void"
        record: dict[str, Any] = self._admin("POST", path)
        return record

    def restore(
        self, entity: str, record_id: str | int, realm: str | None = None
    ) -> dict[str, Any]:
        """Undo a delete: the record comes back under its Id as it was (an inactive list
        record becomes active), SyncToken and LastUpdatedTime bumped. Returns the record."""
        path = f"/realms/{self._realm(realm)}/{entity}/{record_id}/restore"
        record: dict[str, Any] = self._admin("POST", path)
        return record

    def replay_report(
        self, name: str, payload: dict[str, Any] | bytes, realm: str | None = None
    ) -> None:
        """Serve `payload` verbatim for every request of report `name` of the realm, whatever
        its parameters, until `clear_report`. Bytes are served exactly as given (a captured
        answer); a dict is encoded as JSON first."""
        raw = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        self._admin("PUT", f"/realms/{self._realm(realm)}/reports/{name}", content=raw)

    def clear_report(self, name: str, realm: str | None = None) -> None:
        """Serve report `name` computed from the books again; ValueError if not replayed."""
        self._admin("DELETE", f"/realms/{self._realm(realm)}/reports/{name}")

    def advance_clock(self, seconds: float) -> datetime:
        """Move the sandbox's clock forward: later changes, CDC's 30-day look-back and token
        expiries follow it. Returns the sandbox's new time."""
        answer = self._admin("POST", "/clock", {"advance_seconds": seconds})
        return datetime.fromisoformat(answer["time"])

    def now(self) -> datetime:
        """The sandbox's current time (the wall clock plus every advance), to the second."""
        return datetime.fromisoformat(self._admin("GET", "/clock")["time"])

    def set_faults(self, spec: str) -> None:
        """Replace the fault spec at run time; ValueError for a bad spec."""
        self._admin("POST", "/faults", {"spec": spec})

    def revoke_tokens(self) -> None:
        """Every refresh and access token of every realm becomes invalid."""
        self._admin("POST", "/tokens/revoke")

    def expire_access_tokens(self) -> None:
        """Every access token issued so far answers 401 from now on."""
        self._admin("POST", "/tokens/expire-access")


def _summary(info: SandboxInfo, config: SandboxConfig) -> str:
    realms = ", ".join(info.realm_ids)
    limits = (
        f"{config.rate_limit_per_min}/min, {config.rate_limit_per_sec}/s, "
        f"{config.max_in_flight} in flight, {config.batch_limit_per_min} batch/min (0 = off)"
    )
    lines = [
        f"QBO sandbox listening on {info.base_url}",
        f"  realms:     {realms}",
        f"  data:       {config.customers} customers, {config.items} items, "
        f"{config.invoices} invoices, {config.other_count()} of each other entity per realm "
        f"(seed {config.seed})",
        f"  limits:     {limits}",
        f"  latency:    {config.latency_ms} ms +/- {config.latency_jitter_ms} ms",
        f"  faults:     {config.faults or 'none'}",
        f"  webhooks:   {_webhooks(config)}",
        f"  discovery:  {info.discovery_url}",
        "Press Ctrl+C to stop.",
    ]
    return "\n".join(lines) + "\n"


def _webhooks(config: SandboxConfig) -> str:
    if not config.webhook_url:
        return "none"
    return (
        f"{config.webhook_format} to {config.webhook_url}, batched over "
        f"{config.webhook_delay_ms} ms, retries x{config.webhook_retry_scale}"
    )


def serve_forever(
    config: SandboxConfig, *, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> None:
    """Start, print one JSON line to `out` and a summary to `err`, serve until SIGINT/SIGTERM."""
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with Sandbox(config) as sandbox:
            # The generated data lives as long as the process: keep the collector off it.
            gc.freeze()
            out.write(sandbox.info.to_json() + "\n")
            out.flush()
            err.write(_summary(sandbox.info, config))
            err.flush()
            stop.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
