"""`qbo-backfill sandbox serve`: a thin command over `serve_forever`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any, TypeVar

import click

from qbo_backfill.sandbox.config import SandboxConfig
from qbo_backfill.sandbox.runner import serve_forever

__all__ = ["sandbox_group"]

_DEFAULTS = SandboxConfig()
_Command = TypeVar("_Command", bound=Callable[..., Any])
_PER_REALM = "Per realm; 0 = off."


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


def _as_date(_ctx: click.Context, _param: click.Parameter, value: datetime) -> date:
    return value.date()


def _config_option(flag: str, help_text: str, **settings: Any) -> Callable[[_Command], _Command]:
    """An option that sets the `SandboxConfig` field of its name, with that field's default.

    Taking the default from the config keeps `--help` and the library in step; click infers
    the option's type from it. Dates are read as `YYYY-MM-DD`.
    """
    field = settings.pop("field", flag.removeprefix("--").replace("-", "_"))
    default = settings.pop("default", getattr(_DEFAULTS, field))
    if isinstance(default, date):
        settings.update(type=click.DateTime(["%Y-%m-%d"]), callback=_as_date)
        default = default.isoformat()
    shown = default not in (None, "", ())
    return click.option(
        flag, field, default=default, show_default=shown, help=help_text, **settings
    )


# `serve`'s options in `--help` order; each one is a SandboxConfig field.
_SERVE_OPTIONS = (
    _config_option("--host", "Address to bind."),
    _config_option("--port", "Port; 0 picks a free one.", default=8765),
    _config_option("--seed", "Seed of all data."),
    _config_option("--realms", "Companies."),
    _config_option(
        "--realm",
        "A company id to serve (repeat for several); default: ids derived from the seed.",
        field="realm_ids",
        multiple=True,
    ),
    _config_option("--customers", "Customers per realm."),
    _config_option("--items", "Items per realm."),
    _config_option("--invoices", "Invoices per realm."),
    _config_option(
        "--other-records",
        "Records of every other entity (bills, payments, vendors...); default invoices/20, "
        "at most 500; 0 for none.",
        type=int,
    ),
    _config_option("--invoice-start", "First TxnDate of generated invoices."),
    _config_option("--invoice-end", "TxnDates stay before this date (exclusive)."),
    _config_option("--latency-ms", "Added per data request."),
    _config_option("--latency-jitter-ms", "Uniform +/- jitter."),
    _config_option("--rate-limit-per-min", _PER_REALM),
    _config_option("--rate-limit-per-sec", _PER_REALM),
    _config_option("--max-in-flight", _PER_REALM),
    _config_option("--batch-limit-per-min", _PER_REALM),
    _config_option("--faults", "Fault spec, e.g. '429=0.05,500=0.01,burst=3,seed=7'."),
    _config_option("--client-id", "Fix the app's client id (default: from the seed)."),
    _config_option("--client-secret", "Fix the app's client secret."),
    _config_option("--refresh-token", "Fix the first realm's refresh token."),
    _config_option("--access-token-ttl", "Seconds."),
    _config_option(
        "--refresh-rotation",
        "New refresh token on 'every' refresh, every N refreshes, or 'age:SECONDS'.",
        callback=_rotation,
    ),
    _config_option("--refresh-grace-seconds", "How long a superseded refresh token still works."),
    _config_option(
        "--prerender",
        "Build every record's JSON at start (memory: about 2 KB an invoice), so serving "
        "costs little CPU; for benchmarks that share the machine with the sandbox.",
        is_flag=True,
    ),
    _config_option(
        "--report-cell-cap",
        "Cells (rows x columns) past which a report answer is cut, ending with QBO's "
        "'Unable to display more data' row (HTTP 200).",
    ),
    _config_option(
        "--report-dense-rows",
        "A report answer of more data rows than this answers HTTP 504 (Fault 6002); 0 = off.",
    ),
    _config_option(
        "--webhook-url",
        "Send Intuit's change notifications of every admin API change to this URL.",
        type=str,
    ),
    _config_option(
        "--webhook-verifier", "The verifier token that signs them (intuit-signature).", type=str
    ),
    _config_option(
        "--webhook-format",
        "Intuit's notification format.",
        type=click.Choice(["cloudevents", "legacy"]),
    ),
    _config_option("--webhook-delay-ms", "Changes within this of the first go in one POST."),
    _config_option(
        "--webhook-retry-scale",
        "Intuit's retry schedule (10 s, 20 s, 30 s, 5 min, ... 6 h) multiplied by this.",
    ),
    _config_option("--webhook-duplicates", "Send every POST this many extra times."),
    _config_option("--webhook-reorder", "Send a batch's events newest first.", is_flag=True),
)


def _serve_options(command: _Command) -> _Command:
    for option in reversed(_SERVE_OPTIONS):  # click lists the last-applied option first
        command = option(command)
    return command


@click.group(name="sandbox", short_help="A local QuickBooks Online stand-in.")
def sandbox_group() -> None:
    """A local QuickBooks Online stand-in for demos, tests and benchmarks."""


@sandbox_group.command(
    name="serve", cls=_OneLineErrors, short_help="Serve the local sandbox until Ctrl+C."
)
@_serve_options
def serve(**options: Any) -> None:
    """Serve the sandbox until Ctrl+C; prints one JSON line with URLs and credentials."""
    config = SandboxConfig(**options)
    try:
        config.validate()
    except ValueError as exc:
        raise _BadInput(str(exc)) from None
    try:
        serve_forever(config)
    except OSError as exc:
        raise _BadInput(f"cannot listen on {config.host}:{config.port}: {exc.strerror}") from None
