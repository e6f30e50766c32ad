"""Response bodies shaped exactly like QBO's: pages, counts and Faults."""

from __future__ import annotations

import itertools
import time
from typing import Any

import orjson
from aiohttp import web

from qbo_backfill.sandbox import clock

__all__ = [
    "ApiFault",
    "auth_failed",
    "fault",
    "json_bytes_response",
    "json_response",
    "page_body",
    "throttle_fault",
    "throttle_xml",
    "validation_fault",
]

_JSON = "application/json"
_tid_counter = itertools.count(1)


class ApiFault(Exception):
    """An error answer from a data endpoint: HTTP status and Fault body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def validation_fault(detail: str, code: str = "4000", message: str = "Invalid request") -> ApiFault:
    """A 400 ValidationFault."""
    return ApiFault(400, fault("ValidationFault", code, message, detail))


def intuit_tid() -> str:
    """A fresh transaction id for the `intuit_tid` header."""
    return f"1-{int(time.time() * 1000):x}-{next(_tid_counter):08x}"


def now_stamp() -> str:
    """The `time` field: Pacific time with milliseconds."""
    return clock.format_local_millis(clock.now_epoch())


def json_response(body: dict[str, Any], status: int = 200) -> web.Response:
    """A JSON response with QBO's content type and an `intuit_tid` header."""
    return web.Response(
        body=orjson.dumps(body),
        status=status,
        content_type=_JSON,
        charset="utf-8",
        headers={"intuit_tid": intuit_tid()},
    )


def json_bytes_response(body: bytes, status: int = 200) -> web.Response:
    """A JSON response of bytes already encoded (a replayed payload), sent as they are."""
    return web.Response(
        body=body,
        status=status,
        content_type=_JSON,
        charset="utf-8",
        headers={"intuit_tid": intuit_tid()},
    )


def fault(kind: str, code: str, message: str, detail: str, element: str = "") -> dict[str, Any]:
    """`{"Fault": {"Error": [...], "type": kind}, "time": ...}`."""
    error = {"Message": message, "Detail": detail, "code": code, "element": element}
    return {"Fault": {"Error": [error], "type": kind}, "time": now_stamp()}


def query_fault(code: str, detail: str) -> dict[str, Any]:
    """The ValidationFault of a bad query (codes 4000 and 4001)."""
    message = "Error parsing query" if code == "4000" else "Invalid query"
    return fault("ValidationFault", code, message, detail)


def throttle_fault() -> dict[str, Any]:
    """The exact 429 body of QBO_API.md."""
    error = {
        "Message": "message=ThrottleExceeded; errorCode=003001; statusCode=429",
        "Detail": "The request limit was reached.  Try again later",
        "code": "3001",
    }
    return {"Fault": {"Error": [error], "type": "SERVICE"}, "time": now_stamp()}


def throttle_xml() -> str:
    """The older XML form of the throttle Fault."""
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="{now_stamp()}">'
        '<Fault type="SERVICE"><Error code="3001">'
        "<Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>"
        "<Detail>The request limit was reached.  Try again later</Detail>"
        "</Error></Fault></IntuitResponse>"
    )


def auth_failed(detail: str) -> dict[str, Any]:
    """401 body: the lower-case variant Intuit sends for authentication failures.

    Intuit answers a bad or expired bearer token with this camel-case envelope
    (`fault`/`error`, `time` in epoch milliseconds), not the capitalised `Fault`.
    """
    return {
        "warnings": None,
        "intuitObject": None,
        "fault": {
            "error": [
                {
                    "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                    "detail": detail,
                    "code": "3200",
                    "element": None,
                }
            ],
            "type": "AUTHENTICATION",
        },
        "report": None,
        "queryResponse": None,
        "batchItemResponse": [],
        "attachableResponse": [],
        "syncErrorResponse": None,
        "requestId": None,
        "time": int(clock.now_epoch() * 1000),
        "status": None,
        "cdcresponse": [],
    }


def page_body(entity: str, rows: list[Any], start: int) -> dict[str, Any]:
    """A query page; an empty page has no entity key and no maxResults."""
    if not rows:
        return {"QueryResponse": {}, "time": now_stamp()}
    return {
        "QueryResponse": {entity: rows, "startPosition": start, "maxResults": len(rows)},
        "time": now_stamp(),
    }


def count_body(total: int) -> dict[str, Any]:
    """`{"QueryResponse": {"totalCount": n}, "time": ...}`."""
    return {"QueryResponse": {"totalCount": total}, "time": now_stamp()}
