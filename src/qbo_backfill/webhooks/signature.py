"""The `intuit-signature` header: base64 of HMAC-SHA256 over the raw body, keyed by the app's
verifier token. There is no timestamp in it, so a replayed body verifies: recording each
event once is what makes a replay harmless."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

__all__ = ["SIGNATURE_HEADER", "sign", "signature_matches"]

SIGNATURE_HEADER = "intuit-signature"


def sign(body: bytes, verifier_token: str) -> str:
    """The header value Intuit sends for `body`."""
    digest = hmac.new(verifier_token.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signature_matches(body: bytes, header: str | None, verifier_token: str) -> bool:
    """Whether `header` signs the raw `body` (compared in constant time; missing: False)."""
    if not header:
        return False
    try:
        given = base64.b64decode(header.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    expected = hmac.new(verifier_token.encode("utf-8"), body, hashlib.sha256).digest()
    return hmac.compare_digest(given, expected)
