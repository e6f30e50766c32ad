"""`qbo-backfill sandbox serve`: a thin command over `serve_forever`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import click

from qbo_backfill.sandbox.config import SandboxConfig
from qbo_backfill.sandbox.runner import serve_forever

__all__ = ["sandbox_group"]

_DEFAULTS = SandboxConfig()


class _BadInput(click.ClickException):
    """Bad input: one `Error: ...` line on stderr and exit code 2, no usage dump."""

    exit_code = 2


class _OneLineErrors(click.Command):
    """Turns click's usage errors (unknown option, bad value) into a single line."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            raise _BadInput(exc.format_message()) from None


def _rotation(_ctx: click.Context, _param: click.Parameter, value: str) -> str | int:
    return int(value) if value.isdigit() else value


@click.group(name="sandbox", short_help="A local QuickBooks Online stand-in.")
def sandbox_group() -> None:
    """A local QuickBooks Online stand-in for demos, tests and benchmarks."""


@sandbox_group.command(
    name="serve", cls=_OneLineErrors, short_help="Serve the local sandbox until Ctrl+C."
)
@click.option("--host", default=_DEFAULTS.host, show_default=True, help="Address to bind.")
@click.option("--port", type=int, default=8765, show_default=True, help="Port; 0 picks a free one.")
@click.option(
    "--seed", type=int, default=_DEFAULTS.seed, show_default=True, help="Seed of all data."
)
@click.option("--realms", type=int, default=_DEFAULTS.realms, show_default=True, help="Companies.")
@click.option(
    "--realm",
    "realm_ids",
    multiple=True,
    help="A company id to serve (repeat for several); default: ids derived from the seed.",
)
@click.option(
    "--customers",
    type=int,
    default=_DEFAULTS.customers,
    show_default=True,
    help="Customers per realm.",
)
@click.option(
    "--items", type=int, default=_DEFAULTS.items, show_default=True, help="Items per realm."
)
@click.option(
    "--invoices",
    type=int,
    default=_DEFAULTS.invoices,
    show_default=True,
    help="Invoices per realm.",
)
@click.option(
    "--other-records",
    type=int,
    default=None,
    help="Records of every other entity (bills, payments, vendors...); default invoices/20, "
    "at most 500; 0 for none.",
)
@click.option(
    "--invoice-start",
    type=click.DateTime(["%Y-%m-%d"]),
    default=_DEFAULTS.invoice_start.isoformat(),
    show_default=True,
    help="First TxnDate of generated invoices.",
)
@click.option(
    "--invoice-end",
    type=click.DateTime(["%Y-%m-%d"]),
    default=_DEFAULTS.invoice_end.isoformat(),
    show_default=True,
    help="TxnDates stay before this date (exclusive).",
)
@click.option(
    "--latency-ms", type=float, default=0.0, show_default=True, help="Added per data request."
)
@click.option(
    "--latency-jitter-ms", type=float, default=0.0, show_default=True, help="Uniform +/- jitter."
)
@click.option(
    "--rate-limit-per-min", type=int, default=500, show_default=True, help="Per realm; 0 = off."
)
@click.option(
    "--rate-limit-per-sec", type=int, default=10, show_default=True, help="Per realm; 0 = off."
)
@click.option(
    "--max-in-flight", type=int, default=10, show_default=True, help="Per realm; 0 = off."
)
@click.option(
    "--batch-limit-per-min", type=int, default=40, show_default=True, help="Per realm; 0 = off."
)
@click.option("--faults", default="", help="Fault spec, e.g. '429=0.05,500=0.01,burst=3,seed=7'.")
@click.option("--client-id", default=None, help="Fix the app's client id (default: from the seed).")
@click.option("--client-secret", default=None, help="Fix the app's client secret.")
@click.option("--refresh-token", default=None, help="Fix the first realm's refresh token.")
@click.option("--access-token-ttl", type=float, default=3600.0, show_default=True, help="Seconds.")
@click.option(
    "--refresh-rotation",
    default="every",
    show_default=True,
    callback=_rotation,
    help="New refresh token on 'every' refresh, every N refreshes, or 'age:SECONDS'.",
)
@click.option(
    "--refresh-grace-seconds",
    type=float,
    default=86400.0,
    show_default=True,
    help="How long a superseded refresh token still works.",
)
def serve(invoice_start: datetime, invoice_end: datetime, **options: Any) -> None:
    """Serve the sandbox until Ctrl+C; prints one JSON line with URLs and credentials."""
    config = SandboxConfig(
        invoice_start=_as_date(invoice_start), invoice_end=_as_date(invoice_end), **options
    )
    try:
        config.validate()
    except ValueError as exc:
        raise _BadInput(str(exc)) from None
    try:
        serve_forever(config)
    except OSError as exc:
        raise _BadInput(f"cannot listen on {config.host}:{config.port}: {exc.strerror}") from None


def _as_date(value: datetime) -> date:
    return value.date()
