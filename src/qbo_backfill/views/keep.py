"""What `backfill` and `sync` do for the typed views: install them into the default views
schema (every company), so the views follow the copy with no step of their own (the Mage
pipelines get them with no new block), and refresh the materialized ones after writing.

Every view is installed, not only those of the entities copied, so dbt finds every table it
reads after any backfill; a view whose definition did not change is left alone (no lock),
so this costs a catalog read. A schema made with `--realm` or `--materialized` keeps that
form. The views serve the copy, not the other way round: a view that cannot be made or
refreshed now (a lock held too long by a reader, a dependent view of the user's) is
logged, never a failed run."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import psycopg

from qbo_backfill.errors import ConfigError
from qbo_backfill.views import forms
from qbo_backfill.views.install import chosen, install_views

log = logging.getLogger(__name__)
# How long to wait for a lock on a view that must change (a reader holding it).
LOCK_TIMEOUT = "5s"


async def keep_views(url: str, raw_schema: str, views_schema: str) -> None:
    """Install the views over `raw_schema` in the form the schema has; log on failure."""
    try:
        async with await psycopg.AsyncConnection.connect(url) as conn:
            await conn.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
            form = forms.form_of(await forms.present(conn, views_schema))
            installed = await install_views(
                conn, raw_schema, views_schema, realm=form.realm, materialized=form.materialized
            )
    except (psycopg.Error, ConfigError) as exc:
        _warn(views_schema, "not updated", exc)
        return
    changed = len(installed.views) - len(installed.unchanged)
    if changed:
        log.info("typed views: %d made or replaced in %s", changed, views_schema)


async def refresh_views(url: str, views_schema: str, entities: Iterable[str]) -> None:
    """Refresh, concurrently, the materialized views that read `entities` (nothing to do
    for plain views, the default); log on failure."""
    names = [d.name for d in chosen(list(entities))]
    try:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            relations = await forms.present(conn, views_schema)
            done = await forms.refresh(conn, views_schema, names, relations)
    except psycopg.Error as exc:
        _warn(views_schema, "not refreshed", exc)
        return
    if done:
        log.info("typed views: %d materialized views refreshed in %s", len(done), views_schema)


def _warn(views_schema: str, what: str, exc: Exception) -> None:
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    log.warning("typed views in %s %s (%s); run `qbo-backfill views`", views_schema, what, first)
