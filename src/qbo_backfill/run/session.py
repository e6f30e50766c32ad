"""A session with one company: the pieces every command that talks to QBO opens (database
URL, token store, rate limiter, API client) and closes again whatever happens.

`backfill`, `verify`, the Mage token check and the sync all open one the same way, so
credentials are checked, and a refresh token given in the environment imported, in one
place.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from psycopg_pool import ConnectionPool

from qbo_backfill.auth.oauth import ClientCredentials
from qbo_backfill.auth.tokens import TokenCipher, TokenProvider, TokenStore
from qbo_backfill.errors import ConfigError
from qbo_backfill.load.db import database_url
from qbo_backfill.load.pools import ConnectionPools
from qbo_backfill.qbo.client import QboClient, RetryListener
from qbo_backfill.qbo.retry import RetryPolicy
from qbo_backfill.qbo.shared_limits import open_limiter
from qbo_backfill.qbo.tls import tls_context
from qbo_backfill.settings import Settings

__all__ = [
    "Session",
    "api_http_client",
    "open_session",
    "require_credentials",
    "token_store",
]


@dataclass(frozen=True)
class Session:
    """One company's open connection to QBO and to the database."""

    settings: Settings
    realm_id: str
    url: str  # the database's
    client: QboClient

    @property
    def schema(self) -> str:
        return self.settings.schema


@asynccontextmanager
async def open_session(
    settings: Settings,
    on_retry: RetryListener | None = None,
    pools: ConnectionPools | None = None,
    http: httpx.AsyncClient | None = None,
) -> AsyncIterator[Session]:
    """Check the credentials, import a newly given refresh token, open the API client.
    A long-lived process passes its `pools` and its `http` client (`api_http_client`); a
    command connects for itself."""
    realm_id, credentials = require_credentials(settings)
    url = await asyncio.to_thread(database_url, settings)
    store = token_store(settings, url, pools.tokens if pools else None)
    if settings.refresh_token is not None:
        await asyncio.to_thread(
            store.import_token, realm_id, settings.environment, settings.refresh_token, force=False
        )
    tokens = TokenProvider(store, realm_id, credentials)
    async with (
        open_limiter(settings, realm_id, url, pools.jobs if pools else None) as limiter,
        _kept_or_new(http, settings) as client_http,
    ):
        client = QboClient(settings, realm_id, tokens, limiter, client_http)
        if on_retry is not None:
            client.retry_listeners.append(on_retry)
        yield Session(settings, realm_id, url, client)


def api_http_client(settings: Settings, sessions: int = 1) -> httpx.AsyncClient:
    """An HTTP client for the API, enough connections for `sessions` companies at once. A
    worker keeps one for all its jobs, so a company's sync reuses a kept-alive connection
    (and its TLS session) instead of opening one."""
    per_session = settings.max_in_flight + 2
    limits = httpx.Limits(
        max_connections=per_session * sessions, max_keepalive_connections=per_session * sessions
    )
    return httpx.AsyncClient(
        limits=limits, timeout=settings.request_timeout_seconds, verify=tls_context()
    )


@asynccontextmanager
async def _kept_or_new(
    http: httpx.AsyncClient | None, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    """`http` left open, or a client of this session's own, closed after it."""
    if http is not None:
        yield http
        return
    async with api_http_client(settings) as own:
        yield own


def token_store(
    settings: Settings, url: str | None = None, pool: ConnectionPool | None = None
) -> TokenStore:
    """The encrypted token store of the configured database and schema."""
    cipher = TokenCipher.from_settings(settings)
    return TokenStore(url or database_url(settings), settings.schema, cipher, pool)


def require_credentials(settings: Settings) -> tuple[str, ClientCredentials]:
    """The realm and client credentials a run needs, or a ConfigError naming what is missing."""
    realm_id, client_id, secret = settings.realm_id, settings.client_id, settings.client_secret
    if realm_id is None or client_id is None or secret is None:
        named = {"QBO_REALM_ID": realm_id, "QBO_CLIENT_ID": client_id, "QBO_CLIENT_SECRET": secret}
        missing = ", ".join(name for name, value in named.items() if value is None)
        raise ConfigError(
            f"missing configuration: {missing} (environment, .env, Mage secrets or /run/secrets)"
        )
    return realm_id, ClientCredentials(
        client_id, secret, settings.token_url, RetryPolicy.from_settings(settings)
    )
