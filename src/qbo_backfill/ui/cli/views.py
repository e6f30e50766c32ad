"""`views`: create or replace the typed views (docs/typed-views.md) over the raw tables."""

from __future__ import annotations

import asyncio

import click
import psycopg

from qbo_backfill.errors import EXIT_OK, ConfigError
from qbo_backfill.load import db
from qbo_backfill.settings import Settings
from qbo_backfill.ui.cli.shared import console, load_settings
from qbo_backfill.views.install import Installed, install_views

__all__ = ["views_command"]


@click.command("views", short_help="Create the typed views (Fivetran's QuickBooks schema).")
@click.option(
    "--schema",
    "views_schema",
    help="Schema of the views; default QBO_VIEWS_SCHEMA, else quickbooks.",
)
@click.option(
    "--realm",
    help="Keep one company (realm) in the views, as dbt_quickbooks expects of a schema; "
    "default: every company, each row with its realm_id.",
)
@click.option(
    "--materialized",
    is_flag=True,
    help="Store each view (materialized, refreshed concurrently by backfill and sync) for "
    "faster queries; without it: plain views, always current.",
)
def views_command(views_schema: str | None, realm: str | None, materialized: bool) -> int:
    """Create or replace one view per entity and per repeated part of an entity (lines,
    linked transactions, addresses) over the raw tables of QBO_SCHEMA, named and typed like
    Fivetran's QuickBooks schema. Views of entities not copied yet are created empty."""
    if views_schema is not None and not views_schema.strip():
        raise ConfigError("--schema needs a schema name")
    settings = load_settings(views_schema=views_schema, realm_id=realm)
    installed = asyncio.run(_install(settings, settings.realm_id if realm else None, materialized))
    console.print(_summary(installed, settings.schema, realm), highlight=False)
    return EXIT_OK


async def _install(settings: Settings, realm: str | None, materialized: bool) -> Installed:
    async with await psycopg.AsyncConnection.connect(db.database_url(settings)) as conn:
        return await install_views(
            conn, settings.schema, settings.views_schema, realm=realm, materialized=materialized
        )


def _summary(installed: Installed, raw_schema: str, realm: str | None) -> str:
    who = f"company {realm}" if realm else "every company"
    kind = "materialized views" if installed.materialized else "views"
    text = (
        f"{len(installed.views)} {kind} in schema {installed.schema} ({who}), "
        f"created in {installed.seconds * 1000:.0f} ms"
    )
    missing = installed.over_missing_tables
    if len(missing) == len(installed.views):
        text += f"\nevery view is empty: no raw table in schema {raw_schema} yet (run backfill)"
    elif missing:
        text += f"\nempty until their entity is copied: {', '.join(missing)}"
    return text
