"""`db start | url | stop`: the embedded PostgreSQL, used when QBO_DATABASE_URL is not set."""

from __future__ import annotations

import click

from qbo_backfill import redact
from qbo_backfill.errors import EXIT_OK
from qbo_backfill.load import db
from qbo_backfill.ui.cli.shared import load_settings


@click.group("db")
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
