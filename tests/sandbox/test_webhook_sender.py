"""The sandbox's webhook sender against a capturing HTTP server: signed as Intuit signs,
both formats, batched within the delay, retried on a scaled schedule, duplicated and
reordered on demand, counted, and never in the way of the API's answers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from tests.helpers import SMALL

from qbo_backfill.sandbox import Sandbox, SandboxConfig

KEY = "sender-test-key"


class Capture:
    """An HTTP server that keeps every POST; answers 500 to the first `fail` of them and
    waits `delay` seconds before each answer."""

    def __init__(self, fail: int = 0, delay: float = 0.0) -> None:
        self.posts: list[tuple[dict[str, str], bytes]] = []
        self.fail = fail
        self.delay = delay
        self.lock = threading.Lock()
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                time.sleep(capture.delay)
                with capture.lock:
                    capture.posts.append((dict(self.headers.items()), body))
                    failing = len(capture.posts) <= capture.fail
                self.send_response(500 if failing else 200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False  # a slow answer in progress is abandoned
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def events(self) -> list[Any]:
        return [json.loads(body) for _, body in self.posts]


def wait_for(check: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def started() -> Iterator[Callable[..., tuple[Sandbox, Capture]]]:
    made: list[tuple[Sandbox, Capture]] = []

    def start(fail: int = 0, delay: float = 0.0, **webhook: Any) -> tuple[Sandbox, Capture]:
        capture = Capture(fail, delay)
        fields = {"webhook_url": capture.url, "webhook_verifier": KEY, **webhook}
        sb = Sandbox(SandboxConfig(**{**SMALL, "realms": 2, **fields})).start()
        made.append((sb, capture))
        return sb, capture

    yield start
    for sb, capture in made:
        sb.stop()
        capture.close()


def test_a_change_is_a_signed_cloud_event_with_the_records_it_moved(started: Any) -> None:
    sb, capture = started()
    invoice = sb.records("Invoice")[0]
    updated = sb.update("Invoice", invoice["Id"], {"Line": invoice["Line"][:1]})
    wait_for(lambda: len(capture.posts) == 1, "the POST")
    headers, body = capture.posts[0]
    expected = base64.b64encode(hmac.new(KEY.encode(), body, hashlib.sha256).digest()).decode()
    assert headers["intuit-signature"] == expected
    assert headers["content-type"] == "application/cloudevents+json"
    events = json.loads(body)
    assert events[0]["type"] == "qbo.invoice.updated.v1"
    assert events[0]["intuitentityid"] == invoice["Id"]
    assert events[0]["intuitaccountid"] == sb.info.realm_id
    moved = {(e["type"].split(".")[1], e["intuitentityid"]) for e in events[1:]}
    assert moved  # its accounts' balances moved: each moved record is notified
    stamp = updated["MetaData"]["LastUpdatedTime"]
    names = {"account": "Account", "customer": "Customer", "payment": "Payment"}
    for entity, record_id in moved:
        (record,) = [r for r in sb.records(names[entity]) if r["Id"] == record_id]
        assert record["MetaData"]["LastUpdatedTime"] == stamp
    assert sb.counters()["webhooks"]["delivered"] == 1


def test_legacy_batches_the_changes_within_the_delay(started: Any) -> None:
    sb, capture = started(webhook_format="legacy", webhook_delay_ms=300)
    first, second = sb.info.realm_ids
    sb.void("Invoice", sb.records("Invoice")[0]["Id"])
    sb.delete("Invoice", sb.records("Invoice", second)[1]["Id"], realm=second)
    wait_for(lambda: len(capture.posts) >= 1, "the POST")
    time.sleep(0.5)  # nothing more comes: both changes were in the one POST
    assert len(capture.posts) == 1
    notifications = capture.events()[0]["eventNotifications"]
    by_realm = {n["realmId"]: n["dataChangeEvent"]["entities"] for n in notifications}
    assert {e["operation"] for e in by_realm[first]} >= {"Void"}
    assert ("Invoice", "Delete") in {(e["name"], e["operation"]) for e in by_realm[second]}


def test_a_failed_post_is_retried_with_the_same_bytes(started: Any) -> None:
    sb, capture = started(fail=2, webhook_retry_scale=0.01)
    sb.create("Customer", {"DisplayName": "Retried"})
    wait_for(lambda: sb.counters()["webhooks"]["delivered"] == 1, "the delivery")
    assert len(capture.posts) == 3
    assert len({body for _, body in capture.posts}) == 1
    counts = sb.counters()["webhooks"]
    assert (counts["posts"], counts["failed_attempts"], counts["retries"]) == (3, 2, 2)


def test_duplicates_and_reordering_on_demand(started: Any) -> None:
    sb, capture = started(webhook_duplicates=2, webhook_reorder=True, webhook_delay_ms=200)
    sb.create("Customer", {"DisplayName": "First"})
    sb.create("Customer", {"DisplayName": "Second"})
    wait_for(lambda: len(capture.posts) == 3, "three copies")
    assert len({body for _, body in capture.posts}) == 1
    ids = [int(e["intuitentityid"]) for e in capture.events()[0]]
    assert ids == sorted(ids, reverse=True)


def test_a_slow_receiver_does_not_slow_the_api(started: Any) -> None:
    sb, _capture = started(delay=5.0)
    began = time.monotonic()
    for n in range(3):
        sb.create("Customer", {"DisplayName": f"Quick {n}"})
    assert time.monotonic() - began < 4.0  # each POST waits 5 s at the receiver
    assert sb.counters()["webhooks"]["events"] == 3
