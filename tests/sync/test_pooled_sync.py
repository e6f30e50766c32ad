"""A worker's sync (`fleet sync`) borrows every database connection from the worker's
pools: nothing of it connects by itself."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from tests.sync.churn import churn, compare
from tests.sync.conftest import ENTITIES, backfill_all

from qbo_backfill.load.pools import ConnectionPools
from qbo_backfill.run.sync import SyncOptions, SyncResult, run_sync
from qbo_backfill.sandbox import Sandbox
from qbo_backfill.settings import Secret, Settings

pytestmark = pytest.mark.db

NOWHERE = "postgresql://nobody@127.0.0.1:1/none"  # a connection of its own would fail here


def test_a_pooled_sync_connects_only_through_the_pools(
    sandbox: Sandbox, settings: Settings, database_url: str, schema: str
) -> None:
    backfill_all(settings)
    done = churn(sandbox, seed=12)
    unreachable = replace(settings, database_url=Secret(NOWHERE))

    async def pooled() -> SyncResult:
        async with ConnectionPools.open(database_url, concurrency=1) as pools:
            return await run_sync(unreachable, SyncOptions(), pools=pools)

    result = asyncio.run(pooled())
    assert result.ok, result.records
    for entity in ENTITIES:
        diff = compare(sandbox, database_url, schema, entity, done.deleted.get(entity))
        assert diff.exact, diff
