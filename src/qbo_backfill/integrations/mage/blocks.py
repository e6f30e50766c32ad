"""The glue Mage AI blocks call: run variables, Mage Secrets, and one library call per block.

A pipeline `qb_<entity>_backfill` has three blocks, each a few lines:

    qb_tokens_checker  -> check_token(kwargs)          the token works (a rotation is stored)
    ingest_<entity>    -> ingest("Invoice", kwargs)     the backfill, chunk by chunk
    export_<entity>    -> export("Invoice", kwargs)     source COUNT(*) vs the table, per window

Rows never travel through Mage: the library streams each page into PostgreSQL and commits a
chunk together with its ledger row, so a block returns at most one summary row per chunk.
Everything a block needs is validated here first, because `mage run` silently falls back
to the pipeline's default variables when `--runtime-vars` is not valid JSON.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date
from pathlib import Path
from typing import Any, Protocol, TypeVar

import psycopg

from qbo_backfill import redact
from qbo_backfill.auth.tokens import TokenCipher, TokenStore
from qbo_backfill.entities import Entity, resolve_entity
from qbo_backfill.errors import (
    ApiError,
    BackfillError,
    ConfigError,
    ReauthorizeError,
    RunFailed,
)
from qbo_backfill.integrations.mage.variables import (
    RunVariables,
    check_runtime_vars_json,
    parse_run_variables,
)
from qbo_backfill.load import db
from qbo_backfill.load.ledger import Ledger
from qbo_backfill.qbo import query
from qbo_backfill.report.model import CHUNK_FIELDS
from qbo_backfill.run.engine import (
    Backfill,
    BackfillResult,
    require_credentials,
    run_backfill,
)
from qbo_backfill.run.observer import SilentObserver
from qbo_backfill.run.reconcile import WindowCheck, verify
from qbo_backfill.settings import SEED_NAMES, SecretLookup, Settings
from qbo_backfill.windows import ExtractWindow

__all__ = [
    "MAGE_SECRETS",
    "BlockFailed",
    "check_token",
    "export",
    "ingest",
    "load_settings",
    "mage_secret_lookup",
]

# Mage Secret name (the seed's) -> `Settings` field: the library's own table.
MAGE_SECRETS: dict[str, str] = SEED_NAMES

REAUTHORIZE_IN_MAGE = (
    "In Mage: put a new refresh token in the Mage secret qb_refresh_token (or "
    "QBO_REFRESH_TOKEN) and run the pipeline again; a token that differs from the one "
    "imported before replaces the stored one"
)

T = TypeVar("T")


class BlockFailed(Exception):
    """Why a block failed, as one line saying what to do; `exit_code` as the CLI's."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class _Logger(Protocol):
    def info(self, message: str, /) -> None: ...
    def warning(self, message: str, /) -> None: ...
    def error(self, message: str, /) -> None: ...


class BlockLog:
    """Finished lines to a block's log: Mage's `kwargs['logger']`, or a `logging.Logger`.

    Mage's logger takes one finished message (no lazy %-arguments), so lines are built
    before they are written; none is on a hot path (at most one per chunk or retry).
    """

    def __init__(self, target: _Logger) -> None:
        self.target = target

    def line(self, text: str) -> None:
        self.target.info(text)

    def warning_line(self, text: str) -> None:
        self.target.warning(text)

    def error_line(self, text: str) -> None:
        self.target.error(text)


# ---- settings: the environment, then Mage Secrets -------------------------------------


def mage_secret_lookup(get_secret: Callable[..., str | None] | None = None) -> SecretLookup:
    """Mage's `get_secret_value` as a lookup: a missing or empty secret is None, quietly.

    Outside Mage (no `mage_ai` installed) every lookup is None.
    """
    getter = get_secret if get_secret is not None else _mage_get_secret_value()

    def lookup(name: str) -> str | None:
        if getter is None:
            return None
        # suppress_warning: Mage prints a warning for every secret it lacks; most come
        # from the environment instead, which is normal.
        value = getter(name, suppress_warning=True)
        return value.strip() or None if isinstance(value, str) else None

    return lookup


def _mage_get_secret_value() -> Callable[..., str | None] | None:
    try:
        from mage_ai.data_preparation.shared.secrets import get_secret_value
    except ImportError:
        return None
    getter: Callable[..., str | None] = get_secret_value
    return getter


def load_settings(
    lookup: SecretLookup | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    secrets_dir: Path = Path("/run/secrets"),
) -> Settings:
    """Settings for a block, in the library's one order: the environment, then Mage Secrets
    (the seed's names), then `/run/secrets`. No `.env` is read: in Mage the environment is
    the container's.
    """
    lookup = lookup if lookup is not None else mage_secret_lookup()
    env = os.environ if environ is None else environ
    settings = Settings.load(
        environ=env, dotenv_path=None, secret_lookup=lookup, secrets_dir=secrets_dir
    )
    if settings.database_url is None:
        raise ConfigError(
            "no database for the pipeline: set the Mage secrets pg_host, pg_port, pg_dbname, "
            "pg_user and pg_password (or PG_HOST... or QBO_DATABASE_URL in the environment)"
        )
    return settings


# ---- the three blocks -----------------------------------------------------------------


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
    with _one_line_errors():
        check_runtime_vars_json(sys.argv)
        settings = settings or load_settings()
        realm_id, _ = require_credentials(settings)
        store = TokenStore(
            db.database_url(settings), settings.schema, TokenCipher.from_settings(settings)
        )
        imported = settings.refresh_token is not None and store.import_token(
            realm_id, settings.environment, settings.refresh_token, force=False
        )
        _run_sync(_probe(settings))
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
    async with Backfill.open(settings, SilentObserver()) as job:
        await job.client.count(query.count_query(resolve_entity("Customer"), ExtractWindow.whole()))


def ingest(
    entity_name: str, variables: Mapping[str, Any], *, settings: Settings | None = None
) -> list[dict[str, Any]]:
    """The loader block `ingest_<entity>`: the library's backfill, one chunk at a time.

    Returns one row of figures per chunk (done earlier or now), never the records.
    Raises BlockFailed when a chunk failed after its retries: run again to resume.
    """
    log = block_log(variables)
    with _one_line_errors():
        entity = resolve_entity(entity_name)
        run = parse_run_variables(variables, entity)
        settings = settings or load_settings()
        log.line(run.describe(entity))
        log.line(f"writing to {db.describe(settings)}, schema {settings.schema}")
        result = _run_sync(run_backfill(settings, run.options(entity), BlockObserver(log)))
        figures = _run_sync(_chunk_figures(settings, result))
        _raise_if_failed(entity, result, figures)
        for each in result.entities:
            if each.status != "done":
                log.warning_line(f"{each.entity}: {each.status}; the export block reconciles")
        log.line(f"{entity.name}: {result.api_calls} API calls, {result.throttled} throttled")
    return figures


def export(
    entity_name: str, variables: Mapping[str, Any], *, settings: Settings | None = None
) -> list[dict[str, Any]]:
    """The exporter block `export_<entity>`: reconcile every window; fail on a mismatch.

    Per window: the source's COUNT(*) now, the rows the ledger says were extracted, and
    the rows in the table. The figures are also kept in `qbo_backfill_verifications`.
    """
    log = block_log(variables)
    with _one_line_errors():
        entity = resolve_entity(entity_name)
        run = parse_run_variables(variables, entity)
        settings = settings or load_settings()
        checks = _run_sync(_verify(settings, entity, run))
        for check in checks:
            (log.line if check.matched else log.error_line)(check_line(check))
        bad = [c for c in checks if not c.matched]
        if bad:
            first = bad[0]
            raise RunFailed(
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


# ---- logging ------------------------------------------------------------------------


def block_log(variables: Mapping[str, Any]) -> BlockLog:
    """Mage's block logger when Mage passes one, else stderr."""
    logger = variables.get("logger")
    if logger is not None and all(hasattr(logger, m) for m in ("info", "warning", "error")):
        return BlockLog(logger)
    return BlockLog(_stderr_logger())


def _stderr_logger() -> logging.Logger:
    """`mage run` passes blocks no logger: write to stderr, which it shows as it goes."""
    logger = logging.getLogger(__name__)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.addFilter(redact.RedactingFilter())
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


class BlockObserver(SilentObserver):
    """Writes the seed's metrics to the block log: one line per chunk, retry and failure."""

    def __init__(self, log: BlockLog) -> None:
        self.log = log

    def entity_started(self, entity: str, run_id: int, chunks_total: int, chunks_done: int) -> None:
        self.log.line(
            f"{entity}: ledger run {run_id}, {chunks_total} chunks, {chunks_done} already done "
            f"(skipped)"
        )

    def chunk_finished(self, entity: str, figures: dict[str, Any]) -> None:
        self.log.line(chunk_line(entity, figures))

    def chunk_failed(self, entity: str, window: str, error: str) -> None:
        self.log.error_line(f"{entity} {window} failed: {redact.scrub(error)}")

    def retrying(self, error: ApiError, wait_seconds: float) -> None:
        self.log.warning_line(f"retry in {wait_seconds:.1f}s: {redact.scrub(str(error))}")

    def entity_finished(self, entity: str, totals: dict[str, Any]) -> None:
        self.log.line(
            f"{entity}: {totals.get('status')}; {totals.get('chunks_done')}/"
            f"{totals.get('chunks_total')} chunks done, rows extracted "
            f"{totals.get('rows_extracted')}, source {totals.get('source_count')}, in database "
            f"{totals.get('rows_in_table')}, mismatched windows {totals.get('mismatches')}"
        )


def chunk_line(entity: str, f: Mapping[str, Any]) -> str:
    """A chunk's figures: rows extracted vs rows in the database, and the API's weather."""
    match = "match" if f.get("matched") else "MISMATCH"
    return (
        f"{entity} {f.get('window')}: extracted {f.get('rows_extracted')} rows in "
        f"{f.get('pages')} pages ({f.get('rows_inserted')} inserted, {f.get('rows_updated')} "
        f"updated, {f.get('rows_unchanged')} unchanged); source {f.get('source_count_after')}, "
        f"in database {f.get('rows_in_table')}: {match}; API calls {f.get('api_calls')}, "
        f"retries {f.get('retries')}, throttled {f.get('throttled')}"
    )


def check_line(check: WindowCheck) -> str:
    """A reconciled window, as the export block logs it."""
    match = "match" if check.matched else "MISMATCH"
    loaded = "unknown" if check.rows_loaded is None else check.rows_loaded
    return (
        f"{check.entity} {check.window}: source {check.source_count}, rows extracted "
        f"{loaded}, in database {check.rows_in_table}: {match}"
    )


# ---- helpers ------------------------------------------------------------------------


async def _chunk_figures(settings: Settings, result: BackfillResult) -> list[dict[str, Any]]:
    """Every chunk of the runs, with the report's chunk fields; dates as ISO text."""
    ledger = Ledger(settings.schema)
    rows: list[dict[str, Any]] = []
    async with await psycopg.AsyncConnection.connect(db.database_url(settings)) as conn:
        for each in result.entities:
            for row in await ledger.chunk_rows(conn, each.run_id):
                rows.append({name: _plain(row.get(name)) for name in CHUNK_FIELDS})
    return rows


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _raise_if_failed(entity: Entity, result: BackfillResult, figures: list[dict[str, Any]]) -> None:
    failed = [f for f in figures if f["status"] != "done"]
    if not failed:
        return
    first = failed[0]
    # No error recorded: the chunk was not run, because another worker held its lock.
    why = first["last_error"] or f"{first['status']}, held by another worker"
    raise RunFailed(
        f"{entity.name}: {len(failed)} of {len(figures)} chunks failed; first "
        f"[{first['window_start']}, {first['window_end']}): {why}. Run the pipeline again "
        f"to resume: done chunks are skipped"
    )


async def _verify(settings: Settings, entity: Entity, run: RunVariables) -> list[WindowCheck]:
    window = run.window or ExtractWindow.whole()
    async with Backfill.open(settings, SilentObserver()) as job:
        return await verify(job, (entity,), window, run.chunk_days)


def _run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end, even where the caller already has a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """A library error leaves the block as one scrubbed line, without a long traceback."""
    try:
        yield
    except BackfillError as exc:
        message = str(exc)
        if isinstance(exc, ReauthorizeError):
            message += f". {REAUTHORIZE_IN_MAGE}"
        raise BlockFailed(redact.scrub(message), exc.exit_code) from None
