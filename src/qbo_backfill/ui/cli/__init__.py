"""The command line: parses, calls the library, renders. One module per command family;
options several commands take are declared once (`shared`).

Exit codes: 0 done; 1 the run failed or did not reconcile; 2 bad input or configuration;
3 re-authorize.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from qbo_backfill import redact
from qbo_backfill.errors import EXIT_BAD_INPUT, EXIT_OK, EXIT_RUN_FAILED, BackfillError
from qbo_backfill.ui.cli.auth import auth_group
from qbo_backfill.ui.cli.backfill import backfill_command, demo_command, verify_command
from qbo_backfill.ui.cli.db import db_group
from qbo_backfill.ui.cli.fleet import fleet_group, worker_command
from qbo_backfill.ui.cli.report import report_command
from qbo_backfill.ui.cli.reports import reports_command
from qbo_backfill.ui.cli.shared import echo_error
from qbo_backfill.ui.cli.sync import sync_command
from qbo_backfill.ui.cli.views import views_command
from qbo_backfill.ui.cli.webhooks import webhooks_group

__all__ = ["cli", "main", "run"]


class _Commands(click.Group):
    """The command families. `sandbox` (aiohttp, lark) is imported only when it is asked
    for (or listed by --help): every other command starts without it."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), "sandbox"})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name == "sandbox" and cmd_name not in self.commands:
            from qbo_backfill.sandbox.cli import sandbox_group

            self.add_command(sandbox_group, "sandbox")
        return super().get_command(ctx, cmd_name)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="qbo-backfill")
def cli() -> None:
    """Copy QuickBooks Online data into PostgreSQL raw tables, completely and resumably."""


for command in (backfill_command, verify_command, report_command, demo_command):
    cli.add_command(command)
cli.add_command(auth_group)
cli.add_command(db_group)
cli.add_command(sync_command)
cli.add_command(reports_command)
cli.add_command(views_command)
cli.add_command(fleet_group)
cli.add_command(worker_command)
cli.add_command(webhooks_group)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: one line and a documented exit code for every error, never a traceback."""
    sys.exit(run(argv))


def run(argv: Sequence[str] | None) -> int:
    """Run the command line; the exit code."""
    try:
        code = cli.main(args=list(argv) if argv is not None else None, standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("error: interrupted", err=True)
        return 130
    except click.ClickException as exc:
        click.echo(f"error: {redact.scrub(exc.format_message())}", err=True)
        return exc.exit_code if exc.exit_code != 1 else EXIT_BAD_INPUT
    except BackfillError as exc:
        echo_error(str(exc))
        return exc.exit_code
    except Exception as exc:  # noqa: BLE001 - the one place that turns any failure into one line
        echo_error(f"unexpected {type(exc).__name__}: {exc}")
        return EXIT_RUN_FAILED
    return code if isinstance(code, int) else EXIT_OK
