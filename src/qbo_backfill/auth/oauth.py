"""Intuit's OAuth 2.0 token endpoint: refresh and authorization-code grants."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import orjson
from tenacity import Retrying

from qbo_backfill.errors import ReauthorizeError, TransientApiError
from qbo_backfill.qbo.retry import RetryPolicy
from qbo_backfill.qbo.tls import tls_context
from qbo_backfill.settings import Secret

SCOPE = "com.intuit.quickbooks.accounting"
REAUTHORIZE_HINT = (
    "run `qbo-backfill auth login` (or set a new QBO_REFRESH_TOKEN and run "
    "`qbo-backfill auth import`)"
)


@dataclass(frozen=True)
class TokenGrant:
    """What the token endpoint gave: tokens and when they expire (aware UTC)."""

    access_token: Secret
    refresh_token: Secret
    access_expires_at: datetime
    refresh_expires_at: datetime | None
    refresh_hard_expires_at: datetime | None


@dataclass(frozen=True)
class ClientCredentials:
    """The app's credentials at Intuit's token endpoint, and how calls to it are retried."""

    client_id: str
    client_secret: Secret
    token_url: str
    retry: RetryPolicy = field(default_factory=RetryPolicy)


def refresh_grant(credentials: ClientCredentials, refresh_token: Secret) -> TokenGrant:
    """Exchange a refresh token for a new access token (and maybe a rotated refresh token)."""
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token.reveal()}
    return _post_token(credentials, form)


def exchange_code(credentials: ClientCredentials, code: str, redirect_uri: str) -> TokenGrant:
    """Exchange an authorization code from the browser redirect for tokens."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    return _post_token(credentials, form)


def _post_token(credentials: ClientCredentials, form: dict[str, str]) -> TokenGrant:
    """POST a grant, retried by the one retry policy (never an invalid_grant)."""
    for attempt in Retrying(**credentials.retry.tenacity_arguments()):
        with attempt:
            return _post_token_once(credentials, form)
    raise AssertionError("unreachable: tenacity reraises the last error")


@functools.cache
def _token_client() -> httpx.Client:
    """One client per process for the token endpoint (httpx's are thread-safe): a fleet
    worker refreshes one company after another, and each refresh then reuses a kept-alive
    connection instead of a new connection and TLS handshake."""
    return httpx.Client(timeout=30.0, verify=tls_context())


def _post_token_once(credentials: ClientCredentials, form: dict[str, str]) -> TokenGrant:
    try:
        response = _token_client().post(
            credentials.token_url,
            data=form,
            auth=(credentials.client_id, credentials.client_secret.reveal()),
            headers={
                "Accept": "application/json",
                "x-include-refresh-token-hard-expires-in": "true",
            },
        )
    except httpx.TransportError as exc:
        raise TransientApiError(f"token endpoint unreachable: {type(exc).__name__}") from None
    return _grant_from(response)


def _grant_from(response: httpx.Response) -> TokenGrant:
    body = _json_or_empty(response.content)
    error = body.get("error") if isinstance(body, dict) else None
    if response.status_code >= 500 or response.status_code == 429:
        raise TransientApiError("token endpoint failed", status=response.status_code)
    if error in ("invalid_grant", "invalid_client") or response.status_code in (400, 401):
        what = "client credentials" if error == "invalid_client" else "refresh token"
        raise ReauthorizeError(
            f"Intuit refused the {what} ({error or response.status_code}): {REAUTHORIZE_HINT}"
        )
    if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
        raise TransientApiError(
            "token endpoint answered without tokens", status=response.status_code
        )
    return _parse_grant(body)


def _parse_grant(body: dict[str, object]) -> TokenGrant:
    now = datetime.now(UTC)

    def after(key: str) -> datetime | None:
        seconds = body.get(key)
        return now + timedelta(seconds=float(seconds)) if isinstance(seconds, int | float) else None

    return TokenGrant(
        access_token=Secret(str(body["access_token"])),
        refresh_token=Secret(str(body["refresh_token"])),
        access_expires_at=after("expires_in") or now + timedelta(hours=1),
        refresh_expires_at=after("x_refresh_token_expires_in"),
        refresh_hard_expires_at=after("x_refresh_token_hard_expires_in"),
    )


def _json_or_empty(content: bytes) -> object:
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return {}
