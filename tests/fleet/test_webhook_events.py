"""The pure parts of the receiver: the signature and both notification formats."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

from tests.fleet.receiver import cloud_body, legacy_body

from qbo_backfill.webhooks.events import read_notifications
from qbo_backfill.webhooks.signature import sign, signature_matches


def test_the_signature_is_base64_hmac_sha256_of_the_raw_body() -> None:
    body = b'{"eventNotifications": []}'
    expected = base64.b64encode(hmac.new(b"key", body, hashlib.sha256).digest()).decode()
    assert sign(body, "key") == expected
    assert signature_matches(body, expected, "key")
    assert not signature_matches(body + b" ", expected, "key")  # re-serialized: refused
    assert not signature_matches(body, expected, "other")
    assert not signature_matches(body, None, "key")
    assert not signature_matches(body, "%%%", "key")


def test_legacy_events_are_keyed_by_their_natural_key() -> None:
    body = legacy_body("123", ("Invoice", "5", "Update", "2026-01-02T03:04:05-0800"))
    (event,) = read_notifications(body)
    assert (event.realm_id, event.entity, event.entity_id, event.operation) == (
        "123",
        "Invoice",
        "5",
        "Update",
    )
    assert event.event_time == datetime(2026, 1, 2, 11, 4, 5, tzinfo=UTC)
    assert event.problem is None
    assert read_notifications(body)[0].key == event.key
    later = legacy_body("123", ("Invoice", "5", "Update", "2026-01-02T03:04:06-0800"))
    assert read_notifications(later)[0].key != event.key


def test_cloud_events_name_entity_and_operation_by_their_type() -> None:
    body = cloud_body(
        ("a", "9", "JournalEntry", "1", "created"),
        ("b", "9", "Invoice", "2", "voided"),
        ("c", "9", "Invoice", "3", "exploded"),
    )
    first, second, third = read_notifications(body)
    assert (first.key, first.entity, first.operation) == ("ce:a", "JournalEntry", "Create")
    assert (second.entity, second.operation) == ("Invoice", "Void")
    assert third.problem == "unknown operation 'exploded'"


def test_unreadable_bodies_become_one_event_saying_why() -> None:
    assert read_notifications(b"\xff")[0].problem == "body is not JSON"
    assert read_notifications(b"{}")[0].problem == (
        "neither a CloudEvents array nor eventNotifications"
    )
    assert read_notifications(b"[]")[0].problem == "no events in the body"
    assert read_notifications(b"[]")[0].key == read_notifications(b"[]")[0].key
