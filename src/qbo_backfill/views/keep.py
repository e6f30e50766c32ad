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
from qbo_backfill.views.install import Installed, chosen, install_views

log = logging.getLogger(__name__)
_PLAIN = forms.Present("v", "")
# How long to wait for a lock on a view that must change (a reader holding it).
LOCK_TIMEOUT = "5s"


async def keep_views(
    url: str, raw_schema: str, views_schema: str, conn: psycopg.AsyncConnection | None = None
) -> Installed | None:
    """Install the views over `raw_schema` in the form the schema has; what was done, or
    None (logged) on failure.
    Given `conn` (a sync's own, outside any transaction of its), it is used and committed:
    a fleet sync then opens no connection for the views (a backend's start and its cold
    catalog cache were most of an unchanged company's database CPU)."""
    try:
        if conn is None:
            async with await psycopg.AsyncConnection.connect(url) as own:
                installed = await _install(own, raw_schema, views_schema)
        else:
            try:
                installed = await _install(conn, raw_schema, views_schema)
                await conn.commit()
            except BaseException:
                await conn.rollback()
                raise
    except (psycopg.Error, ConfigError) as exc:
        _warn(views_schema, "not updated", exc)
        return None
    changed = len(installed.views) - len(installed.unchanged)
    if changed:
        log.info("typed views: %d made or replaced in %s", changed, views_schema)
    return installed


async def _install(conn: psycopg.AsyncConnection, raw_schema: str, views_schema: str) -> Installed:
    # LOCAL: ends with the transaction, so a connection used again goes on unchanged.
    await conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
    form = forms.form_of(await forms.present(conn, views_schema))
    return await install_views(
        conn, raw_schema, views_schema, realm=form.realm, materialized=form.materialized
    )


async def refresh_views(
    url: str,
    views_schema: str,
    entities: Iterable[str],
    conn: psycopg.AsyncConnection | None = None,
) -> None:
    """Refresh, concurrently, the materialized views that read `entities` (nothing to do
    for plain views, the default); log on failure. Given `conn`, it is asked first whether
    any of them is materialized, so plain views cost no connection."""
    names = [d.name for d in chosen(list(entities))]
    if conn is not None:
        try:
            relations = await forms.present(conn, views_schema)
            await conn.commit()
        except psycopg.Error as exc:
            await conn.rollback()
            _warn(views_schema, "not refreshed", exc)
            return
        if not any(relations.get(name, _PLAIN).kind == "m" for name in names):
            return
    try:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as own:
            relations = await forms.present(own, views_schema)
            done = await forms.refresh(own, views_schema, names, relations)
    except psycopg.Error as exc:
        _warn(views_schema, "not refreshed", exc)
        return
    if done:
        log.info("typed views: %d materialized views refreshed in %s", len(done), views_schema)


def _warn(views_schema: str, what: str, exc: Exception) -> None:
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    log.warning("typed views in %s %s (%s); run `qbo-backfill views`", views_schema, what, first)
