"""Fixtures for the operator commands: a local sandbox, the CLI as a subprocess with an
explicit environment, and a checker that no secret reached the output."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from tests.operator.helpers import AssertNoSecrets, Cli, sandbox_env

from qbo_backfill.sandbox import Sandbox, SandboxConfig


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A small company with rate limits off, so tests spend no time waiting."""
    config = SandboxConfig(
        invoices=300,
        customers=50,
        items=20,
        rate_limit_per_min=0,
        rate_limit_per_sec=0,
        max_in_flight=10,
    )
    with Sandbox(config) as sb:
        yield sb


@pytest.fixture
def cli(sandbox: Sandbox, database_url: str, schema: str, home: Path, tmp_path: Path) -> Cli:
    return Cli(sandbox_env(sandbox, database_url, schema, home), tmp_path)


@pytest.fixture
def assert_no_secrets() -> AssertNoSecrets:
    """Fails if any secret, or its first eight characters, occurs in any output."""

    def check(outputs: Iterable[str], secrets: Iterable[str]) -> None:
        text = "\n".join(outputs)
        for secret in secrets:
            assert secret, "an empty secret proves nothing"
            assert secret not in text
            assert secret[:8] not in text, "a prefix of a secret was printed"

    return check
