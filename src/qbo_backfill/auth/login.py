"""Authorizing the app for a company from a terminal, and telling when to do it again.

`auth login` is Intuit's authorization-code flow: the browser goes to the authorize page
with a random `state`; Intuit sends it back to a loopback address this process listens on
(or the user pastes the address the browser ended on); the `state` is checked, the code
exchanged, and the realm and its tokens stored, encrypted, in the token store.
`auth status` reads expiry dates only, and warns well before a token runs out.
"""

from __future__ import annotations

import html
import os
import secrets
import sys
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from qbo_backfill import redact
from qbo_backfill.auth.oauth import SCOPE, ClientCredentials, exchange_code
from qbo_backfill.auth.tokens import TokenStatus, TokenStore
from qbo_backfill.errors import ConfigError, ReauthorizeError
from qbo_backfill.qbo.retry import RetryPolicy
from qbo_backfill.settings import Secret, Settings

__all__ = [
    "DEFAULT_REDIRECT_URI",
    "AuthorizationResponse",
    "LoginResult",
    "LoopbackListener",
    "RedirectUri",
    "StateMismatch",
    "authorize_url",
    "complete_login",
    "expiry_warnings",
    "login_notes",
    "must_reauthorize",
    "new_state",
    "read_redirect",
    "run_login",
]

# Intuit's developer portal accepts http://localhost redirect URIs for development keys;
# the user registers this exact address (or passes their own with --redirect-uri).
DEFAULT_REDIRECT_URI = "http://localhost:8910/callback"
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1"})
# Only the loopback interface: the redirect carries a code that must not be reachable
# from the network, even for the minute it is valid.
BIND_ADDRESS = "127.0.0.1"
# `auth status` warns this long before a refresh token's rolling (100-day) and hard
# (5-year) expiry: a rolling expiry is fixed by any run; a hard one needs a new login.
ROLLING_WARNING = timedelta(days=14)
HARD_WARNING = timedelta(days=60)


class StateMismatch(ConfigError):
    """The redirect's `state` is not this login's: possibly forged, always refused (exit 2)."""


@dataclass(frozen=True)
class RedirectUri:
    """The redirect URI registered in Intuit's developer portal, split for the listener."""

    url: str
    host: str
    port: int
    path: str

    @classmethod
    def parse(cls, text: str) -> RedirectUri:
        parts = urlsplit(text.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"--redirect-uri must be an http(s) URL, not {text!r}")
        default_port = 443 if parts.scheme == "https" else 80
        return cls(text.strip(), parts.hostname, parts.port or default_port, parts.path or "/")

    @property
    def listenable(self) -> bool:
        """Whether this process can receive the redirect itself (plain http on loopback)."""
        return self.url.startswith("http://") and self.host in LOOPBACK_HOSTS


@dataclass(frozen=True)
class AuthorizationResponse:
    """What the browser redirect carried: the one-time code and the company chosen."""

    code: Secret
    realm_id: str


@dataclass(frozen=True)
class LoginResult:
    realm_id: str
    environment: str
    refresh_expires_at: datetime | None
    refresh_hard_expires_at: datetime | None


def new_state() -> str:
    """An unguessable `state`, so a redirect this login did not start is refused."""
    return secrets.token_urlsafe(24)


def authorize_url(settings: Settings, redirect: RedirectUri, state: str) -> str:
    """Intuit's authorize page for this app, asking for the accounting scope."""
    client_id = _client_credentials(settings).client_id
    query = {
        "client_id": client_id,
        "scope": SCOPE,
        "redirect_uri": redirect.url,
        "response_type": "code",
        "state": state,
    }
    separator = "&" if "?" in settings.authorize_url else "?"
    return settings.authorize_url + separator + urlencode(query)


def read_redirect(url: str, expected_state: str) -> AuthorizationResponse:
    """The code and realm from the URL Intuit redirected to, once its `state` is ours."""
    params = {key: values[0] for key, values in parse_qs(urlsplit(url.strip()).query).items()}
    state = params.get("state", "")
    if not secrets.compare_digest(state.encode(), expected_state.encode()):
        raise StateMismatch(
            "the redirect's state does not match this login: refused, nothing stored; "
            "run `qbo-backfill auth login` again and use the URL it prints"
        )
    if "error" in params:
        raise ConfigError(f"Intuit did not authorize the app: {params['error']}")
    code, realm_id = params.get("code"), params.get("realmId", "")
    if not code:
        raise ConfigError("the redirect carries no authorization code")
    if not realm_id.isdigit():
        raise ConfigError("the redirect carries no company id (realmId)")
    redact.register([code])
    return AuthorizationResponse(Secret(code), realm_id)


def complete_login(
    settings: Settings, store: TokenStore, response: AuthorizationResponse, redirect: RedirectUri
) -> LoginResult:
    """Exchange the code and store the realm's tokens (encrypted); nothing else is kept."""
    try:
        grant = exchange_code(_client_credentials(settings), response.code.reveal(), redirect.url)
    except ReauthorizeError:
        raise ReauthorizeError(
            "Intuit refused the authorization code (used already, expired after a few minutes, or "
            "a redirect URI other than the one registered): run `qbo-backfill auth login` again"
        ) from None
    store.save_grant(response.realm_id, settings.environment, grant)
    return LoginResult(
        response.realm_id,
        settings.environment,
        grant.refresh_expires_at,
        grant.refresh_hard_expires_at,
    )


def run_login(
    settings: Settings,
    store: TokenStore,
    redirect: RedirectUri,
    *,
    paste: bool,
    open_browser: bool,
    timeout: float,
    say: Callable[[str], None],
    ask: Callable[[str], str],
) -> LoginResult:
    """The whole flow: show the authorize URL, get the redirect (listened for, or pasted),
    check it, exchange the code and store the tokens."""
    state = new_state()
    url = authorize_url(settings, redirect, state)
    if paste:
        _show_authorize_url(url, say, open_browser)
        response = read_redirect(ask("Paste the full address your browser was sent to"), state)
    else:
        with LoopbackListener(redirect, state, timeout) as listener:
            _show_authorize_url(url, say, open_browser)
            say(f"Waiting up to {timeout:.0f} s for Intuit to redirect to {redirect.url} ...")
            response = listener.wait()
    return complete_login(settings, store, response, redirect)


def _show_authorize_url(url: str, say: Callable[[str], None], open_browser: bool) -> None:
    say("Open this address, sign in to Intuit and choose the company to connect:")
    say(url)
    if open_browser and _has_graphical_browser() and webbrowser.open(url):
        say("(opened in your browser)")


def _has_graphical_browser() -> bool:
    # Without a display, `webbrowser` may start a text browser inside this terminal.
    return sys.platform in ("darwin", "win32") or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )


def login_notes(settings: Settings, result: LoginResult) -> list[str]:
    """What the user should change in their configuration after this login."""
    notes = []
    if settings.realm_id is not None and settings.realm_id != result.realm_id:
        notes.append(
            f"QBO_REALM_ID is {settings.realm_id}, but company {result.realm_id} was "
            f"authorized: set QBO_REALM_ID={result.realm_id} (or pass --realm) to copy it"
        )
    elif settings.realm_id is None:
        notes.append(f"set QBO_REALM_ID={result.realm_id} for the commands that follow")
    if settings.refresh_token is not None:
        notes.append(
            "QBO_REFRESH_TOKEN is also set: remove it (environment, .env, secrets), or a later "
            "run may import that older token over the one just stored"
        )
    return notes


def _client_credentials(settings: Settings) -> ClientCredentials:
    if settings.client_id is None or settings.client_secret is None:
        raise ConfigError(
            "missing configuration: QBO_CLIENT_ID and QBO_CLIENT_SECRET (the app's keys from "
            "Intuit's developer portal) are needed to log in"
        )
    return ClientCredentials(
        settings.client_id,
        settings.client_secret,
        settings.token_url,
        RetryPolicy.from_settings(settings),
    )


class LoopbackListener:
    """A one-shot HTTP server on 127.0.0.1 that waits for Intuit's redirect.

    Bind it (enter the context) before showing the authorize URL, so a fast browser never
    meets a closed port. Requests to other paths (a favicon) are answered 404 and ignored.
    """

    def __init__(self, redirect: RedirectUri, expected_state: str, timeout: float) -> None:
        if not redirect.listenable:
            raise ConfigError(
                f"cannot listen on {redirect.url}: only http://localhost or http://127.0.0.1 "
                "redirect URIs can be received here; use --paste for any other"
            )
        self.redirect = redirect
        self.expected_state = expected_state
        self.timeout = timeout
        self.outcome: AuthorizationResponse | ConfigError | None = None
        self._server: _CallbackServer | None = None

    def __enter__(self) -> LoopbackListener:
        try:
            self._server = _CallbackServer((BIND_ADDRESS, self.redirect.port), _CallbackHandler)
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on {BIND_ADDRESS}:{self.redirect.port} ({exc.strerror}): "
                "choose another port with --redirect-uri (and register it with Intuit)"
            ) from None
        self._server.listener = self
        self._server.timeout = 0.25
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.server_close()

    def wait(self) -> AuthorizationResponse:
        """The checked redirect, or the error it was refused with; ConfigError on timeout."""
        if self._server is None:
            raise RuntimeError("enter the listener's context before waiting")
        deadline = time.monotonic() + self.timeout
        while self.outcome is None and time.monotonic() < deadline:
            self._server.handle_request()
        if isinstance(self.outcome, ConfigError):
            raise self.outcome
        if self.outcome is None:
            raise ConfigError(
                f"no redirect reached {self.redirect.url} within {self.timeout:.0f} s; "
                "run `qbo-backfill auth login --paste` to paste the address instead"
            )
        return self.outcome

    def receive(self, path_and_query: str) -> tuple[int, str]:
        """Judge one request: the HTTP status and the page to show in the browser."""
        if urlsplit(path_and_query).path != self.redirect.path:
            return 404, "Not the authorization callback."
        try:
            self.outcome = read_redirect(path_and_query, self.expected_state)
        except ConfigError as exc:
            self.outcome = exc
            return 400, f"Refused: {exc}"
        return 200, "Authorization received. Return to the terminal; you can close this tab."


class _CallbackServer(HTTPServer):
    listener: LoopbackListener


class _CallbackHandler(BaseHTTPRequestHandler):
    server: _CallbackServer

    def do_GET(self) -> None:
        status, message = self.server.listener.receive(self.path)
        body = _PAGE.format(message=html.escape(message)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default access log: its request line would carry the code."""


_PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>qbo-backfill</title></head>"
    "<body style='font-family:sans-serif;margin:3em'><p>{message}</p></body></html>"
)


def expiry_warnings(status: TokenStatus, now: datetime) -> list[str]:
    """What needs doing, and by when, for one realm's tokens; empty when all is well."""
    rolling = _expiry_warning(
        status.refresh_expires_at,
        now,
        ROLLING_WARNING,
        "refresh token expired: run `qbo-backfill auth login`",
        "refresh token expires in {left} unless used: run a backfill (a refresh extends it) "
        "or `qbo-backfill auth login`",
    )
    hard = _expiry_warning(
        status.refresh_hard_expires_at,
        now,
        HARD_WARNING,
        "refresh token passed its hard expiry: run `qbo-backfill auth login`",
        "hard expiry in {left}: no refresh extends it; schedule `qbo-backfill auth login` "
        "before then",
    )
    unknown = "expiry unknown until the first refresh (imported token)"
    return [w for w in (rolling, hard) if w] + (
        [unknown] if status.refresh_expires_at is None else []
    )


def _expiry_warning(
    when: datetime | None, now: datetime, ahead: timedelta, passed: str, coming: str
) -> str | None:
    """`passed` once `when` is over, `coming` (with the time left) within `ahead` of it."""
    if when is None:
        return None
    if when <= now:
        return passed
    return coming.format(left=_days(when - now)) if when - now < ahead else None


def must_reauthorize(status: TokenStatus, now: datetime) -> bool:
    """A refresh token that has run out: only a new login helps."""
    return any(
        when is not None and when <= now
        for when in (status.refresh_expires_at, status.refresh_hard_expires_at)
    )


def _days(delta: timedelta) -> str:
    days = delta.total_seconds() / 86400
    return f"{days:.0f} days" if days >= 2 else f"{delta.total_seconds() / 3600:.0f} hours"
