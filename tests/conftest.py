"""Shared fixtures: a real PostgreSQL (QBO_DATABASE_URL, or the embedded server) with a
fresh schema per test, and the local sandbox over real HTTP.

Property tests run derandomized by default (the `ci` profile): the same examples on every
run, so a green suite stays green. `make explore` (`--hypothesis-profile=explore`) lets
Hypothesis search at random, with its example database, to find new failures."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import settings
from psycopg import sql
from tests.helpers import NO_LIMITS, SMALL, MakeSandbox, views_schema_of

from qbo_backfill import redact
from qbo_backfill.load.db import embedded_url, stop_embedded
from qbo_backfill.sandbox import Sandbox, SandboxConfig

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, max_examples=500)
settings.load_profile("ci")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """QBO_DATABASE_URL when set (CI runs the suite again against a server), else embedded."""
    given = os.environ.get("QBO_DATABASE_URL")
    if given:
        yield given
        return
    home = tmp_path_factory.mktemp("embedded-home")
    yield embedded_url(home)
    stop_embedded(home)


@pytest.fixture
def schema(database_url: str) -> Iterator[str]:
    """A schema of the test's own, dropped afterwards (with its typed views' schema)."""
    name = f"t_{uuid.uuid4().hex[:10]}"
    yield name
    with psycopg.connect(database_url, autocommit=True) as conn:
        for dropped in (name, views_schema_of(name)):
            conn.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(dropped))
            )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """QBO_HOME of the test: where a local token key is kept."""
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    yield
    redact.forget_all()


@pytest.fixture
def make_sandbox() -> Iterator[MakeSandbox]:
    """Start local sandboxes over real HTTP: a small company, limits off, and whatever
    `SandboxConfig` fields are given; all are stopped after the test."""
    started: list[Sandbox] = []

    def make(**fields: Any) -> Sandbox:
        sb = Sandbox(SandboxConfig(**{**SMALL, **NO_LIMITS, **fields})).start()
        started.append(sb)
        return sb

    yield make
    for sb in started:
        sb.stop()


@pytest.fixture
def sandbox_config() -> dict[str, Any]:
    """The `sandbox` fixture's config fields; a folder or module overrides this to resize."""
    return {}


@pytest.fixture
def sandbox(make_sandbox: MakeSandbox, sandbox_config: dict[str, Any]) -> Sandbox:
    """The test's sandbox, from `make_sandbox(**sandbox_config)`."""
    return make_sandbox(**sandbox_config)
