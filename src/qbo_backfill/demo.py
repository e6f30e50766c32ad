"""The offline demo: the embedded PostgreSQL and the local sandbox, nothing else."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from rich.console import Console

from qbo_backfill import db
from qbo_backfill.engine import BackfillOptions, BackfillResult, backfill
from qbo_backfill.entities import resolve_entity
from qbo_backfill.progress import LineProgress
from qbo_backfill.sandbox import Sandbox, SandboxConfig
from qbo_backfill.settings import Secret, Settings
from qbo_backfill.tokens import TokenCipher, TokenStore
from qbo_backfill.windows import ExtractWindow

DEMO_ENTITIES = ("Customer", "Item", "Invoice")
DEMO_WINDOW = ExtractWindow(date(2025, 1, 1), date(2026, 1, 1))


def run_demo(
    *, invoices: int, console: Console, home: Path | None = None
) -> tuple[BackfillResult, Settings]:
    """Backfill the demo entities from a fresh local sandbox into the embedded database.

    Every demo run re-extracts everything (`force`), so a second run shows the upsert's
    idempotence: no row inserted, none updated, every row unchanged.
    """
    base = Settings.load()
    with Sandbox(SandboxConfig(invoices=invoices)) as sandbox:
        info = sandbox.info
        settings = Settings.load(
            {
                "client_id": info.client_id,
                "client_secret": info.client_secret,
                "realm_id": info.realm_id,
                "api_base_url": info.base_url,
                "token_url": info.token_url,
                "authorize_url": info.authorize_url,
                "home": str(home or base.home),
            }
        )
        console.print(
            f"[dim]local sandbox at {info.base_url}; database: {db.describe(settings)}[/dim]",
            highlight=False,
        )
        # A new sandbox knows only its own refresh token: store it over any older one.
        store = TokenStore(
            db.database_url(settings), settings.schema, TokenCipher.from_settings(settings)
        )
        store.import_token(info.realm_id, "sandbox", Secret(info.refresh_token), force=True)
        options = BackfillOptions(
            entities=tuple(resolve_entity(name) for name in DEMO_ENTITIES),
            window=DEMO_WINDOW,
            chunk_days=7,
            page_size=1000,
            force=True,
        )
        return backfill(settings, options, LineProgress()), settings
