"""The sandbox's HTTP application: QBO's API, Intuit's OAuth, and the `/_sandbox/` admin API."""

from __future__ import annotations

import asyncio
import random
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any
from urllib.parse import urlencode

import orjson
from aiohttp import web

from qbo_backfill.sandbox import clock
from qbo_backfill.sandbox.auth import AuthServer, GrantError, TokenGrant
from qbo_backfill.sandbox.catalog import CATALOG
from qbo_backfill.sandbox.company import Company, cdc_entity_error
from qbo_backfill.sandbox.config import SandboxConfig, derive_credentials
from qbo_backfill.sandbox.faults import FaultSpec
from qbo_backfill.sandbox.generate import generate_company
from qbo_backfill.sandbox.limits import RealmLimiter
from qbo_backfill.sandbox.querylang import ParsedQuery, QueryError, parse_query
from qbo_backfill.sandbox.reports import ReportError, profit_and_loss
from qbo_backfill.sandbox.responses import (
    auth_failed,
    count_body,
    fault,
    intuit_tid,
    json_response,
    now_stamp,
    page_body,
    query_fault,
    throttle_fault,
    throttle_xml,
)
from qbo_backfill.sandbox.store import RecordNotFoundError

__all__ = ["SandboxState", "build_app"]

CDC_LOOKBACK_SECONDS = 30 * 86400
BATCH_MAX_ITEMS = 30
Handler = Callable[[], Awaitable[web.StreamResponse]]
_READ_PATHS = {name.lower(): name for name in CATALOG}


class ApiError(Exception):
    """An error answer from a data endpoint: status and body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def _validation(detail: str, code: str = "4000", message: str = "Invalid request") -> ApiError:
    return ApiError(400, fault("ValidationFault", code, message, detail))


class SandboxState:
    """Everything the server holds: companies, tokens, limiters, faults and counters."""

    def __init__(self, config: SandboxConfig, base_url: str) -> None:
        config.validate()
        self.config = config
        self.base_url = base_url
        self.credentials = derive_credentials(config)
        now = time.time()
        self.auth = AuthServer(
            client_id=self.credentials.client_id,
            client_secret=self.credentials.client_secret,
            rotation=config.rotation(),
            grace_seconds=config.refresh_grace_seconds,
            access_ttl=config.access_token_ttl,
        )
        self.companies: dict[str, Company] = {}
        self.limiters: dict[str, RealmLimiter] = {}
        for index, realm in enumerate(self.credentials.realm_ids):
            data = generate_company(
                config.seed,
                realm,
                index,
                (config.customers, config.items, config.invoices),
                (config.invoice_start, config.invoice_end),
            )
            self.companies[realm] = Company(realm, data)
            self.limiters[realm] = RealmLimiter(
                config.rate_limit_per_min,
                config.rate_limit_per_sec,
                config.max_in_flight,
                config.batch_limit_per_min,
            )
            self.auth.seed_refresh_token(realm, self.credentials.refresh_tokens[realm], now)
        self.faults = FaultSpec.parse(config.faults, default_seed=config.seed)
        self.oauth_counters = self._zero_oauth()
        self._latency = random.Random(f"latency:{config.seed}")

    @staticmethod
    def _zero_oauth() -> dict[str, int]:
        return {"refresh": 0, "authorization_code": 0, "invalid_grant": 0, "invalid_client": 0}

    def reset_counters(self) -> None:
        """Zero every counter, limiter window and fault sequence."""
        for limiter in self.limiters.values():
            limiter.reset()
        self.oauth_counters = self._zero_oauth()

    def counters(self, realm: str | None = None) -> dict[str, Any]:
        """The JSON of `GET /_sandbox/counters`."""
        realms = {
            name: limiter.counters.to_dict()
            for name, limiter in self.limiters.items()
            if realm is None or name == realm
        }
        return {"realms": realms, "oauth": dict(self.oauth_counters)}

    def latency(self) -> float:
        """This request's injected delay in seconds."""
        base, jitter = self.config.latency_ms, self.config.latency_jitter_ms
        if not (base or jitter):
            return 0.0
        return max(0.0, base + self._latency.uniform(-jitter, jitter)) / 1000.0

    # ---- URLs -----------------------------------------------------------------------
    def url(self, path: str) -> str:
        """An absolute URL on this server."""
        return self.base_url + path

    def discovery(self) -> dict[str, Any]:
        """The OpenID discovery document, naming this server's endpoints."""
        return {
            "issuer": self.url("/op/v1"),
            "authorization_endpoint": self.url("/connect/oauth2"),
            "token_endpoint": self.url("/oauth2/v1/tokens/bearer"),
            "userinfo_endpoint": self.url("/v1/openid_connect/userinfo"),
            "revocation_endpoint": self.url("/v2/oauth2/tokens/revoke"),
            "jwks_uri": self.url("/op/v1/jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile", "address", "phone"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "claims_supported": ["aud", "exp", "iat", "iss", "realmid", "sub"],
        }


def build_app(state: SandboxState) -> web.Application:
    """The aiohttp application over a state."""
    api = _Api(state)
    app = web.Application(client_max_size=16 * 1024 * 1024)
    discovery = (
        "/.well-known/openid_configuration",
        "/.well-known/openid_configuration/",
        "/.well-known/openid_sandbox_configuration",
        "/.well-known/openid_sandbox_configuration/",
    )
    for path in discovery:
        app.router.add_get(path, api.discovery)
    app.router.add_post("/oauth2/v1/tokens/bearer", api.token)
    app.router.add_get("/connect/oauth2", api.authorize)
    app.router.add_post("/v2/oauth2/tokens/revoke", api.revoke)
    app.router.add_get("/v1/openid_connect/userinfo", api.userinfo)
    app.router.add_get("/op/v1/jwks", api.jwks)
    company = "/v3/company/{realm}"
    app.router.add_get(company + "/query", api.query)
    app.router.add_post(company + "/query", api.query)
    app.router.add_post(company + "/batch", api.batch)
    app.router.add_get(company + "/cdc", api.cdc)
    app.router.add_get(company + "/companyinfo/{id}", api.companyinfo)
    app.router.add_get(company + "/reports/{report}", api.report)
    app.router.add_get(company + "/{entity}/{id}", api.read)
    from qbo_backfill.sandbox.admin import add_admin_routes

    add_admin_routes(app, state)
    return app


def _basic_credentials(request: web.Request) -> tuple[str | None, str | None]:
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("basic "):
        return None, None
    import base64
    import binascii

    try:
        decoded = base64.b64decode(header[6:].strip()).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    client_id, _, secret = decoded.partition(":")
    return client_id, secret


def _oauth_error(error: GrantError) -> web.Response:
    return web.json_response(error.body(), status=error.status)


class _Api:
    """Request handlers; all state lives in SandboxState."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    # ---- OAuth ----------------------------------------------------------------------
    async def discovery(self, _request: web.Request) -> web.Response:
        return web.json_response(self.state.discovery())

    async def token(self, request: web.Request) -> web.Response:
        state = self.state
        form = await request.post()
        client_id, secret = _basic_credentials(request)
        if client_id is None:
            client_id, secret = _form_str(form, "client_id"), _form_str(form, "client_secret")
        try:
            state.auth.check_client(client_id, secret)
            grant = self._grant(form)
        except GrantError as exc:
            if exc.error in ("invalid_grant", "invalid_client"):
                state.oauth_counters[exc.error] += 1
            return _oauth_error(exc)
        body: dict[str, Any] = {
            "access_token": grant.access_token,
            "refresh_token": grant.refresh_token,
            "token_type": "bearer",
            "expires_in": grant.expires_in,
            "x_refresh_token_expires_in": grant.refresh_expires_in,
        }
        if request.headers.get("x-include-refresh-token-hard-expires-in", "").lower() == "true":
            body["x_refresh_token_hard_expires_in"] = grant.refresh_hard_expires_in
        return web.json_response(body, headers={"intuit_tid": intuit_tid()})

    def _grant(self, form: Any) -> TokenGrant:
        """Run the form's grant; GrantError for anything Intuit would refuse."""
        grant_type = _form_str(form, "grant_type")
        now = time.time()
        if grant_type == "refresh_token":
            token = _form_str(form, "refresh_token")
            if not token:
                raise GrantError("invalid_request", 400, "refresh_token is required")
            grant = self.state.auth.refresh(token, now)
        elif grant_type == "authorization_code":
            code = _form_str(form, "code")
            if not code:
                raise GrantError("invalid_request", 400, "code is required")
            grant = self.state.auth.exchange_code(code, _form_str(form, "redirect_uri"), now)
        else:
            raise GrantError("unsupported_grant_type", 400)
        counter = "refresh" if grant_type == "refresh_token" else "authorization_code"
        self.state.oauth_counters[counter] += 1
        return grant

    async def authorize(self, request: web.Request) -> web.Response:
        state = self.state
        params = request.query
        if params.get("client_id") != state.credentials.client_id:
            return web.Response(status=400, text="Invalid client_id: the app is not known.\n")
        redirect_uri = params.get("redirect_uri")
        if not redirect_uri:
            return web.Response(status=400, text="redirect_uri is required.\n")
        if params.get("response_type") != "code":
            return web.Response(status=400, text="response_type must be code.\n")
        realm = params.get("realmId") or state.credentials.realm_ids[0]
        if realm not in state.companies:
            return web.Response(status=400, text=f"Unknown realmId {realm}.\n")
        code = state.auth.issue_code(realm, redirect_uri, time.time())
        query = {"code": code, "state": params.get("state", ""), "realmId": realm}
        separator = "&" if "?" in redirect_uri else "?"
        raise web.HTTPFound(redirect_uri + separator + urlencode(query))

    async def revoke(self, request: web.Request) -> web.Response:
        client_id, secret = _basic_credentials(request)
        token: str | None = None
        if request.content_type == "application/json":
            try:
                payload = orjson.loads(await request.read())
            except orjson.JSONDecodeError:
                payload = {}
            token = payload.get("token") if isinstance(payload, dict) else None
        else:
            form = await request.post()
            token = _form_str(form, "token")
            if client_id is None:
                client_id, secret = _form_str(form, "client_id"), _form_str(form, "client_secret")
        try:
            self.state.auth.check_client(client_id, secret)
        except GrantError as exc:
            self.state.oauth_counters["invalid_client"] += 1
            return _oauth_error(exc)
        if not token:
            return _oauth_error(GrantError("invalid_request", 400, "token is required"))
        self.state.auth.revoke(token)  # an unknown token is not an error (RFC 7009)
        return web.Response(status=200)

    async def userinfo(self, request: web.Request) -> web.Response:
        realm = self.state.auth.access_realm(_bearer(request) or "", time.time())
        if realm is None:
            return web.json_response(auth_failed("Token invalid"), status=401)
        return web.json_response(
            {"sub": f"sandbox-user-{realm}", "email": "user@example.com", "emailVerified": True}
        )

    async def jwks(self, _request: web.Request) -> web.Response:
        return web.json_response({"keys": []})

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
                raise ApiError(400, query_fault(parsed.code, parsed.detail))
            realm = request.match_info["realm"]
            return json_response(self._run_query(realm, parsed))

        return await self._data(request, kind, run)

    def _run_query(self, realm: str, parsed: ParsedQuery) -> dict[str, Any]:
        store = self.state.companies[realm].store(parsed.entity.name)
        matches = store.query_rows(parsed)
        if parsed.count:
            return count_body(len(matches))
        rows = store.page(matches, parsed.start, parsed.max_results)
        if parsed.entity.name == "Item" and not parsed.with_sku:
            for row in rows:
                row.pop("Sku", None)
        self.state.limiters[realm].counters.rows_served += len(rows)
        return page_body(parsed.entity.name, rows, parsed.start)

    async def batch(self, request: web.Request) -> web.StreamResponse:
        async def run() -> web.StreamResponse:
            realm = request.match_info["realm"]
            try:
                payload = orjson.loads(await request.read())
            except orjson.JSONDecodeError:
                raise _validation("Request body is not valid JSON") from None
            items = payload.get("BatchItemRequest") if isinstance(payload, dict) else None
            if not isinstance(items, list) or not items:
                raise _validation("BatchItemRequest must be a non-empty list")
            if len(items) > BATCH_MAX_ITEMS:
                raise _validation(
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
            names = [n.strip() for n in request.query.get("entities", "").split(",") if n.strip()]
            if not names:
                raise _validation("entities is required", message="Invalid request")
            for name in names:
                why = cdc_entity_error(name)
                if why:
                    raise _validation(why, code="4001")
            raw_since = request.query.get("changedSince", "")
            try:
                since = clock.parse_timestamp(raw_since)
            except ValueError:
                raise _validation(f"changedSince is not a timestamp: {raw_since!r}") from None
            if since < time.time() - CDC_LOOKBACK_SECONDS:
                raise _validation(
                    "changedSince must be within the last 30 days", message="Invalid changedSince"
                )
            groups, _ = self.state.companies[realm].cdc(names, since)
            served = 0
            responses: list[dict[str, Any]] = []
            for name, records in groups:
                served += len(records)
                if records:
                    responses.append(
                        {
                            name: records,
                            "startPosition": 1,
                            "maxResults": len(records),
                            "totalCount": len(records),
                        }
                    )
                else:
                    responses.append({})
            self.state.limiters[realm].counters.rows_served += served
            body = {"CDCResponse": [{"QueryResponse": responses}], "time": now_stamp()}
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
            if name != "ProfitAndLoss":
                detail = f"The sandbox serves the ProfitAndLoss report only, not {name}"
                raise _validation(detail, code="4001", message="Unsupported report")
            today = date.fromordinal(clock.local_date_ordinal(time.time()))
            try:
                body = profit_and_loss(self.state.companies[realm], dict(request.query), today)
            except ReportError as exc:
                raise _validation(
                    str(exc), code="4001", message="Invalid report parameter"
                ) from None
            return json_response(body)

        return await self._data(request, "reports", run)

    async def read(self, request: web.Request) -> web.StreamResponse:
        async def run() -> web.StreamResponse:
            realm = request.match_info["realm"]
            entity = _READ_PATHS.get(request.match_info["entity"].lower())
            raw_id = request.match_info["id"]
            if entity is None:
                raise _validation(f"Unsupported entity path {request.match_info['entity']}")
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
            now = time.time()
            token_realm = state.auth.access_realm(_bearer(request) or "", now)
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
        except ApiError as exc:
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


def _not_found(entity: str, raw_id: str) -> ApiError:
    body = fault(
        "ValidationFault",
        "610",
        "Object Not Found",
        "Object Not Found : Something you're trying to use has been made inactive. "
        "Check the fields with accounts, customers, items, vendors or employees. "
        f"({entity} {raw_id})",
    )
    return ApiError(400, body)


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() != "bearer ":
        return None
    return header[7:].strip() or None


def _form_str(form: Any, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


async def _query_text(request: web.Request) -> str:
    if request.method == "GET":
        return request.query.get("query", "")
    if request.content_type == "application/x-www-form-urlencoded":
        form = await request.post()
        return _form_str(form, "query") or ""
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
