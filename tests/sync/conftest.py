"""Fixtures of the sync tests: a sandbox with limits off, and a backfilled copy."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from tests.helpers import MakeSandbox, settings_for

from qbo_backfill.entities import resolve_entity
from qbo_backfill.run.engine import BackfillOptions, backfill
from qbo_backfill.sandbox import Sandbox
from qbo_backfill.settings import Settings
from qbo_backfill.windows import ExtractWindow

ENTITIES = ("Customer", "Item", "Invoice")
ALL_YEARS = ExtractWindow(date(2024, 1, 1), date(2026, 1, 1))


@pytest.fixture
def sandbox(make_sandbox: MakeSandbox) -> Sandbox:
    return make_sandbox(customers=60, items=25, invoices=400, other_records=0, max_in_flight=10)


@pytest.fixture
def settings(sandbox: Sandbox, database_url: str, schema: str, home: Path) -> Settings:
    return settings_for(sandbox, database_url, schema, home)


def backfill_all(settings: Settings, *names: str) -> None:
    """Backfill the entities over every year the sandbox has data for."""
    options = BackfillOptions(
        entities=tuple(resolve_entity(n) for n in names or ENTITIES),
        window=ALL_YEARS,
        chunk_days=None,
    )
    result = backfill(settings, options)
    assert result.ok, result.entities
