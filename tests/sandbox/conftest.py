"""Fixtures for the sandbox's own tests: running sandboxes and an HTTP client with tokens."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sandbox_helpers import NO_LIMITS, SMALL, Api, access_token

from qbo_backfill.sandbox import Sandbox, SandboxConfig


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


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    """Start sandboxes with given config fields; all are stopped after the test."""
    started: list[Sandbox] = []

    def make(**fields: Any) -> Sandbox:
        sb = Sandbox(SandboxConfig(**{**SMALL, **NO_LIMITS, **fields})).start()
        started.append(sb)
        return sb

    yield make
    for sb in started:
        sb.stop()


@pytest.fixture
def make_api(http: httpx.Client) -> Callable[..., Api]:
    def make(sb: Sandbox, realm: str | None = None) -> Api:
        realm = realm or sb.info.realm_id
        return Api(sb, http, realm, access_token(http, sb, realm))

    return make


@pytest.fixture(scope="module")
def shared_sandbox() -> Iterator[Sandbox]:
    """A read-only sandbox for tests that change nothing (limits off)."""
    with Sandbox(SandboxConfig(**{**SMALL, **NO_LIMITS, "invoices": 1200})) as sb:
        yield sb


@pytest.fixture
def api(shared_sandbox: Sandbox, make_api: Callable[..., Api]) -> Api:
    """A client of the shared, read-only sandbox."""
    return make_api(shared_sandbox)
