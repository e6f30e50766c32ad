"""What `backfill` and `sync` do for the typed views: install them into the default views
schema (every company), so the views follow the copy with no step of their own (the Mage
pipelines get them with no new block). Every view is installed, not only those of the
entities copied, so dbt finds every table it reads after any backfill; a view whose
definition did not change is left alone (no lock), so this costs a catalog read.

The views serve the copy, not the other way round: a view that cannot be made now (a lock
held too long by a reader, a dependent view of the user's) is logged, never a failed run."""

from __future__ import annotations

import logging

import psycopg

from qbo_backfill.views.install import install_views, installed_realm

log = logging.getLogger(__name__)
# How long to wait for a lock on a view that must change (a reader holding it).
LOCK_TIMEOUT = "5s"


async def keep_views(url: str, raw_schema: str, views_schema: str) -> None:
    """Install the views over `raw_schema` (for the one company the schema was made for,
    when it was made with `--realm`); log, never raise, on failure."""
    try:
        async with await psycopg.AsyncConnection.connect(url) as conn:
            await conn.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
            realm = await installed_realm(conn, views_schema)  # made with --realm: kept so
            installed = await install_views(conn, raw_schema, views_schema, realm=realm)
    except psycopg.Error as exc:
        log.warning(
            "typed views in %s not updated (%s); run `qbo-backfill views`",
            views_schema,
            str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
        )
        return
    changed = len(installed.views) - len(installed.unchanged)
    if changed:
        log.info("typed views: %d made or replaced in %s", changed, views_schema)
