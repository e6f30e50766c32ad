"""HTTP handlers of Intuit's OAuth endpoints: token, authorize, revoke, discovery, userinfo."""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import urlencode

import orjson
from aiohttp import web

from qbo_backfill.sandbox.auth import GrantError, TokenGrant
from qbo_backfill.sandbox.responses import (
    auth_failed,
    intuit_tid,
)
from qbo_backfill.sandbox.state import SandboxState

__all__ = ["OAuthHandlers", "bearer_token", "form_str"]


def _basic_credentials(request: web.Request) -> tuple[str | None, str | None]:
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("basic "):
        return None, None
    try:
        decoded = base64.b64decode(header[6:].strip()).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    client_id, _, secret = decoded.partition(":")
    return client_id, secret


def _oauth_error(error: GrantError) -> web.Response:
    return web.json_response(error.body(), status=error.status)


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() != "bearer ":
        return None
    return header[7:].strip() or None


def form_str(form: Any, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


class OAuthHandlers:
    """Request handlers of the OAuth endpoints; all state lives in SandboxState."""

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
            client_id, secret = form_str(form, "client_id"), form_str(form, "client_secret")
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
        grant_type = form_str(form, "grant_type")
        now = self.state.clock.now()
        if grant_type == "refresh_token":
            token = form_str(form, "refresh_token")
            if not token:
                raise GrantError("invalid_request", 400, "refresh_token is required")
            grant = self.state.auth.refresh(token, now)
        elif grant_type == "authorization_code":
            code = form_str(form, "code")
            if not code:
                raise GrantError("invalid_request", 400, "code is required")
            grant = self.state.auth.exchange_code(code, form_str(form, "redirect_uri"), now)
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
        code = state.auth.issue_code(realm, redirect_uri, self.state.clock.now())
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
            token = form_str(form, "token")
            if client_id is None:
                client_id, secret = form_str(form, "client_id"), form_str(form, "client_secret")
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
        realm = self.state.auth.access_realm(bearer_token(request) or "", self.state.clock.now())
        if realm is None:
            return web.json_response(auth_failed("Token invalid"), status=401)
        return web.json_response(
            {"sub": f"sandbox-user-{realm}", "email": "user@example.com", "emailVerified": True}
        )

    async def jwks(self, _request: web.Request) -> web.Response:
        return web.json_response({"keys": []})
