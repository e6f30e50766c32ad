"""`reports`: copy Intuit's reports into `qb_report`, and what it prints: one row per
report and basis."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable

import click
from rich.table import Table

from qbo_backfill.errors import EXIT_OK, EXIT_RUN_FAILED
from qbo_backfill.load.reportruns import ReportFigures
from qbo_backfill.qbo.reports import DEFAULT_REPORTS
from qbo_backfill.run.reports import ReportsOptions, ReportsResult, bases_of, copy_reports, last_day
from qbo_backfill.ui.cli.shared import (
    console,
    echo_error,
    json_logs_option,
    load_settings,
    realm_option,
    window_options,
    with_progress,
)
from qbo_backfill.windows import parse_date

__all__ = ["basis_option", "figures_table", "reports_command"]

_NAME = re.compile(r"[A-Za-z]{2,64}")
_KEY = re.compile(r"[a-z_]{2,64}")
# Set by the command itself: the dates of each period and the basis.
_OWN_KEYS = ("start_date", "end_date", "report_date", "accounting_method", "minorversion")
_COLUMNS = ("report", "basis", "status", "calls", "periods", "empty months", "cut short", "504")


def basis_option(func: click.decorators.FC) -> click.decorators.FC:
    """`--basis`: accrual, cash or both; always sent, never left to the company's default."""
    return click.option(
        "--basis",
        type=click.Choice(["accrual", "cash", "both"]),
        default="accrual",
        show_default=True,
        help="Accounting basis asked for (sent with every request).",
    )(func)


@click.command("reports", short_help="Copy Intuit's reports (P&L, balance sheet, ...) raw.")
@click.argument("names", nargs=-1)
@window_options
@basis_option
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="A further report parameter sent with every request (e.g. columns=tx_date,"
    "txn_type); repeatable.",
)
@realm_option
@json_logs_option
def reports_command(
    names: tuple[str, ...],
    start: str | None,
    end: str | None,
    basis: str,
    params: tuple[str, ...],
    realm: str | None,
    json_logs: bool,
) -> int:
    """Copy REPORTS (default: ProfitAndLoss BalanceSheet TrialBalance GeneralLedger
    TransactionList AgedReceivables AgedPayables CashFlow; any other name Intuit serves)
    into qb_report, month by month, from the company's first transaction month (or
    --start) to the current month (or the month before --end, exclusive). Resumes: months
    already stored cost no call. Exit 1 if a report failed; run it again to resume."""
    for name in names:
        if not _NAME.fullmatch(name):
            raise click.BadParameter(f"{name!r} is not a report name", param_hint="REPORTS")
    options = ReportsOptions(
        reports=names or DEFAULT_REPORTS,
        bases=tuple(bases_of(basis)),
        start=parse_date(start, "--start") if start else None,
        end=last_day(parse_date(end, "--end")) if end else None,
        extra=tuple(sorted(_param(text) for text in params)),
    )
    if options.start and options.end and options.end < options.start:
        raise click.BadParameter("must be after --start", param_hint="--end")
    settings = load_settings(realm_id=realm)
    result = with_progress(
        settings, json_logs, lambda _observer: asyncio.run(copy_reports(settings, options))
    )
    return print_reports(result)


def _param(text: str) -> tuple[str, str]:
    key, sign, value = text.partition("=")
    if not sign or not _KEY.fullmatch(key) or key in _OWN_KEYS:
        raise click.BadParameter(
            f"{text!r}: expected KEY=VALUE, KEY not one of {', '.join(_OWN_KEYS)}",
            param_hint="--param",
        )
    return key, value


def print_reports(result: ReportsResult) -> int:
    """The table and the calls; the exit code."""
    console.print(figures_table(result.figures, f"reports {result.start}..{result.end}"))
    console.print(f"API calls: {result.calls}", highlight=False)
    if result.failed:
        last = result.failed[-1]
        echo_error(
            f"{len(result.failed)} report(s) failed ({last.report} {last.basis}: {last.error});"
            " run the same command again"
        )
        return EXIT_RUN_FAILED
    return EXIT_OK


def figures_table(figures: Iterable[ReportFigures], title: str) -> Table:
    """One row per report and basis."""
    table = Table(title=title, title_justify="left")
    for column in _COLUMNS:
        table.add_column(
            column, justify="left" if column in ("report", "basis", "status") else "right"
        )
    for f in figures:
        table.add_row(
            f.report,
            f.basis,
            f.status,
            str(f.calls),
            str(f.periods_stored),
            str(f.months_empty),
            str(f.truncations_split),
            str(f.dense_split),
        )
    return table
