"""`fleet backfill | sync | status` and `worker`: many companies, many workers, one queue in
the destination PostgreSQL. The fleet (and procrastinate) load only when a fleet command
runs, so every other command starts as fast as before."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import TYPE_CHECKING

import click
from rich.table import Table

from qbo_backfill.entities import resolve_entities
from qbo_backfill.errors import EXIT_OK
from qbo_backfill.fleet import COMPANIES_PER_SYNC_JOB
from qbo_backfill.ui.cli.shared import (
    build_options,
    configure_logging,
    console,
    load_settings,
    window_options,
)

if TYPE_CHECKING:
    from qbo_backfill.fleet.enqueue import EnqueueResult
    from qbo_backfill.fleet.status import CompanyProgress, FleetStatus

__all__ = ["fleet_group", "worker_command"]

realms_option = click.option(
    "--realm",
    "realms",
    multiple=True,
    help="A company (realm) id; repeat for several. Default: every company in the token store.",
)


@click.group("fleet", short_help="Many companies at once: enqueue their work, watch it.")
def fleet_group() -> None:
    """Many companies at once: enqueue their work, watch it; `qbo-backfill worker` runs it."""


@fleet_group.command("backfill", short_help="Enqueue a backfill of every company.")
@click.argument("entities", nargs=-1, required=True)
@window_options
@click.option(
    "--chunk-days",
    default="auto",
    show_default=True,
    help="Days per chunk, or 'auto' (windows sized from batch counts: calls follow rows).",
)
@click.option("--page-size", default=1000, show_default=True, type=int, help="MAXRESULTS.")
@click.option(
    "--reports",
    "with_reports",
    is_flag=True,
    help="Also a reports job per company (the default reports, accrual; see `reports`).",
)
@realms_option
def fleet_backfill(
    entities: tuple[str, ...],
    start: str | None,
    end: str | None,
    chunk_days: str,
    page_size: int,
    with_reports: bool,
    realms: tuple[str, ...],
) -> int:
    """Enqueue ENTITY... (or `all`) for each company (a plan job each; workers plan its
    chunks and copy them). Enqueueing again adds nothing that is waiting or done already."""
    from qbo_backfill.fleet.enqueue import enqueue_backfill

    settings = load_settings()
    options = build_options(entities, start, end, chunk_days, page_size)
    reports: tuple[str, ...] | None = () if with_reports else None
    result = asyncio.run(enqueue_backfill(settings, options, realms, reports))
    _say_enqueued(result, "plan and reports" if with_reports else "plan")
    return EXIT_OK


@fleet_group.command("sync", short_help="Enqueue a sync of every company.")
@click.argument("entities", nargs=-1)
@realms_option
@click.option(
    "--companies-per-job",
    type=click.IntRange(min=1),
    default=COMPANIES_PER_SYNC_JOB,
    show_default=True,
    help="Companies one job syncs, one after the other (1: a job each, as webhooks enqueue).",
)
def fleet_sync(entities: tuple[str, ...], realms: tuple[str, ...], companies_per_job: int) -> int:
    """Enqueue sync jobs of the companies: ENTITY..., or every entity already copied for
    each. A company whose sync fails in a shared job gets a job of its own."""
    from qbo_backfill.fleet.enqueue import enqueue_sync

    names = [entity.name for entity in resolve_entities(entities)]
    result = asyncio.run(enqueue_sync(load_settings(), names, realms, companies_per_job))
    _say_enqueued(result, "sync")
    return EXIT_OK


@fleet_group.command("status", short_help="Jobs, companies' progress, the month's API calls.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="A table for people, or one JSON object.",
)
def fleet_status_command(fmt: str) -> int:
    """Jobs by status, each company's chunks and rows, who must re-authorize, and the
    month's API calls against QBO_MONTHLY_CALL_BUDGET."""
    from qbo_backfill.fleet.status import fleet_status

    status = fleet_status(load_settings())
    if fmt == "json":
        click.echo(json.dumps(status.as_dict(), sort_keys=True))
    else:
        _print_table(status)
    return EXIT_OK


@click.command("worker", short_help="Run fleet jobs until SIGTERM.")
@click.option(
    "--concurrency",
    default=4,
    show_default=True,
    type=click.IntRange(min=1, max=64),
    help="Jobs run at once by this process.",
)
@click.option(
    "--no-listen-notify",
    is_flag=True,
    help="Poll only, no LISTEN/NOTIFY (needed behind pgbouncer in transaction mode).",
)
@click.option(
    "--keep-finished-hours",
    default=24,
    show_default=True,
    type=click.IntRange(min=1),
    help="Delete succeeded jobs after this many hours (the ledger keeps their figures).",
)
@click.option(
    "--keep-events-days",
    default=30,
    show_default=True,
    type=click.IntRange(min=1),
    help="Delete webhook events received over this many days ago (the receiver's table).",
)
@click.option(
    "--keep-quiet-syncs-days",
    default=30,
    show_default=True,
    type=click.IntRange(min=0),
    help="Delete sync runs that wrote nothing after this many days, but for each entity's "
    "last (0: keep them all).",
)
def worker_command(
    concurrency: int,
    no_listen_notify: bool,
    keep_finished_hours: int,
    keep_events_days: int,
    keep_quiet_syncs_days: int,
) -> int:
    """Run fleet jobs until SIGTERM or SIGINT; then finish the running chunks and exit 0.
    Reconnects by itself when the database restarts."""
    from qbo_backfill.fleet.worker import WorkerOptions, run_worker

    settings = load_settings()
    configure_logging()
    _log_queue_warnings()
    options = WorkerOptions(
        concurrency=concurrency,
        listen_notify=not no_listen_notify,
        keep_finished_hours=keep_finished_hours,
        keep_events_days=keep_events_days,
        keep_quiet_syncs_days=keep_quiet_syncs_days,
    )
    run_worker(settings, options)
    return EXIT_OK


def _log_queue_warnings() -> None:
    """procrastinate's own warnings and errors (a lost connection, a job that raised) go
    where ours go; its per-job lines stay out (the ledger has every chunk's figures)."""
    ours = logging.getLogger("qbo_backfill")
    queue = logging.getLogger("procrastinate")
    queue.handlers[:] = list(ours.handlers)
    queue.setLevel(os.environ.get("QBO_QUEUE_LOG_LEVEL", "WARNING").upper())
    queue.propagate = False


def _say_enqueued(result: EnqueueResult, kind: str) -> None:
    click.echo(
        f"{result.realms} companies: {result.enqueued} {kind} jobs enqueued, "
        f"{result.already_queued} already waiting, {result.already_done} already done"
    )
    if result.budget_reached:
        click.echo(f"warning: {result.budget_reached}", err=True)


def _print_table(status: FleetStatus) -> None:
    jobs = ", ".join(f"{name} {count}" for name, count in status.jobs.items())
    budget = f" of {status.budget}" if status.budget is not None else " (no budget set)"
    click.echo(f"{status.realms} companies; jobs: {jobs}")
    click.echo(f"API calls in {status.month}: {status.api_calls}{budget}")
    if status.budget_reached:
        click.echo("monthly API call budget reached: no new work starts until next month")
    if status.webhooks.received:
        click.echo(_webhook_line(status))
    table = Table(title="companies", title_justify="left")
    for header in ("realm", "chunks done", "failed", "rows", "state"):
        table.add_column(header, justify="left" if header in ("realm", "state") else "right")
    for c in status.companies:
        state = "needs re-authorization" if c.needs_reauthorization else _state(c)
        done = f"{c.chunks_done}/{c.chunks_total}"
        table.add_row(c.realm_id, done, str(c.chunks_failed), str(c.rows), state)
    console.print(table)


def _webhook_line(status: FleetStatus) -> str:
    """Webhook activity in one line: received, ignored and why, syncs, lag."""
    hooks = status.webhooks
    ignored = sum(hooks.ignored.values())
    why = "; ".join(f"{reason}: {n}" for reason, n in sorted(hooks.ignored.items()))
    lag = (
        f"lag to the copy p50 {hooks.lag_p50_seconds} s, p95 {hooks.lag_p95_seconds} s, "
        f"max {hooks.lag_max_seconds} s"
        if hooks.lag_p50_seconds is not None
        else "no lag measured yet"
    )
    return (
        f"webhooks, last {hooks.hours} h: {hooks.received} events, {ignored} ignored"
        f"{f' ({why})' if why else ''}, {hooks.syncs_triggered} syncs triggered, "
        f"{hooks.awaiting_sync} awaiting a sync; {lag}"
    )


def _state(company: CompanyProgress) -> str:
    if company.chunks_total == 0:
        return "not planned"
    return "done" if company.chunks_done == company.chunks_total else "copying"
