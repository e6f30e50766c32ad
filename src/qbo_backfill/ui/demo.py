"""The offline demo: the embedded PostgreSQL and the local sandbox, nothing else."""

from __future__ import annotations

from datetime import date

from rich.console import Console

from qbo_backfill.entities import resolve_entity
from qbo_backfill.load import db
from qbo_backfill.run.engine import BackfillOptions, BackfillResult, backfill
from qbo_backfill.run.observer import RunObserver
from qbo_backfill.run.session import token_store
from qbo_backfill.sandbox import Sandbox, SandboxConfig
from qbo_backfill.settings import Secret, Settings
from qbo_backfill.ui.progress import LineProgress
from qbo_backfill.windows import ExtractWindow

DEMO_ENTITIES = ("Customer", "Item", "Invoice")
DEMO_WINDOW = ExtractWindow(date(2025, 1, 1), date(2026, 1, 1))


def run_demo(
    *,
    invoices: int,
    console: Console,
    rate_limit_per_min: int = 500,
    observer: RunObserver | None = None,
) -> tuple[BackfillResult, Settings]:
    """Backfill the demo entities from a fresh local sandbox into the embedded database
    (or QBO_DATABASE_URL when set).

    The sandbox enforces `rate_limit_per_min` as Intuit does (500 by default) and our
    limiter paces just under it. Every demo run re-extracts everything (`force`), so a
    second run shows the upsert's idempotence: nothing inserted, nothing updated.
    """
    config = SandboxConfig(invoices=invoices, rate_limit_per_min=rate_limit_per_min)
    with Sandbox(config) as sandbox:
        settings = _demo_settings(sandbox, rate_limit_per_min)
        console.print(
            f"[dim]local sandbox at {settings.api_base_url}; "
            f"database: {db.describe(settings)}[/dim]",
            highlight=False,
        )
        # A new sandbox knows only its own refresh token: store it over any older one.
        store = token_store(settings)
        store.import_token(
            sandbox.info.realm_id, "sandbox", Secret(sandbox.info.refresh_token), force=True
        )
        options = BackfillOptions(
            entities=tuple(resolve_entity(name) for name in DEMO_ENTITIES),
            window=DEMO_WINDOW,
            chunk_days=7,
            page_size=1000,
            force=True,
        )
        return backfill(settings, options, observer or LineProgress()), settings


def pace_under(rate_limit_per_min: int, per_second: int = 10) -> int:
    """Requests per minute just under both of the sandbox's limits (per minute, per second),
    so the demo never provokes a 429."""
    return max(1, min(rate_limit_per_min * 98 // 100, per_second * 60 * 9 // 10))


def _demo_settings(sandbox: Sandbox, rate_limit_per_min: int) -> Settings:
    info = sandbox.info
    return Settings.load(
        {
            "client_id": info.client_id,
            "client_secret": info.client_secret,
            "realm_id": info.realm_id,
            "refresh_token": info.refresh_token,
            "environment": "sandbox",
            "api_base_url": info.base_url,
            "token_url": info.token_url,
            "authorize_url": info.authorize_url,
            "requests_per_minute": pace_under(rate_limit_per_min),
        }
    )
