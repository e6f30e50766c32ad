"""Fixtures for the sandbox's own tests: running sandboxes and an HTTP client with tokens."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from tests.helpers import NO_LIMITS, SMALL

from qbo_backfill.sandbox import Sandbox, SandboxConfig


@dataclass
class Api:
    """An httpx client bound to one sandbox realm, with a fresh access token."""

    sb: Sandbox
    http: httpx.Client
    realm: str
    token: str

    @property
    def base(self) -> str:
        return f"{self.sb.info.base_url}/v3/company/{self.realm}"

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}", "Accept": "application/json"}

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(self.base + path, params=params, headers=self.headers())

    def query(self, text: str, *, post: bool = False) -> httpx.Response:
        """Send a query by GET `?query=` or POST `application/text`."""
        if post:
            headers = {**self.headers(), "Content-Type": "application/text"}
            return self.http.post(
                self.base + "/query", content=text, params={"minorversion": 75}, headers=headers
            )
        return self.get("/query", query=text, minorversion=75)

    def rows(self, text: str) -> list[dict[str, Any]]:
        """The records of a query page (empty list for an empty page)."""
        response = self.query(text)
        assert response.status_code == 200, response.text
        body = response.json()["QueryResponse"]
        lists = [value for value in body.values() if isinstance(value, list)]
        assert len(lists) <= 1, body.keys()
        rows: list[dict[str, Any]] = lists[0] if lists else []
        return rows

    def count(self, text: str) -> int:
        response = self.query(text)
        assert response.status_code == 200, response.text
        total: int = response.json()["QueryResponse"]["totalCount"]
        return total


def refresh(http: httpx.Client, sb: Sandbox, token: str, **extra: Any) -> httpx.Response:
    """POST the refresh_token grant with HTTP Basic client credentials."""
    info = sb.info
    return http.post(
        info.token_url,
        auth=(info.client_id, info.client_secret),
        data={"grant_type": "refresh_token", "refresh_token": token},
        headers={"Accept": "application/json", **extra},
    )


def access_token(http: httpx.Client, sb: Sandbox, realm: str | None = None) -> str:
    """An access token for a realm, from its current refresh token."""
    realm = realm or sb.info.realm_id
    current = http.get(sb.info.base_url + "/_sandbox/tokens").json()["refresh_tokens"][realm]
    response = refresh(http, sb, current)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


@pytest.fixture(autouse=True)
def _no_server_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail a test whose sandbox logged an unhandled error while serving it."""
    yield
    errors = [
        r.getMessage() + (f": {r.exc_info[1]!r}" if r.exc_info else "")
        for r in caplog.get_records("call")
        if r.levelno >= logging.ERROR and r.name.startswith("aiohttp")
    ]
    assert not errors, errors


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30.0) as client:
        yield client


@pytest.fixture(name="refresh")
def refresh_fixture() -> Callable[..., httpx.Response]:
    """The refresh_token grant as a function of (http, sandbox, token, **headers)."""
    return refresh


@pytest.fixture
def make_api(http: httpx.Client) -> Callable[..., Api]:
    def make(sb: Sandbox, realm: str | None = None) -> Api:
        realm = realm or sb.info.realm_id
        return Api(sb, http, realm, access_token(http, sb, realm))

    return make


@pytest.fixture
def make_recent_sandbox(make_sandbox: Callable[..., Sandbox]) -> Callable[..., Sandbox]:
    """Sandboxes whose invoices all fall in the ten days before today: in CDC's 30-day reach."""

    def make(**fields: Any) -> Sandbox:
        today = datetime.now(UTC).date()
        recent = {
            "invoice_start": today - timedelta(days=10),
            "invoice_end": today - timedelta(days=1),
        }
        return make_sandbox(**recent, **fields)

    return make


@pytest.fixture
def own_api(make_sandbox: Callable[..., Sandbox], make_api: Callable[..., Api]) -> Api:
    """A client of a new small sandbox of the test's own (`own_api.sb`), free to change."""
    return make_api(make_sandbox())


@pytest.fixture(scope="module")
def shared_sandbox() -> Iterator[Sandbox]:
    """A read-only sandbox for tests that change nothing (limits off)."""
    with Sandbox(SandboxConfig(**{**SMALL, **NO_LIMITS, "invoices": 1200})) as sb:
        yield sb


@pytest.fixture
def api(shared_sandbox: Sandbox, make_api: Callable[..., Api]) -> Api:
    """A client of the shared, read-only sandbox."""
    return make_api(shared_sandbox)
