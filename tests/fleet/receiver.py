"""A `qbo-backfill webhooks serve` subprocess for the tests, and signed POSTs to it."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path
from typing import Any

import httpx
from psycopg import sql
from tests.fleet.helpers import QBO, Fleet

from qbo_backfill.webhooks.signature import sign

VERIFIER = "test-verifier-token-0123456789"


class ReceiverProcess:
    """The receiver on a free port of loopback; its log kept in a file."""

    def __init__(self, fleet: Fleet, name: str = "receiver", port: int = 0, *options: str) -> None:
        self.log_path = fleet.cwd / f"{name}.log"
        self._log = self.log_path.open("w", encoding="utf-8")
        env = {**fleet.env, "QBO_WEBHOOK_VERIFIER_TOKEN": VERIFIER}
        self.process = subprocess.Popen(
            [*QBO, "webhooks", "serve", "--port", str(port), *options],
            env=env,
            cwd=fleet.cwd,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, f"the receiver did not start: {self.log()}"
        self.urls: dict[str, str] = json.loads(line)
        self.client = httpx.Client(timeout=10.0)

    @property
    def url(self) -> str:
        return self.urls["webhooks"]

    def post(self, body: bytes, key: str | None = VERIFIER, **headers: str) -> httpx.Response:
        """POST `body` signed with `key` (None: unsigned)."""
        sent = {"content-type": "application/json", **headers}
        if key is not None:
            sent["intuit-signature"] = sign(body, key)
        return self.client.post(self.url, content=body, headers=sent)

    def stop(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self._close()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=30)
        self._close()

    def _close(self) -> None:
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._log.close()

    def log(self) -> str:
        return Path(self.log_path).read_text(encoding="utf-8")


def free_port() -> int:
    """A port free on loopback now (the sandbox must know the receiver's URL at start)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def legacy_body(realm: str, *changes: tuple[str, str, str, str]) -> bytes:
    """A legacy notification: (entity, id, operation, lastUpdated) per change."""
    entities = [{"name": n, "id": i, "operation": o, "lastUpdated": t} for n, i, o, t in changes]
    body = {"eventNotifications": [{"realmId": realm, "dataChangeEvent": {"entities": entities}}]}
    return json.dumps(body).encode()


def cloud_body(*events: tuple[str, str, str, str, str]) -> bytes:
    """A CloudEvents array: (event id, realm, entity, id, verb) per event."""
    return json.dumps(
        [
            {
                "specversion": "1.0",
                "id": event_id,
                "source": "intuit.test",
                "type": f"qbo.{entity.lower()}.{verb}.v1",
                "time": "2026-12-06T10:00:00Z",
                "intuitentityid": record_id,
                "intuitaccountid": realm,
                "datacontenttype": "application/json",
                "data": {},
            }
            for event_id, realm, entity, record_id, verb in events
        ]
    ).encode()


def recorded(fleet: Fleet) -> list[dict[str, Any]]:
    """Every recorded event, oldest first."""
    table = sql.Identifier(fleet.schema, "qbo_backfill_webhook_events")
    query = sql.SQL(
        "SELECT event_key, realm_id, entity, entity_id, operation, led_to, reason, job_id "
        "FROM {} ORDER BY received_at, event_key"
    ).format(table)
    names = ("key", "realm", "entity", "entity_id", "operation", "led_to", "reason", "job_id")
    return [dict(zip(names, row, strict=True)) for row in fleet.fetch(query)]


def sync_jobs(fleet: Fleet) -> list[tuple[str, str, list[str]]]:
    """(status, realm, entities) of every sync job."""
    table = sql.Identifier(fleet.schema, "procrastinate_jobs")
    query = sql.SQL(
        "SELECT status::text, args ->> 'realm', args -> 'entities' FROM {} "
        "WHERE task_name = 'qbo_backfill.sync_company' ORDER BY id"
    ).format(table)
    return [(r[0], r[1], list(r[2])) for r in fleet.fetch(query)]
