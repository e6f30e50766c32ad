"""Logs of a run, shaped for where they go: rich lines above a live table on a terminal,
plain lines elsewhere (CI, Mage, cron), one JSON object per line for machines. Secrets are
masked in all of them."""

from __future__ import annotations

import logging
import os
import re
from datetime import UTC, datetime
from enum import Enum
from typing import Any, TextIO

import orjson
from rich.console import Console
from rich.logging import RichHandler

from qbo_backfill import redact

__all__ = ["Display", "JsonFormatter", "choose_display", "log_handler"]

_INTUIT_TID = re.compile(r"intuit_tid ([\w.:-]+)")


class Display(Enum):
    """How a run is shown: a live table, log lines, or JSON log lines."""

    LIVE = "live"
    LINES = "lines"
    JSON = "json"


def choose_display(json_logs: bool, stream: TextIO) -> Display:
    """JSON when asked; the live table only on a real terminal; plain lines otherwise."""
    if json_logs:
        return Display.JSON
    is_tty = getattr(stream, "isatty", lambda: False)()
    if is_tty and os.environ.get("TERM", "") != "dumb":
        return Display.LIVE
    return Display.LINES


def log_handler(
    display: Display, stream: TextIO, console: Console | None = None
) -> logging.Handler:
    """A handler for the package's logs that suits the display; secrets always masked."""
    handler: logging.Handler
    if display is Display.LIVE:
        handler = RichHandler(
            console=console or Console(file=stream),
            show_path=False,
            markup=False,
            rich_tracebacks=False,
        )
    else:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(
            JsonFormatter()
            if display is Display.JSON
            else logging.Formatter("%(asctime)s %(levelname)s %(message)s")
        )
    handler.addFilter(redact.RedactingFilter())
    return handler


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC), level, logger, message, and the
    `intuit_tid` of a failed request as its own field, for Intuit support."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        tid = getattr(record, "intuit_tid", None) or _find_tid(message)
        if tid:
            entry["intuit_tid"] = tid
        if record.exc_info:
            entry["exception"] = redact.scrub(self.formatException(record.exc_info))
        return orjson.dumps(entry).decode()


def _find_tid(message: str) -> str | None:
    match = _INTUIT_TID.search(message)
    return match.group(1) if match else None
