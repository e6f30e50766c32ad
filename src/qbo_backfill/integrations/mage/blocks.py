"""The glue Mage AI blocks call: run variables, Mage Secrets, and one library call per block.

A pipeline `qb_<entity>_backfill` has three blocks, each a few lines:

    qb_tokens_checker  -> check_token(kwargs)          the token works (a rotation is stored)
    ingest_<entity>    -> ingest("Invoice", kwargs)     the backfill, chunk by chunk
    export_<entity>    -> reconcile("Invoice", kwargs)  source COUNT(*) vs the table, per window

The pipeline `qb_sync` (hourly) is the token check, then `sync_company` -> sync(kwargs):
every copied entity brought up to date, deletes included.

Rows never travel through Mage: the library streams each page into PostgreSQL and commits a
chunk together with its ledger row, so a block returns at most one summary row per chunk.
Everything a block needs is validated here first, because `mage run` silently falls back
to the pipeline's default variables when `--runtime-vars` is not valid JSON.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, date
from typing import Any, TypeVar

from qbo_backfill import redact
from qbo_backfill.entities import Entity, resolve_entities, resolve_entity
from qbo_backfill.errors import BackfillError, ReauthorizeError, RunFailedError
from qbo_backfill.integrations.mage.log import BlockFailed, BlockObserver, block_log, check_line
from qbo_backfill.integrations.mage.secrets import load_settings
from qbo_backfill.integrations.mage.variables import (
    RunVariables,
    check_runtime_vars_json,
    parse_run_variables,
)
from qbo_backfill.load import db
from qbo_backfill.qbo import query
from qbo_backfill.run.engine import BackfillResult, run_backfill
from qbo_backfill.run.reconcile import WindowCheck, verify
from qbo_backfill.run.session import open_session, require_credentials, token_store
from qbo_backfill.run.sync import SyncOptions, run_sync
from qbo_backfill.settings import Settings
from qbo_backfill.windows import ExtractWindow

__all__ = ["check_token", "ingest", "one_line_errors", "reconcile", "run_to_end", "sync"]

REAUTHORIZE_IN_MAGE = (
    "In Mage: put a new refresh token in the Mage secret qb_refresh_token (or "
    "QBO_REFRESH_TOKEN) and run the pipeline again; a token that differs from the one "
    "imported before replaces the stored one"
)

T = TypeVar("T")


def check_token(
    variables: Mapping[str, Any], *, settings: Settings | None = None
) -> dict[str, str]:
    """The token check block: QBO accepts our token for the realm, before any extraction.

    The refresh token from `qb_refresh_token` is imported once; afterwards the stored,
    rotated one is used, until a different token is put in the secret. One authenticated
    COUNT query proves the token, the realm and the environment; an expired access token
    is refreshed first and the rotated refresh token stored. Returns no token.
    """
    log = block_log(variables)
    with one_line_errors():
        check_runtime_vars_json(sys.argv)
        settings = settings or load_settings()
        realm_id, _ = require_credentials(settings)
        store = token_store(settings)
        imported = settings.refresh_token is not None and store.import_token(
            realm_id, settings.environment, settings.refresh_token, force=False
        )
        run_to_end(_probe(settings))
        expiry = next((s.access_expires_at for s in store.status() if s.realm_id == realm_id), None)
    expires = f"{expiry.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" if expiry else "unknown"
    source = "qb_refresh_token, imported now" if imported else "the token store"
    log.line(
        f"QBO accepted the token for realm {realm_id} ({settings.environment}); refresh token "
        f"from {source}; access token valid until {expires}"
    )
    return {
        "realm_id": realm_id,
        "environment": settings.environment,
        "access_token_expires_at": expires,
    }


async def _probe(settings: Settings) -> None:
    async with open_session(settings) as session:
        await session.client.count(
            query.count_query(resolve_entity("Customer"), ExtractWindow.whole())
        )


def ingest(
    entity_name: str, variables: Mapping[str, Any], *, settings: Settings | None = None
) -> list[dict[str, Any]]:
    """The loader block `ingest_<entity>`: the library's backfill, one chunk at a time.

    A transaction (Invoice) is cut by TxnDate into chunks of `chunk_days` from start_date
    (inclusive) to end_date (exclusive). A list entity (Customer, Item) has no TxnDate: every
    record, inactive ones included, is copied in one window; start_date and end_date are
    checked but do not apply. Each chunk is committed with its ledger row, so a run that
    stopped resumes at its first open chunk.

    Pages stream straight into PostgreSQL: returns one row of figures per chunk (done earlier
    or now), never the records.
    Raises BlockFailed when a chunk failed after its retries: run again to resume.
    """
    log = block_log(variables)
    with one_line_errors():
        entity = resolve_entity(entity_name)
        run = parse_run_variables(variables, entity)
        settings = settings or load_settings()
        log.line(run.describe(entity))
        log.line(f"writing to {db.describe(settings)}, schema {settings.schema}")
        result = run_to_end(run_backfill(settings, run.options(entity), BlockObserver(log)))
        figures = _chunk_figures(result)
        _raise_if_failed(entity, result)
        for each in result.entities:
            if each.status != "done":
                log.warning_line(f"{each.entity}: {each.status}; the export block reconciles")
        log.line(f"{entity.name}: {result.api_calls} API calls, {result.throttled} throttled")
    return figures


def reconcile(
    entity_name: str, variables: Mapping[str, Any], *, settings: Settings | None = None
) -> list[dict[str, Any]]:
    """The exporter block `export_<entity>`: reconcile every window; fail on a mismatch.

    Per window: the source's COUNT(*) now, the rows the ledger says were extracted, and
    the rows in the table (the seed's "DB entries vs loaded"); a list entity's one window
    counts every record, inactive ones included. The figures are also kept in
    `qbo_backfill_verifications`.
    """
    log = block_log(variables)
    with one_line_errors():
        entity = resolve_entity(entity_name)
        run = parse_run_variables(variables, entity)
        settings = settings or load_settings()
        checks = run_to_end(_verify(settings, entity, run))
        for check in checks:
            (log.line if check.matched else log.error_line)(check_line(check))
        bad = [c for c in checks if not c.matched]
        if bad:
            first = bad[0]
            raise RunFailedError(
                f"{entity.name}: {len(bad)} of {len(checks)} windows do not reconcile; first "
                f"{first.window}: source {first.source_count}, in database "
                f"{first.rows_in_table}. Run the pipeline again with force=true to re-extract"
            )
        source = sum(c.source_count for c in checks)
        in_table = sum(c.rows_in_table for c in checks)
        log.line(
            f"{entity.name}: {len(checks)} windows reconciled: source {source} = "
            f"in database {in_table}"
        )
    return [check.as_dict() for check in checks]


def sync(variables: Mapping[str, Any], *, settings: Settings | None = None) -> list[dict[str, Any]]:
    """The loader block `sync_company`: every entity already copied (or those named in the
    variable `entities`, comma-separated) brought up to date; one row of figures each.
    Raises BlockFailed when an entity failed: the next run resumes from its cursor."""
    log = block_log(variables)
    with one_line_errors():
        named = str(variables.get("entities") or "")
        options = SyncOptions(resolve_entities(n for n in named.split(",") if n.strip()))
        settings = settings or load_settings()
        log.line(f"syncing into {db.describe(settings)}, schema {settings.schema}")
        result = run_to_end(run_sync(settings, options, BlockObserver(log)))
        rows = []
        for record in result.records:
            f = record.figures
            log.line(
                f"{record.entity}: {record.path}, {f.inserted} inserted, {f.updated} updated, "
                f"{f.deleted} deleted, {f.reactivated} reactivated"
            )
            rows.append(
                {"entity": record.entity, "path": record.path, "status": record.status}
                | asdict(f)
                | {"cursor": record.cursor_after.isoformat()}
            )
        failed = [r for r in result.records if r.status != "done"]
        if failed:
            raise RunFailedError(
                f"sync failed for {', '.join(r.entity for r in failed)}: {failed[-1].error}. "
                "The next run resumes from each entity's cursor"
            )
        log.line(f"{len(rows)} entities synced in {result.api_calls} API calls")
    return rows


def _chunk_figures(result: BackfillResult) -> list[dict[str, Any]]:
    """Every chunk of the runs, with the report's chunk fields; dates as ISO text."""
    return [
        {name: _plain(value) for name, value in chunk.as_dict().items()}
        for each in result.entities
        for chunk in each.chunks
    ]


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _raise_if_failed(entity: Entity, result: BackfillResult) -> None:
    for each in result.entities:
        if each.not_planned:
            raise RunFailedError(
                f"{entity.name}: not planned: {each.not_planned}. Run the pipeline again to "
                "resume: planning starts again"
            )
    chunks = [chunk for each in result.entities for chunk in each.chunks]
    failed = [chunk for each in result.entities for chunk in each.failed_chunks()]
    if not failed:
        return
    first = failed[0]
    # No error recorded: the chunk was not run, because another worker held its lock.
    why = first.last_error or f"{first.status}, held by another worker"
    raise RunFailedError(
        f"{entity.name}: {len(failed)} of {len(chunks)} chunks failed; first "
        f"{first.window}: {why}. Run the pipeline again to resume: done chunks are skipped"
    )


async def _verify(settings: Settings, entity: Entity, run: RunVariables) -> list[WindowCheck]:
    window = run.window or ExtractWindow.whole()
    async with open_session(settings) as session:
        return await verify(session, (entity,), window, run.chunk_days)


def run_to_end(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end, even where the caller already has a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@contextmanager
def one_line_errors() -> Iterator[None]:
    """A library error leaves the block as one scrubbed line, without a long traceback."""
    try:
        yield
    except BackfillError as exc:
        message = str(exc)
        if isinstance(exc, ReauthorizeError):
            message += f". {REAUTHORIZE_IN_MAGE}"
        raise BlockFailed(redact.scrub(message), exc.exit_code) from None
