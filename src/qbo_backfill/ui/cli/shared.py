"""What every command shares: the consoles, settings with the command's flags on top,
logging shaped for the display, the one error line, and the options several commands
declare (declared once here)."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, TypeVar

import click
from rich.console import Console

from qbo_backfill import redact
from qbo_backfill.entities import resolve_entities
from qbo_backfill.load import db
from qbo_backfill.run.engine import BackfillOptions
from qbo_backfill.run.observer import RunObserver
from qbo_backfill.settings import Settings
from qbo_backfill.ui import progress
from qbo_backfill.windows import parse_date, requested_window

F = TypeVar("F", bound=Callable[..., Any])
R = TypeVar("R")

# Piped output (CI logs, Mage, files) is not wrapped at 80 columns: a chunk table row stays
# one line. A terminal keeps its own width.
console = Console() if Console().is_terminal else Console(width=160)
# Progress and logs go to stderr, so stdout carries only results (tables, JSON, CSV).
err_console = Console(stderr=True)


def load_settings(**overrides: Any) -> Settings:
    """Settings from every source, with the command's own flags on top."""
    return Settings.load({k: v for k, v in overrides.items() if v is not None})


def configure_logging(json_logs: bool = False) -> progress.Display:
    """Logs on stderr, shaped for the display this command shows (which it returns)."""
    display = progress.choose_display(json_logs, sys.stderr)
    handler = progress.log_handler(display, sys.stderr, err_console)
    root = logging.getLogger("qbo_backfill")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False
    return display


def with_progress(settings: Settings, json_logs: bool, work: Callable[[RunObserver], R]) -> R:
    """Say where the data goes, then do the work under the display the logs call for."""
    display = configure_logging(json_logs)
    console.print(f"[dim]database: {db.describe(settings)}[/dim]", highlight=False)
    with progress.progress_display(display, err_console) as observer:
        return work(observer)


def echo_error(text: str) -> None:
    """The one line that ends a failed command: a JSON object when the logs are JSON
    (`--json-logs`), so that a machine can read every line of stderr."""
    # Some messages (psycopg's) run over several lines: keep them all, on one.
    text = " ".join(line.strip() for line in text.splitlines() if line.strip())
    logger = logging.getLogger("qbo_backfill")
    if any(isinstance(h.formatter, progress.JsonFormatter) for h in logger.handlers):
        logger.error("error: %s", text)
    else:
        click.echo(f"error: {redact.scrub(text)}", err=True)


def realm_option(func: F) -> F:
    """`--realm`: the company, instead of QBO_REALM_ID."""
    return click.option("--realm", help="QBO company (realm) id; default QBO_REALM_ID.")(func)


def window_options(func: F) -> F:
    """`--start` and `--end`: the half-open date window."""
    func = click.option("--end", help="Exclusive end date, YYYY-MM-DD (UTC). Default: tomorrow.")(
        func
    )
    return click.option("--start", help="Start date, YYYY-MM-DD (UTC). Default: 2000-01-01.")(func)


def json_logs_option(func: F) -> F:
    """`--json-logs`: one JSON object per log line."""
    return click.option(
        "--json-logs",
        is_flag=True,
        help="Log one JSON object per line (no live display). Without it: a live table on a "
        "terminal, plain log lines otherwise.",
    )(func)


def chunk_days_option(help_text: str) -> Callable[[F], F]:
    """`--chunk-days`: days per window or 'auto'; what the window is for, the command says."""
    return click.option("--chunk-days", default="auto", show_default=True, help=help_text)


def page_size_option(func: F) -> F:
    """`--page-size`: MAXRESULTS per page."""
    return click.option(
        "--page-size",
        default=1000,
        show_default=True,
        type=int,
        help="MAXRESULTS per page (1..1000); 100 reproduces the original pipelines.",
    )(func)


# The flags `build_options` validates; a command declares those it offers.
_REQUEST_FLAGS = ("entities", "start", "end", "chunk_days", "page_size", "force", "window_lists")


def request_from_flags(command: Callable[..., int]) -> Callable[..., int]:
    """Hand the command one validated `options: BackfillOptions` in place of the request
    flags it declares (placed below its click decorators)."""

    @functools.wraps(command)
    def with_options(**flags: Any) -> int:
        request = {name: flags.pop(name) for name in _REQUEST_FLAGS if name in flags}
        return command(options=build_options(**request), **flags)

    return with_options


def parse_dates(start: str | None, end: str | None) -> tuple[date | None, date | None]:
    """`--start` and `--end` as dates (None when not given)."""
    return (
        parse_date(start, "--start") if start is not None else None,
        parse_date(end, "--end") if end is not None else None,
    )


def parse_chunk_days(text: str) -> int | None:
    """`--chunk-days`: a whole number of days, or None for 'auto'."""
    if text.strip().lower() == "auto":
        return None
    try:
        return int(text)
    except ValueError:
        raise click.BadParameter(
            f"must be a whole number of days or 'auto', not {text!r}", param_hint="--chunk-days"
        ) from None


def build_options(
    entities: Sequence[str],
    start: str | None,
    end: str | None,
    chunk_days: str,
    page_size: int = 1000,
    force: bool = False,
    window_lists: bool = False,
) -> BackfillOptions:
    """Validate every argument before any request is made."""
    return BackfillOptions(
        entities=resolve_entities(entities),
        window=requested_window(*parse_dates(start, end)),
        chunk_days=parse_chunk_days(chunk_days),
        page_size=page_size,
        force=force,
        window_lists=window_lists,
    )


def number_option(name: str, default: float, kind: click.ParamType, text: str) -> Callable[[F], F]:
    """An option taking a bounded number, its default shown in --help."""
    return click.option(name, default=default, show_default=True, type=kind, help=text)
