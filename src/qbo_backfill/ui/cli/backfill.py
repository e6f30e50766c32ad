"""`backfill`, `verify` and `demo`: the commands that copy and check, and what they print."""

from __future__ import annotations

import asyncio

import click

from qbo_backfill import report
from qbo_backfill.errors import EXIT_OK, EXIT_RUN_FAILED
from qbo_backfill.load.moneyrecord import MoneyResult
from qbo_backfill.report.wording import agree, plural
from qbo_backfill.run.engine import BackfillOptions, BackfillResult, backfill
from qbo_backfill.run.money import MoneyOptions, verify_money
from qbo_backfill.run.reconcile import WindowCheck, verify
from qbo_backfill.run.session import open_session
from qbo_backfill.settings import Settings
from qbo_backfill.ui import progress, render
from qbo_backfill.ui.cli.shared import (
    build_options,
    chunk_days_option,
    configure_logging,
    console,
    echo_error,
    err_console,
    json_logs_option,
    load_settings,
    number_option,
    page_size_option,
    parse_dates,
    realm_option,
    request_from_flags,
    window_options,
    with_progress,
)
from qbo_backfill.ui.moneytable import money_lines, money_summary
from qbo_backfill.windows import requested_window


@click.command("backfill", short_help="Copy entities into raw tables; resumes a stopped run.")
@click.argument("entities", nargs=-1, required=True)
@window_options
@chunk_days_option(
    "'auto': windows sized from the source's counts (up to 100 pages each); or days per "
    "chunk window. Either way only stretches that hold rows are paged."
)
@page_size_option
@realm_option
@click.option("--force", is_flag=True, help="Re-extract every window, even ones already done.")
@click.option(
    "--window-lists",
    is_flag=True,
    help="Window list entities on MetaData.LastUpdatedTime instead of taking them whole.",
)
@json_logs_option
@request_from_flags
def backfill_command(options: BackfillOptions, realm: str | None, json_logs: bool) -> int:
    """Copy ENTITIES (for example Invoice Customer Item, or `all` for every queryable
    entity) into raw tables; resumes a stopped run."""
    settings = load_settings(realm_id=realm)
    result = with_progress(
        settings, json_logs, lambda observer: backfill(settings, options, observer)
    )
    print_result(result)
    if not result.ok:
        # The tables above are the evidence; this line says why, for logs and schedulers.
        echo_error(failure_line(result))
    return EXIT_OK if result.ok else EXIT_RUN_FAILED


def failure_line(result: BackfillResult) -> str:
    """One line: which entities did not finish, how many chunks failed, the last error."""
    parts: list[str] = []
    last_error: str | None = None
    for entity_result in result.entities:
        if entity_result.status == "done":
            continue
        failed = entity_result.failed_chunks()
        if entity_result.not_planned:
            detail, last_error = "not planned", entity_result.not_planned
        elif failed:
            detail = f"{len(failed)} of {plural(len(entity_result.chunks), 'chunk')} not done"
        else:
            mismatches = entity_result.totals.mismatches
            detail = (
                f"{plural(mismatches, 'window')} {agree(mismatches, 'does', 'do')} not reconcile"
            )
        parts.append(f"{entity_result.entity} {entity_result.status} ({detail})")
        errors = [c.last_error for c in failed if c.last_error]
        last_error = errors[-1] if errors else last_error
    reason = f"; last error: {last_error}" if last_error else ""
    stopped = f" ({result.stopped_early})" if result.stopped_early else ""
    return f"run failed{stopped}: {', '.join(parts)}{reason}; run the same command again to resume"


def print_result(result: BackfillResult) -> None:
    """Per entity, the chunk table and whether the copy reconciles."""
    for entity_result in result.entities:
        console.print(
            render.chunk_table(entity_result.entity, entity_result.run_id, entity_result.chunks)
        )
        console.print(entity_result.totals.line(entity_result.entity), highlight=False)
    console.print(
        f"API calls this session: {result.api_calls}; throttled: {result.throttled}",
        highlight=False,
    )


@click.command("verify", short_help="Reconcile the copy: counts per window, money per month.")
@click.argument("entities", nargs=-1)
@window_options
@chunk_days_option("The finest window a mismatch is narrowed to: days, or 'auto' (one day).")
@click.option(
    "--money",
    is_flag=True,
    help="Also prove the copy against Intuit's reports, per month, to the cent "
    "(docs/reconciliation.md).",
)
@click.option(
    "--basis",
    type=click.Choice(["accrual", "cash"]),
    default="accrual",
    show_default=True,
    help="The accounting basis of the reports --money reads.",
)
@realm_option
def verify_command(
    entities: tuple[str, ...],
    start: str | None,
    end: str | None,
    chunk_days: str,
    money: bool,
    basis: str,
    realm: str | None,
) -> int:
    """Reconcile: source COUNT(*) per window against rows in the table, in coarse slices
    narrowed where they disagree; with --money, every transaction of Intuit's reports
    against the copy, month by month. Exit 1 on any mismatch."""
    if not entities and not money:
        raise click.UsageError("name the entities to verify, or ask for --money")
    options = build_options(entities, start, end, chunk_days) if entities else None
    money_options = None
    if money:
        window = options.window if options else requested_window(*parse_dates(start, end))
        first = window.start if start is not None else None
        money_options = MoneyOptions(first, window.end, basis.capitalize())
    settings = load_settings(realm_id=realm)
    configure_logging()
    checks, result = asyncio.run(_verify(settings, options, money_options))
    failed = False
    if options:
        console.print(render.check_table(checks))
        bad = [c for c in checks if not c.matched]
        console.print(
            f"{plural(len(checks), 'window')} checked, {len(bad)} mismatched", highlight=False
        )
        failed = bool(bad)
    if result is not None:
        console.print(money_lines(result))
        console.print(money_summary(result), highlight=False)
        failed = failed or not result.ok
    return EXIT_RUN_FAILED if failed else EXIT_OK


async def _verify(
    settings: Settings, options: BackfillOptions | None, money: MoneyOptions | None
) -> tuple[list[WindowCheck], MoneyResult | None]:
    async with open_session(settings) as session:
        checks = []
        if options:
            checks = await verify(session, options.entities, options.window, options.chunk_days)
        result = await verify_money(session, money) if money else None
        return checks, result


@click.command("demo", short_help="Offline demo: embedded PostgreSQL and the local sandbox.")
@number_option(
    "--invoices", 5000, click.IntRange(min=0), "Invoices the local sandbox generates (2024-2025)."
)
@number_option(
    "--rate-limit-per-min",
    500,
    click.IntRange(min=1),
    "The sandbox's per-realm limit, as Intuit's; the run paces just under it.",
)
def demo_command(invoices: int, rate_limit_per_min: int) -> int:
    """Offline demo: embedded PostgreSQL and the local sandbox; backfills Customer, Item and
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
    print_result(result)
    runs = tuple(e.run_id for e in result.entities)
    evidence = report.build_report(settings, report.Selection(run_ids=runs))
    console.print(*render.report_renderables(evidence, chunks=False))
    console.print("[dim]archive it: qbo-backfill report --last --out DIR[/dim]", highlight=False)
    return EXIT_OK if result.ok and evidence.ok else EXIT_RUN_FAILED
