"""The command line: parses, calls the library, renders. Exit codes: 0 done; 1 the run
failed or did not reconcile; 2 bad input or configuration; 3 re-authorize."""

from __future__ import annotations

import asyncio
import io
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from qbo_backfill import redact
from qbo_backfill.auth import login
from qbo_backfill.auth.tokens import TokenCipher, TokenStore
from qbo_backfill.entities import resolve_entity
from qbo_backfill.errors import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    EXIT_REAUTHORIZE,
    EXIT_RUN_FAILED,
    BackfillError,
)
from qbo_backfill.load import db
from qbo_backfill.load.ledger import Ledger
from qbo_backfill.report import model as report
from qbo_backfill.report.wording import agree, plural
from qbo_backfill.run.engine import Backfill, BackfillOptions, BackfillResult, backfill
from qbo_backfill.run.reconcile import verify
from qbo_backfill.settings import Settings
from qbo_backfill.ui import progress, render
from qbo_backfill.ui.progress import LineProgress
from qbo_backfill.windows import parse_date, requested_window

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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="qbo-backfill")
def cli() -> None:
    """Copy QuickBooks Online data into PostgreSQL raw tables, completely and resumably."""


def _window_options(func: Any) -> Any:
    func = click.option("--end", help="Exclusive end date, YYYY-MM-DD (UTC). Default: tomorrow.")(
        func
    )
    return click.option("--start", help="Start date, YYYY-MM-DD (UTC). Default: 2000-01-01.")(func)


def _dates(start: str | None, end: str | None) -> tuple[date | None, date | None]:
    return (
        parse_date(start, "--start") if start is not None else None,
        parse_date(end, "--end") if end is not None else None,
    )


def _chunk_days(text: str) -> int | None:
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
    page_size: int,
    force: bool = False,
    window_lists: bool = False,
) -> BackfillOptions:
    """Validate every argument before any request is made."""
    window = requested_window(*_dates(start, end))
    return BackfillOptions(
        entities=tuple(resolve_entity(name) for name in entities),
        window=window,
        chunk_days=_chunk_days(chunk_days),
        page_size=page_size,
        force=force,
        window_lists=window_lists,
    )


@cli.command("backfill", short_help="Copy entities into raw tables; resumes a stopped run.")
@click.argument("entities", nargs=-1, required=True)
@_window_options
@click.option(
    "--chunk-days",
    default="7",
    show_default=True,
    help="Days per chunk window, or 'auto' to size windows from COUNT(*).",
)
@click.option(
    "--page-size",
    default=1000,
    show_default=True,
    type=int,
    help="MAXRESULTS per page (1..1000); 100 reproduces the original pipelines.",
)
@click.option("--realm", help="QBO company (realm) id; default QBO_REALM_ID.")
@click.option("--force", is_flag=True, help="Re-extract every window, even ones already done.")
@click.option(
    "--window-lists",
    is_flag=True,
    help="Window list entities on MetaData.LastUpdatedTime instead of taking them whole.",
)
@click.option(
    "--json-logs",
    is_flag=True,
    help="Log one JSON object per line (no live display). Without it: a live table on a "
    "terminal, plain log lines otherwise.",
)
def backfill_command(
    entities: tuple[str, ...],
    start: str | None,
    end: str | None,
    chunk_days: str,
    page_size: int,
    realm: str | None,
    force: bool,
    window_lists: bool,
    json_logs: bool,
) -> int:
    """Copy ENTITIES (e.g. Invoice Customer Item) into raw tables; resumes a stopped run."""
    options = build_options(entities, start, end, chunk_days, page_size, force, window_lists)
    settings = load_settings(realm_id=realm)
    display = configure_logging(json_logs)
    console.print(f"[dim]database: {db.describe(settings)}[/dim]", highlight=False)
    with progress.progress_display(display, err_console) as observer:
        result = backfill(settings, options, observer)
    rows = print_result(settings, result)
    if not result.ok:
        # The tables above are the evidence; this line says why, for logs and schedulers.
        echo_error(failure_line(result, rows))
    return EXIT_OK if result.ok else EXIT_RUN_FAILED


def failure_line(result: BackfillResult, rows: dict[int, list[dict[str, Any]]]) -> str:
    """One line: which entities did not finish, how many chunks failed, the last error."""
    parts: list[str] = []
    last_error: str | None = None
    for entity_result in result.entities:
        if entity_result.status == "done":
            continue
        chunks = rows.get(entity_result.run_id, [])
        failed = [c for c in chunks if c.get("status") != "done"]
        if failed:
            detail = f"{len(failed)} of {plural(len(chunks), 'chunk')} not done"
        else:
            mismatches = int(entity_result.totals.get("mismatches", 0))
            detail = (
                f"{plural(mismatches, 'window')} {agree(mismatches, 'does', 'do')} not reconcile"
            )
        parts.append(f"{entity_result.entity} {entity_result.status} ({detail})")
        errors = [c["last_error"] for c in failed if c.get("last_error")]
        last_error = errors[-1] if errors else last_error
    reason = f"; last error: {last_error}" if last_error else ""
    stopped = f" ({result.stopped_early})" if result.stopped_early else ""
    return f"run failed{stopped}: {', '.join(parts)}{reason}; run the same command again to resume"


def print_result(settings: Settings, result: BackfillResult) -> dict[int, list[dict[str, Any]]]:
    """Per entity, the chunk table and whether the copy reconciles; returns the chunk rows."""
    rows = asyncio.run(_chunk_rows(settings, [e.run_id for e in result.entities]))
    for entity_result in result.entities:
        console.print(
            render.chunk_table(
                entity_result.entity, entity_result.run_id, rows[entity_result.run_id]
            )
        )
        totals = entity_result.totals
        console.print(
            f"{entity_result.entity}: {entity_result.status}; rows extracted "
            f"{totals.get('rows_extracted', 0)}, source {totals.get('source_count', 0)}, "
            f"in table {totals.get('rows_in_table', 0)}, mismatched windows "
            f"{totals.get('mismatches', 0)}",
            highlight=False,
        )
    console.print(
        f"API calls this session: {result.api_calls}; throttled: {result.throttled}",
        highlight=False,
    )
    return rows


async def _chunk_rows(settings: Settings, run_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    import psycopg

    ledger = Ledger(settings.schema)
    async with await psycopg.AsyncConnection.connect(db.database_url(settings)) as conn:
        return {run_id: await ledger.chunk_rows(conn, run_id) for run_id in run_ids}


@cli.command("verify", short_help="Compare source counts with the tables; exit 1 on a mismatch.")
@click.argument("entities", nargs=-1, required=True)
@_window_options
@click.option(
    "--chunk-days",
    default=7,
    show_default=True,
    type=click.IntRange(min=1),
    help="Days per window checked.",
)
@click.option("--realm", help="QBO company (realm) id; default QBO_REALM_ID.")
def verify_command(
    entities: tuple[str, ...],
    start: str | None,
    end: str | None,
    chunk_days: int,
    realm: str | None,
) -> int:
    """Reconcile: source COUNT(*) per window vs rows in the table. Exit 1 on a mismatch."""
    options = build_options(entities, start, end, str(chunk_days), 1000)
    settings = load_settings(realm_id=realm)
    configure_logging()
    checks = asyncio.run(_verify(settings, options, chunk_days))
    table = render.check_table(checks)
    console.print(table)
    bad = [c for c in checks if not c.matched]
    console.print(
        f"{plural(len(checks), 'window')} checked, {len(bad)} mismatched", highlight=False
    )
    return EXIT_RUN_FAILED if bad else EXIT_OK


async def _verify(settings: Settings, options: BackfillOptions, chunk_days: int) -> list[Any]:
    async with Backfill.open(settings, LineProgress()) as job:
        return await verify(job, options.entities, options.window, chunk_days)


@cli.group("db")
def db_group() -> None:
    """The embedded PostgreSQL (used when QBO_DATABASE_URL is not set)."""


@db_group.command("start")
def db_start() -> int:
    """Start the embedded PostgreSQL under QBO_HOME and print its URL."""
    settings = load_settings()
    click.echo(db.embedded_url(settings.home))
    return EXIT_OK


@db_group.command("url")
def db_url() -> int:
    """Print the database URL in use (a password is masked)."""
    settings = load_settings()
    click.echo(redact.scrub(db.database_url(settings)))
    return EXIT_OK


@db_group.command("stop")
def db_stop() -> int:
    """Stop the embedded PostgreSQL."""
    settings = load_settings()
    stopped = db.stop_embedded(settings.home)
    click.echo("stopped" if stopped else "not running")
    return EXIT_OK


@cli.group("auth")
def auth_group() -> None:
    """QuickBooks authorization: tokens kept encrypted in the database."""


def token_store(settings: Settings) -> TokenStore:
    return TokenStore(
        db.database_url(settings), settings.schema, TokenCipher.from_settings(settings)
    )


@auth_group.command("import")
@click.option("--realm", help="QBO company (realm) id; default QBO_REALM_ID.")
def auth_import(realm: str | None) -> int:
    """Store QBO_REFRESH_TOKEN for the realm, replacing the stored one."""
    settings = load_settings(realm_id=realm)
    if settings.refresh_token is None or settings.realm_id is None:
        raise click.UsageError("set QBO_REFRESH_TOKEN and QBO_REALM_ID (or --realm) first")
    token_store(settings).import_token(
        settings.realm_id, settings.environment, settings.refresh_token, force=True
    )
    click.echo(f"refresh token stored for realm {settings.realm_id}")
    return EXIT_OK


@auth_group.command("status", short_help="Per realm: token expiries and what needs doing.")
def auth_status() -> int:
    """Per realm: environment, token expiries, last rotation and what needs doing; never a
    token. Exit 3 when a refresh token has expired."""
    settings = load_settings()
    statuses = token_store(settings).status()
    if not statuses:
        click.echo("no tokens stored: run `qbo-backfill auth login`")
        return EXIT_OK
    now = datetime.now(UTC)
    console.print(render.token_table(statuses, now))
    expired = any(login.must_reauthorize(s, now) for s in statuses)
    return EXIT_REAUTHORIZE if expired else EXIT_OK


@auth_group.command("login", short_help="Authorize the app for a company and store its tokens.")
@click.option(
    "--redirect-uri",
    default=login.DEFAULT_REDIRECT_URI,
    show_default=True,
    help="The redirect URI registered for the app in Intuit's developer portal; its port "
    "and path are listened on (127.0.0.1 only).",
)
@click.option("--no-browser", is_flag=True, help="Print the address only; open no browser.")
@click.option(
    "--paste",
    is_flag=True,
    help="Do not listen: paste the address the browser ends on (for a browser on another "
    "machine, or a redirect URI that is not local).",
)
@click.option(
    "--timeout",
    default=300.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="Seconds to wait for the redirect.",
)
def auth_login(redirect_uri: str, no_browser: bool, paste: bool, timeout: float) -> int:
    """Authorize the app for a company (OAuth authorization code) and store its tokens."""
    settings = load_settings()
    redirect = login.RedirectUri.parse(redirect_uri)
    result = login.run_login(
        settings,
        token_store(settings),
        redirect,
        paste=paste,
        open_browser=not no_browser,
        timeout=timeout,
        say=click.echo,
        ask=lambda text: click.prompt(text, prompt_suffix=":\n"),
    )
    click.echo(f"authorized: realm {result.realm_id} ({result.environment}); tokens stored")
    for note in login.login_notes(settings, result):
        click.echo(f"note: {note}")
    return EXIT_OK


@cli.command("report", short_help="Report runs: chunks, totals and validation checks.")
@click.option("--run", "run_ids", type=int, multiple=True, help="A run id (repeatable).")
@click.option("--last", is_flag=True, help="The runs of the newest session (the default).")
@click.option("--entity", help="Every run of this entity, e.g. Invoice.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv", "html"]),
    default="table",
    show_default=True,
    help="What to print (csv: one row per chunk window).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write every format into this folder (report.txt, .json, -chunks.csv, "
    "-checks.csv, .html) as evidence.",
)
def report_command(
    run_ids: tuple[int, ...], last: bool, entity: str | None, fmt: str, out: Path | None
) -> int:
    """Per chunk window: pages, rows, source count, match, attempts, 429s, duration; totals
    and validation checks. Exit 1 if a run failed or a check failed."""
    from qbo_backfill.report.html import render_html

    settings = load_settings()
    selection = report.Selection(run_ids, last, entity)
    evidence = report.build_report(settings, selection)
    if out is not None:
        buffer = io.StringIO()
        Console(file=buffer, width=200, color_system=None).print(
            *render.report_renderables(evidence)
        )
        for path in report.write_all(evidence, out, buffer.getvalue(), render_html(evidence)):
            click.echo(f"wrote {path}")
    if fmt == "table":
        # Piped or redirected, the table keeps its columns instead of a terminal's 80.
        shown = console if console.is_terminal else Console(width=200)
        shown.print(*render.report_renderables(evidence))
    elif out is None:
        rendered = {
            "json": report.to_json,
            "csv": report.chunks_csv,
            "html": render_html,
        }[fmt](evidence)
        click.echo(rendered, nl=not rendered.endswith("\n"))
    return EXIT_OK if evidence.ok else EXIT_RUN_FAILED


def _add_sandbox_commands() -> None:
    from qbo_backfill.sandbox.cli import sandbox_group

    cli.add_command(sandbox_group, "sandbox")


@cli.command("demo", short_help="Offline demo: embedded PostgreSQL and the local sandbox.")
@click.option(
    "--invoices",
    default=5000,
    show_default=True,
    type=click.IntRange(min=0),
    help="Invoices the local sandbox generates (2024-2025).",
)
@click.option(
    "--rate-limit-per-min",
    default=500,
    show_default=True,
    type=click.IntRange(min=1),
    help="The sandbox's per-realm limit, as Intuit's; the run paces just under it.",
)
def demo_command(invoices: int, rate_limit_per_min: int) -> int:
    """Offline demo: embedded PostgreSQL + local sandbox; backfills Customer, Item and
    Invoice (2025, 7-day chunks) and prints the report."""
    from qbo_backfill.ui.demo import run_demo

    display = configure_logging()
    with progress.progress_display(display, err_console) as observer:
        result, settings = run_demo(
            invoices=invoices,
            console=console,
            rate_limit_per_min=rate_limit_per_min,
            observer=observer,
        )
    print_result(settings, result)
    runs = tuple(e.run_id for e in result.entities)
    evidence = report.build_report(settings, report.Selection(run_ids=runs))
    console.print(*render.report_renderables(evidence, chunks=False))
    console.print("[dim]archive it: qbo-backfill report --last --out DIR[/dim]", highlight=False)
    return EXIT_OK if result.ok and evidence.ok else EXIT_RUN_FAILED


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: one line and a documented exit code for every error, never a traceback."""
    _add_sandbox_commands()
    sys.exit(run(argv))


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


def run(argv: Sequence[str] | None) -> int:
    try:
        code = cli.main(args=list(argv) if argv is not None else None, standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("error: interrupted", err=True)
        return 130
    except click.ClickException as exc:
        click.echo(f"error: {redact.scrub(exc.format_message())}", err=True)
        return exc.exit_code if exc.exit_code != 1 else EXIT_BAD_INPUT
    except BackfillError as exc:
        echo_error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        return 130
    except Exception as exc:  # noqa: BLE001 - the one place that turns any failure into one line
        echo_error(f"unexpected {type(exc).__name__}: {exc}")
        return EXIT_RUN_FAILED
    return code if isinstance(code, int) else EXIT_OK
