"""What a Mage block writes to its log: one finished line per chunk, retry and failure
(the seed's metrics), and the reconciled windows."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any, Protocol

from qbo_backfill import redact
from qbo_backfill.errors import ApiError
from qbo_backfill.figures import ChunkFigures, EntityTotals
from qbo_backfill.run.observer import RunObserver
from qbo_backfill.run.reconcile import WindowCheck
from qbo_backfill.ui.logs import Display, log_handler
from qbo_backfill.windows import ExtractWindow

__all__ = ["BlockFailed", "BlockLog", "BlockObserver", "block_log", "check_line", "chunk_line"]


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
        logger.addHandler(log_handler(Display.LINES, sys.stderr))
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


class BlockObserver(RunObserver):
    """Writes the seed's metrics to the block log: one line per chunk, retry and failure."""

    def __init__(self, log: BlockLog) -> None:
        self.log = log

    def entity_started(self, entity: str, run_id: int, chunks_total: int, chunks_done: int) -> None:
        self.log.line(
            f"{entity}: ledger run {run_id}, {chunks_total} chunks, {chunks_done} already done "
            f"(skipped)"
        )

    def chunk_finished(self, entity: str, window: ExtractWindow, figures: ChunkFigures) -> None:
        self.log.line(chunk_line(entity, window, figures))

    def chunk_failed(self, entity: str, window: ExtractWindow, error: str) -> None:
        self.log.error_line(f"{entity} {window} failed: {redact.scrub(error)}")

    def retrying(self, error: ApiError, wait_seconds: float) -> None:
        self.log.warning_line(f"retry in {wait_seconds:.1f}s: {redact.scrub(str(error))}")

    def entity_finished(self, entity: str, totals: EntityTotals) -> None:
        self.log.line(totals.line(entity))


def chunk_line(entity: str, window: ExtractWindow, f: ChunkFigures) -> str:
    """A chunk's figures (the seed's metrics): rows extracted vs rows in the database, and
    the API's weather."""
    match = "match" if f.matched else "MISMATCH"
    return (
        f"{entity} {window}: extracted {f.rows_extracted} rows in {f.pages} pages "
        f"({f.rows_inserted} inserted, {f.rows_updated} updated, {f.rows_unchanged} unchanged); "
        f"source {f.source_count_after}, in database {f.rows_in_table}: {match}; API calls "
        f"{f.api_calls}, retries {f.retries}, throttled {f.throttled}"
    )


def check_line(check: WindowCheck) -> str:
    """A reconciled window, as the export block logs it."""
    match = "match" if check.matched else "MISMATCH"
    loaded = "unknown" if check.rows_loaded is None else check.rows_loaded
    return (
        f"{check.entity} {check.window}: source {check.source_count}, rows extracted "
        f"{loaded}, in database {check.rows_in_table}: {match}"
    )
