"""`auth import | status | login`: the company's tokens, kept encrypted in the database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from qbo_backfill import redact
from qbo_backfill.auth import login
from qbo_backfill.auth.token_map import import_token_map, read_token_map
from qbo_backfill.errors import EXIT_OK, EXIT_REAUTHORIZE
from qbo_backfill.fleet.reauth import ReauthMarks
from qbo_backfill.load.db import connect
from qbo_backfill.run.session import token_store
from qbo_backfill.ui import render
from qbo_backfill.ui.cli.shared import console, load_settings, number_option, realm_option


@click.group("auth")
def auth_group() -> None:
    """QuickBooks authorization: tokens kept encrypted in the database."""


@auth_group.command("import", short_help="Store QBO_REFRESH_TOKEN for the realm.")
@realm_option
@click.option(
    "--from-json",
    "from_json",
    type=click.Path(dir_okay=False, path_type=Path),
    help='A file {"<realm id>": "<refresh token>", ...} (or the sandbox\'s start-up line): '
    "store every company's token.",
)
def auth_import(realm: str | None, from_json: Path | None) -> int:
    """Store QBO_REFRESH_TOKEN for the realm, replacing the stored one; with --from-json,
    every company's token from a file. Tokens are never printed."""
    if from_json is not None:
        return _import_json(from_json)
    settings = load_settings(realm_id=realm)
    if settings.refresh_token is None or settings.realm_id is None:
        raise click.UsageError("set QBO_REFRESH_TOKEN and QBO_REALM_ID (or --realm) first")
    token_store(settings).import_token(
        settings.realm_id, settings.environment, settings.refresh_token, force=True
    )
    click.echo(f"refresh token stored for realm {settings.realm_id}")
    return EXIT_OK


def _import_json(path: Path) -> int:
    settings = load_settings()
    tokens = read_token_map(path)
    redact.register([token.reveal() for token in tokens.values()])
    store = token_store(settings)
    stored = import_token_map(store, settings.environment, tokens)
    with connect(store.url, autocommit=True) as conn:
        ReauthMarks(settings.schema).clear(conn, tokens)
    click.echo(f"refresh tokens stored for {stored} companies")
    return EXIT_OK


@auth_group.command("status", short_help="Token expiries per realm, never a token.")
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
@number_option("--timeout", 300.0, click.FloatRange(min=1), "Seconds to wait for the redirect.")
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
