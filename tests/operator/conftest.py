"""Fixtures for the operator commands: a local sandbox, the CLI as a subprocess with an
explicit environment, and a checker that no secret reached the output."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from tests.helpers import AssertNoSecrets, Cli, operator_env

from qbo_backfill.sandbox import Sandbox


@pytest.fixture
def sandbox_config() -> dict[str, Any]:
    """A small company, rate limits off, at most 10 requests in flight."""
    return {"invoices": 300, "customers": 50, "items": 20, "max_in_flight": 10}


@pytest.fixture
def cli(sandbox: Sandbox, database_url: str, schema: str, home: Path, tmp_path: Path) -> Cli:
    return Cli(operator_env(sandbox, database_url, schema, home), tmp_path)


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
