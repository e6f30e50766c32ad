"""HTTP handlers of the QBO data endpoints, and the pipeline each request goes through:
token check, throttling, faults, latency, then the answer."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import orjson
from aiohttp import web

from qbo_backfill.sandbox import clock
from qbo_backfill.sandbox.catalog import CATALOG
from qbo_backfill.sandbox.cdc import cdc_answer
from qbo_backfill.sandbox.limits import RealmLimiter
from qbo_backfill.sandbox.oauth_http import bearer_token, form_str
from qbo_backfill.sandbox.querylang import ParsedQuery, QueryError, parse_query
from qbo_backfill.sandbox.reports.registry import ReportLimits, build_report
from qbo_backfill.sandbox.responses import (
    ApiFault,
    auth_failed,
    count_body,
    fault,
    intuit_tid,
    json_bytes_response,
    json_response,
    now_stamp,
    page_body,
    query_fault,
    throttle_fault,
    throttle_xml,
    validation_fault,
)
from qbo_backfill.sandbox.state import SandboxState
from qbo_backfill.sandbox.store import RecordNotFoundError

__all__ = ["ApiHandlers"]

BATCH_MAX_ITEMS = 30
Handler = Callable[[], Awaitable[web.StreamResponse]]
_READ_PATHS = {name.lower(): name for name in CATALOG}


class ApiHandlers:
    """Request handlers of the data endpoints; all state lives in SandboxState."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    # ---- data endpoints ---------------------------------------------------------------
    async def query(self, request: web.Request) -> web.StreamResponse:
        text = await _query_text(request)
        parsed: ParsedQuery | QueryError
        try:
            parsed = parse_query(text) if text else QueryError("4000", "QueryParserError: no query")
        except QueryError as exc:
            parsed = exc
        kind = "count" if isinstance(parsed, ParsedQuery) and parsed.count else "query"

        async def run() -> web.StreamResponse:
            if isinstance(parsed, QueryError):
                raise ApiFault(400, query_fault(parsed.code, parsed.detail))
            realm = request.match_info["realm"]
            return json_response(self._run_query(realm, parsed))

        return await self._data(request, kind, run)

    def _run_query(self, realm: str, parsed: ParsedQuery) -> dict[str, Any]:
        store = self.state.companies[realm].store(parsed.entity.name)
        matches = store.query_rows(parsed)
        if parsed.count:
            return count_body(len(matches))
        if parsed.entity.name == "Item" and not parsed.with_sku:
            rows = store.page(matches, parsed.start, parsed.max_results)
            for row in rows:
                row.pop("Sku", None)
        else:
            rows = store.page_to_encode(matches, parsed.start, parsed.max_results)
        self.state.limiters[realm].counters.rows_served += len(rows)
        return page_body(parsed.entity.name, rows, parsed.start)

    async def batch(self, request: web.Request) -> web.StreamResponse:
        async def run() -> web.StreamResponse:
            realm = request.match_info["realm"]
            try:
                payload = orjson.loads(await request.read())
            except orjson.JSONDecodeError:
                raise validation_fault("Request body is not valid JSON") from None
            items = payload.get("BatchItemRequest") if isinstance(payload, dict) else None
            if not isinstance(items, list) or not items:
                raise validation_fault("BatchItemRequest must be a non-empty list")
            if len(items) > BATCH_MAX_ITEMS:
                raise validation_fault(
                    f"Number of batch items {len(items)} exceeds the limit of {BATCH_MAX_ITEMS}"
                )
            answers = [self._batch_item(realm, item) for item in items]
            return json_response({"BatchItemResponse": answers, "time": now_stamp()})

        return await self._data(request, "batch", run)

    def _batch_item(self, realm: str, item: Any) -> dict[str, Any]:
        if not isinstance(item, dict):
            return {
                "Fault": fault("ValidationFault", "4000", "Invalid request", "not an object")[
                    "Fault"
                ]
            }
        answer: dict[str, Any] = {"bId": str(item.get("bId", ""))}
        text = item.get("Query")
        if not isinstance(text, str):
            detail = "Only Query items are supported by the sandbox's batch endpoint"
            answer["Fault"] = fault("ValidationFault", "4000", "Unsupported operation", detail)[
                "Fault"
            ]
            return answer
        try:
            body = self._run_query(realm, parse_query(text))
        except QueryError as exc:
            answer["Fault"] = query_fault(exc.code, exc.detail)["Fault"]
            return answer
        answer["QueryResponse"] = body["QueryResponse"]
        return answer

    async def cdc(self, request: web.Request) -> web.StreamResponse:
        async def run() -> web.StreamResponse:
            realm = request.match_info["realm"]
            params = request.query
            body = cdc_answer(
                self.state.companies[realm],
                params.get("entities", ""),
                params.get("changedSince", ""),
                self.state.clock.now(),
            )
            served = sum(
                len(objects)
                for group in body["CDCResponse"][0]["QueryResponse"]
                for objects in group.values()
                if isinstance(objects, list)
            )
            self.state.limiters[realm].counters.rows_served += served
            return json_response(body)

        return await self._data(request, "cdc", run)

    async def companyinfo(self, request: web.Request) -> web.StreamResponse:
        async def run() -> web.StreamResponse:
            realm = request.match_info["realm"]
            if request.match_info["id"] != realm:
                raise _not_found("CompanyInfo", request.match_info["id"])
            info = self.state.companies[realm].company_info
            return json_response({"CompanyInfo": info, "time": now_stamp()})

        return await self._data(request, "companyinfo", run)

    async def report(self, request: web.Request) -> web.StreamResponse:
        async def run() -> web.StreamResponse:
            realm = request.match_info["realm"]
            name = request.match_info["report"]
            replay = self.state.report_replays.get((realm, name))
            if replay is not None:
                return json_bytes_response(replay)
            today = date.fromordinal(clock.local_date_ordinal(self.state.clock.now()))
            config = self.state.config
            limits = ReportLimits(config.report_cell_cap, config.report_dense_rows)
            company = self.state.companies[realm]
            return json_response(build_report(company, name, dict(request.query), today, limits))

        return await self._data(request, "reports", run)

    async def read(self, request: web.Request) -> web.StreamResponse:
        async def run() -> web.StreamResponse:
            realm = request.match_info["realm"]
            entity = _READ_PATHS.get(request.match_info["entity"].lower())
            raw_id = request.match_info["id"]
            if entity is None:
                raise validation_fault(f"Unsupported entity path {request.match_info['entity']}")
            store = self.state.companies[realm].store(entity)
            try:
                record = store.get(int(raw_id)) if raw_id.isdigit() else None
            except RecordNotFoundError:
                record = None
            if record is None:
                raise _not_found(entity, raw_id)
            self.state.limiters[realm].counters.rows_served += 1
            return json_response({entity: record, "time": now_stamp()})

        return await self._data(request, "read", run)

    # ---- the pipeline every data request goes through -----------------------------------
    async def _data(self, request: web.Request, kind: str, run: Handler) -> web.StreamResponse:
        state = self.state
        realm = request.match_info["realm"]
        limiter = state.limiters.get(realm)
        if limiter is None:
            return json_response(_forbidden(realm), status=403)
        limiter.arrive()
        try:
            limiter.counters.requests[kind] += 1
            now = self.state.clock.now()
            token_realm = state.auth.access_realm(bearer_token(request) or "", now)
            if token_realm is None:
                return json_response(auth_failed("Token expired or invalid"), status=401)
            if token_realm != realm:
                return json_response(_forbidden(realm), status=403)
            sequence = limiter.sequence
            limiter.sequence += 1
            if limiter.burst_left > 0:
                limiter.burst_left -= 1
                _count_fault(limiter, "429")
                return self._throttled()
            if not limiter.admit(now, batch=kind == "batch"):
                limiter.counters.throttled += 1
                return self._throttled()
            try:
                return await self._admitted(request, limiter, sequence, run)
            finally:
                limiter.release()
        finally:
            limiter.leave_arrival()

    async def _admitted(
        self, request: web.Request, limiter: RealmLimiter, sequence: int, run: Handler
    ) -> web.StreamResponse:
        state = self.state
        kind, spare = state.faults.draw(request.match_info["realm"], sequence)
        if kind is not None:
            _count_fault(limiter, kind)
            early = await self._early_fault(request, limiter, kind)
            if early is not None:
                return early
        delay = state.latency()
        if delay:
            await asyncio.sleep(delay)
        try:
            response = await run()
        except ApiFault as exc:
            response = json_response(exc.body, status=exc.status)
        if kind == "truncated" and response.status == 200:
            return await _truncate(request, response, cut_connection=spare >= 0.5)
        return response

    def _throttled(self) -> web.Response:
        """The ThrottleExceeded answer; with `retry_after` in the fault spec, a Retry-After."""
        response = json_response(throttle_fault(), status=429)
        retry_after = self.state.faults.retry_after
        if retry_after is not None:
            response.headers["Retry-After"] = f"{retry_after:g}"
        return response

    async def _early_fault(
        self, request: web.Request, limiter: RealmLimiter, kind: str
    ) -> web.StreamResponse | None:
        """Answer a fault that replaces the response; None for those that only alter it."""
        if kind in _REPLACING_FAULTS:
            response = _REPLACING_FAULTS[kind]()
            retry_after = self.state.faults.retry_after
            if kind == "xml429" and retry_after is not None:
                response.headers["Retry-After"] = f"{retry_after:g}"
            return response
        if kind == "429":
            limiter.burst_left = self.state.faults.burst
            return self._throttled()
        if kind == "slow":
            await asyncio.sleep(self.state.faults.slow_seconds)
        elif kind == "reset":
            _reset_connection(request)
            return web.Response(status=500)  # never reaches the client: the socket is gone
        return None


def _system_fault(detail: str) -> dict[str, Any]:
    message = "An application error has occurred while processing your request"
    return fault("SystemFault", "10000", message, detail)


_REPLACING_FAULTS: dict[str, Callable[[], web.Response]] = {
    "500": lambda: json_response(
        _system_fault("System Failure Error: An unexpected error occurred"), status=500
    ),
    "503": lambda: web.Response(
        status=503,
        text="<html><body><h1>503 Service Unavailable</h1></body></html>",
        content_type="text/html",
        headers={"intuit_tid": intuit_tid()},
    ),
    "xml429": lambda: web.Response(
        status=429,
        text=throttle_xml(),
        content_type="application/xml",
        headers={"intuit_tid": intuit_tid()},
    ),
    "fault200": lambda: json_response(
        _system_fault("System Failure Error: Could not complete the request"), status=200
    ),
    "401": lambda: json_response(auth_failed("Token expired"), status=401),
}


def _count_fault(limiter: RealmLimiter, kind: str) -> None:
    limiter.counters.faults[kind] = limiter.counters.faults.get(kind, 0) + 1


def _forbidden(realm: str) -> dict[str, Any]:
    return fault(
        "AUTHORIZATION",
        "3100",
        "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
        f"The access token does not grant access to company {realm}",
    )


def _not_found(entity: str, raw_id: str) -> ApiFault:
    body = fault(
        "ValidationFault",
        "610",
        "Object Not Found",
        "Object Not Found : Something you're trying to use has been made inactive. "
        "Check the fields with accounts, customers, items, vendors or employees. "
        f"({entity} {raw_id})",
    )
    return ApiFault(400, body)


async def _query_text(request: web.Request) -> str:
    if request.method == "GET":
        return request.query.get("query", "")
    if request.content_type == "application/x-www-form-urlencoded":
        form = await request.post()
        return form_str(form, "query") or ""
    return (await request.read()).decode("utf-8", errors="replace")


def _reset_connection(request: web.Request) -> None:
    """Abort with a TCP RST: no status line, no body."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def _truncate(
    request: web.Request, response: web.StreamResponse, *, cut_connection: bool
) -> web.StreamResponse:
    """Half of a 200's JSON body: with a matching Content-Length, or cut mid-body."""
    assert isinstance(response, web.Response)  # noqa: S101 - json_response builds Response
    body = bytes(response.body or b"")  # type: ignore[arg-type]
    half = body[: len(body) // 2]
    if not cut_connection:
        return web.Response(
            body=half,
            status=200,
            content_type="application/json",
            headers={"intuit_tid": response.headers.get("intuit_tid", intuit_tid())},
        )
    stream = web.StreamResponse(status=200, headers={"intuit_tid": intuit_tid()})
    stream.content_type = "application/json"
    stream.content_length = len(body)
    await stream.prepare(request)
    await stream.write(half)  # write() waits until the bytes are handed to the socket
    if request.transport is not None:
        request.transport.close()  # a clean FIN after the half body: "closed mid-body"
    return stream
