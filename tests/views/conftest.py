"""One sandbox company backfilled whole, once per test module (every entity: a few
seconds), and a views schema of each test's own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import sql
from tests.helpers import NO_LIMITS, settings_for, views_schema_of

from qbo_backfill.entities import CATALOG, resolve_entity
from qbo_backfill.run.engine import BackfillOptions, backfill
from qbo_backfill.sandbox import Sandbox, SandboxConfig
from qbo_backfill.settings import Settings
from qbo_backfill.views.install import Installed, install_views
from qbo_backfill.windows import ExtractWindow

# Their QBO shapes have no top-level Id the sandbox could key on: it holds none.
WITHOUT_DATA = {"ExchangeRate", "RecurringTransaction", "TaxClassification"}
ENTITIES = sorted(set(CATALOG) - WITHOUT_DATA)


@dataclass
class Copy:
    """A company copied whole into `raw_schema`."""

    sandbox: Sandbox
    settings: Settings
    url: str
    raw_schema: str

    def install(self, views_schema: str, realm: str | None = None) -> Installed:
        return asyncio.run(_install(self.url, self.raw_schema, views_schema, realm))


async def _install(url: str, raw: str, views: str, realm: str | None) -> Installed:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        return await install_views(conn, raw, views, realm=realm)


def drop_schemas(url: str, *names: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for name in names:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def copy(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Copy]:
    """Every entity of a small company, backfilled once for the module."""
    sb = Sandbox(
        SandboxConfig(customers=30, items=15, invoices=200, other_records=25, **NO_LIMITS)
    ).start()
    raw_schema = f"t_{uuid.uuid4().hex[:10]}"
    home = tmp_path_factory.mktemp("views-home")
    settings = settings_for(sb, database_url, raw_schema, home)
    options = BackfillOptions(
        entities=tuple(resolve_entity(n) for n in ENTITIES),
        window=ExtractWindow.whole(),
        chunk_days=None,
    )
    try:
        assert backfill(settings, options).ok
        yield Copy(sb, settings, database_url, raw_schema)
    finally:
        sb.stop()
        drop_schemas(database_url, raw_schema, views_schema_of(raw_schema))


@pytest.fixture
def views_schema(database_url: str) -> Iterator[str]:
    """A views schema of the test's own (never the fixed `quickbooks`), dropped after."""
    name = f"v_{uuid.uuid4().hex[:10]}"
    yield name
    drop_schemas(database_url, name)


@pytest.fixture(scope="module")
def installed(copy: Copy) -> Iterator[str]:
    """The views over the module's copy, in a schema of the module's own."""
    name = f"v_{uuid.uuid4().hex[:10]}"
    copy.install(name)
    try:
        yield name
    finally:
        drop_schemas(copy.url, name)
