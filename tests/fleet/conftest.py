"""Fixtures of the fleet's tests: one sandbox of several companies per module, and a `Fleet`
pointed at it (the CLI's environment, the tokens imported, a starter of worker processes).

The sandbox keeps Intuit's limits on: the fleet must stay within them by itself."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.fleet.helpers import Fleet, MakeFleet, fleet_env

from qbo_backfill.sandbox import Sandbox, SandboxConfig


@pytest.fixture(scope="module")
def sandbox_config() -> dict[str, Any]:
    """The `SandboxConfig` fields of the module's sandbox; each module sizes its fleet."""
    return {"realms": 3, "invoices": 10, "customers": 5, "items": 3}


@pytest.fixture(scope="module")
def sandbox(sandbox_config: dict[str, Any]) -> Iterator[Sandbox]:
    """The module's companies, shared by its tests (each test copies into its own schema)."""
    with Sandbox(SandboxConfig(**{"other_records": 0, **sandbox_config})) as sb:
        yield sb


@pytest.fixture
def make_fleet(
    sandbox: Sandbox, database_url: str, schema: str, home: Path, tmp_path: Path
) -> Iterator[MakeFleet]:
    """`make_fleet(**env)`: a Fleet whose CLI runs with the test's schema and the given
    variables, its tokens not yet imported. `database_url=` and `schema=` point it elsewhere.
    Workers a test leaves running are killed at its end."""
    made: list[Fleet] = []

    def make(*, database_url: str = database_url, schema: str = schema, **env: str) -> Fleet:
        fleet = Fleet(sandbox, fleet_env(sandbox, database_url, schema, home, **env), tmp_path)
        made.append(fleet)
        return fleet

    yield make
    for worker in (w for fleet in made for w in fleet.workers):
        if worker.process.poll() is None:
            worker.kill()


@pytest.fixture
def fleet(make_fleet: MakeFleet) -> Fleet:
    """A Fleet of the sandbox's companies, their refresh tokens imported."""
    fleet = make_fleet()
    imported = fleet.import_tokens()
    assert imported.returncode == 0, imported.stderr
    return fleet
