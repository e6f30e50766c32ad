"""`webhooks serve`: Intuit's change notifications in, fleet syncs out (docs/webhooks.md).
aiohttp loads only when this command runs."""

from __future__ import annotations

import asyncio
import json
import signal

import click

from qbo_backfill.errors import EXIT_OK, ConfigError
from qbo_backfill.ui.cli.shared import configure_logging, load_settings

__all__ = ["webhooks_group"]


@click.group("webhooks", short_help="Receive Intuit's webhooks: changes become syncs in seconds.")
def webhooks_group() -> None:
    """Receive Intuit's change notifications and turn them into fleet syncs."""


@webhooks_group.command("serve", short_help="Serve POST /webhooks and GET /healthz.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port",
    default=8911,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port; 0 picks a free one (printed).",
)
@click.option(
    "--coalesce-seconds",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0, 60),
    help="A company's sync starts this long after its first event; later ones join it.",
)
def webhooks_serve(host: str, port: int, coalesce_seconds: float) -> int:
    """Receive Intuit's POSTs at /webhooks until SIGTERM: signatures checked with
    QBO_WEBHOOK_VERIFIER_TOKEN, each event recorded once, one sync per company enqueued.
    Prints one JSON line with its URLs once listening."""
    from qbo_backfill.webhooks.receiver import serve

    settings = load_settings()
    configure_logging()

    def ready(base: str) -> None:
        line = {"url": base, "webhooks": f"{base}/webhooks", "healthz": f"{base}/healthz"}
        click.echo(json.dumps(line), nl=True)

    async def main() -> None:
        task = asyncio.create_task(serve(settings, host, port, coalesce_seconds, ready))
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            if not task.cancelled():
                raise

    try:
        asyncio.run(main())
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return EXIT_OK
