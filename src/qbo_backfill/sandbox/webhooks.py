"""The sandbox's webhook sender: Intuit's notifications of every change the admin API makes.

- Every change to a record (the one asked for, and each record its books moved: the
  invoices a payment settles, the customer's balance, ...) is one event, named as Intuit
  names them (Create, Update, Delete, Void).
- Events are batched: those within `webhook_delay_ms` of the first go in one POST (at most
  `MAX_EVENTS_PER_POST`), CloudEvents (an array) or legacy (`eventNotifications`, one
  entry per company), signed as Intuit signs them (`intuit-signature`).
- A POST answered other than 2xx (or not answered) is sent again on Intuit's schedule,
  multiplied by `webhook_retry_scale` (tests use a small one), the same bytes each time.
- `webhook_duplicates` sends each POST that many extra times; `webhook_reorder` sends a
  batch's events newest first. Both are for tests of a receiver's idempotence.
- Sending runs in tasks of the server's loop: an admin request only appends to a list, so
  the API's answers never wait for a receiver.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson

from qbo_backfill.sandbox import clock
from qbo_backfill.sandbox.config import SandboxConfig

__all__ = ["INTUIT_RETRY_SECONDS", "MAX_EVENTS_PER_POST", "WebhookSender"]

# Intuit's retries of a failed delivery: about 10 s, 20 s, 30 s, 5 min, 20 min, 2 h, 4 h,
# 6 h, then every 6 h.
INTUIT_RETRY_SECONDS = (10, 20, 30, 300, 1200, 7200, 14400, 21600)
MAX_EVENTS_PER_POST = 100
POST_TIMEOUT_SECONDS = 10.0
_VERBS = {"Create": "created", "Update": "updated", "Delete": "deleted", "Void": "voided"}
_COUNTERS = ("events", "posts", "delivered", "failed_attempts", "retries", "duplicates")


class WebhookSender:
    """Collects change events and delivers them to one URL, signed, batched, retried."""

    def __init__(self, config: SandboxConfig) -> None:
        self.url = config.webhook_url or ""
        self._key = (config.webhook_verifier or "").encode("utf-8")
        self.config = config
        self._pending: list[dict[str, Any]] = []
        self._flush: asyncio.Handle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self.counters: Counter[str] = Counter()

    def notice(self, realm: str, entity: str, record_id: int, operation: str, now: float) -> None:
        """One change (called in the server's loop); sent with the others within the delay."""
        self._pending.append(
            {"realm": realm, "entity": entity, "id": str(record_id), "op": operation, "at": now}
        )
        self.counters["events"] += 1
        if self._flush is None:
            loop = asyncio.get_running_loop()
            self._flush = loop.call_later(self.config.webhook_delay_ms / 1000.0, self._send)

    def counts(self) -> dict[str, int]:
        """What was sent so far, and the deliveries still being tried (`pending`)."""
        return {**{name: self.counters[name] for name in _COUNTERS}, "pending": len(self._tasks)}

    def reset(self) -> None:
        self.counters.clear()

    async def close(self) -> None:
        """Stop trying (retries still waiting are dropped, as a stopped Intuit would)."""
        if self._flush is not None:
            self._flush.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    def _send(self) -> None:
        self._flush = None
        events, self._pending = self._pending, []
        if self.config.webhook_reorder:
            events.reverse()
        for start in range(0, len(events), MAX_EVENTS_PER_POST):
            body = self._body(events[start : start + MAX_EVENTS_PER_POST])
            for _ in range(1 + self.config.webhook_duplicates):
                task = asyncio.get_running_loop().create_task(self._deliver(body))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            self.counters["duplicates"] += self.config.webhook_duplicates

    def _body(self, events: list[dict[str, Any]]) -> bytes:
        if self.config.webhook_format == "legacy":
            return orjson.dumps(_legacy(events))
        return orjson.dumps([_cloud_event(e) for e in events])

    async def _deliver(self, body: bytes) -> None:
        """POST until a 2xx, waiting Intuit's retry schedule (scaled) between attempts."""
        headers = {
            "content-type": _content_type(self.config.webhook_format),
            "intuit-signature": base64.b64encode(
                hmac.new(self._key, body, hashlib.sha256).digest()
            ).decode("ascii"),
        }
        attempt = 0
        while True:
            self.counters["posts"] += 1
            if await self._post(body, headers):
                self.counters["delivered"] += 1
                return
            self.counters["failed_attempts"] += 1
            wait = INTUIT_RETRY_SECONDS[min(attempt, len(INTUIT_RETRY_SECONDS) - 1)]
            attempt += 1
            self.counters["retries"] += 1
            await asyncio.sleep(wait * self.config.webhook_retry_scale)

    async def _post(self, body: bytes, headers: dict[str, str]) -> bool:
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=POST_TIMEOUT_SECONDS)
            self._session = aiohttp.ClientSession(timeout=timeout)
        try:
            async with self._session.post(self.url, data=body, headers=headers) as answer:
                await answer.read()
                return 200 <= answer.status < 300
        except (aiohttp.ClientError, TimeoutError, OSError):
            return False


def _content_type(webhook_format: str) -> str:
    return "application/cloudevents+json" if webhook_format == "cloudevents" else "application/json"


def _cloud_event(event: dict[str, Any]) -> dict[str, Any]:
    verb = _VERBS.get(event["op"], event["op"].lower())
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "intuit.sandbox",
        "type": f"qbo.{event['entity'].lower()}.{verb}.v1",
        "time": datetime.fromtimestamp(event["at"], UTC).isoformat().replace("+00:00", "Z"),
        "intuitentityid": event["id"],
        "intuitaccountid": event["realm"],
        "datacontenttype": "application/json",
        "data": {},
    }


def _legacy(events: list[dict[str, Any]]) -> dict[str, Any]:
    by_realm: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_realm.setdefault(event["realm"], []).append(
            {
                "name": event["entity"],
                "id": event["id"],
                "operation": event["op"],
                "lastUpdated": clock.format_local(int(event["at"])),
            }
        )
    return {
        "eventNotifications": [
            {"realmId": realm, "dataChangeEvent": {"entities": entities}}
            for realm, entities in by_realm.items()
        ]
    }
