"""`qbo-backfill webhooks serve`: Intuit's POSTs in, events recorded, syncs enqueued.

The request path is cheap on purpose: the signature (HMAC over the raw body), a parse,
and one SQL statement on an autocommit connection (`WebhookEvents.record`); never an API
call. Intuit wants 200 within 3 s and holds back later events behind a failed one, so the
only refusals are a bad signature (401) and a body over `MAX_BODY_BYTES` (413). A body it
cannot use is recorded with why and answered 200. A database that cannot record the
events answers 503: they were not kept, and Intuit's retry brings them again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
import psycopg_pool
from aiohttp import web
from psycopg import sql

from qbo_backfill.auth.tokens import TOKEN_TABLE
from qbo_backfill.errors import ConfigError
from qbo_backfill.fleet.app import ensure_job_schema
from qbo_backfill.load.cursors import SyncCursors
from qbo_backfill.load.db import database_url
from qbo_backfill.load.ledger import Ledger
from qbo_backfill.settings import Settings
from qbo_backfill.webhooks.events import read_notifications
from qbo_backfill.webhooks.record import WebhookEvents
from qbo_backfill.webhooks.signature import SIGNATURE_HEADER, signature_matches

__all__ = ["MAX_BODY_BYTES", "WebhookReceiver", "prepare_receiver", "receiver_app"]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 4 * 1024 * 1024  # Intuit sends up to about 1 MB; room for a larger batch
RECORD_TIMEOUT_SECONDS = 2.5  # inside Intuit's 3 s: past it, 503 and Intuit retries
POOL_SIZE = 6


class WebhookReceiver:
    """The two routes over a pool of connections to the destination database."""

    def __init__(
        self,
        schema: str,
        verifier_token: str,
        pool: psycopg_pool.AsyncConnectionPool,
        coalesce_seconds: float = 1.0,
    ) -> None:
        self.events = WebhookEvents(schema, coalesce_seconds)
        self._verifier = verifier_token
        self.pool = pool

    async def notifications(self, request: web.Request) -> web.Response:
        """POST /webhooks: verify, record, enqueue; 200 unless unsigned or too large."""
        if (request.content_length or 0) > MAX_BODY_BYTES:
            return _too_large()
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _too_large()
        if not signature_matches(body, request.headers.get(SIGNATURE_HEADER), self._verifier):
            log.warning("webhook POST refused: missing or bad %s", SIGNATURE_HEADER)
            return web.json_response({"error": "missing or bad intuit-signature"}, status=401)
        events = read_notifications(body)
        try:
            async with asyncio.timeout(RECORD_TIMEOUT_SECONDS):
                async with self.pool.connection() as conn:
                    delivery = await self.events.record(conn, events)
        except (TimeoutError, psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            log.error(  # noqa: TRY400 - one line for the operator, not a traceback per POST
                "webhook events not recorded (%s): answering 503", type(exc).__name__
            )
            return web.json_response({"error": "events not recorded; retry"}, status=503)
        return web.json_response(
            {
                "events": delivery.received,
                "new": delivery.new,
                "ignored": delivery.ignored,
                "syncs_queued": delivery.jobs_queued,
                "syncs_joined": delivery.jobs_joined,
            }
        )

    async def health(self, _request: web.Request) -> web.Response:
        """GET /healthz: 200 when the database answers, else 503."""
        try:
            async with asyncio.timeout(RECORD_TIMEOUT_SECONDS):
                async with self.pool.connection() as conn:
                    await conn.execute("SELECT 1")
        except (TimeoutError, psycopg.Error, psycopg_pool.PoolTimeout):
            return web.json_response({"ok": False, "database": "unreachable"}, status=503)
        return web.json_response({"ok": True})


def _too_large() -> web.Response:
    limit = f"{MAX_BODY_BYTES // (1024 * 1024)} MiB"
    return web.json_response({"error": f"body over {limit}"}, status=413)


def receiver_app(receiver: WebhookReceiver) -> web.Application:
    """The aiohttp application: `POST /webhooks`, `GET /healthz`."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.router.add_post("/webhooks", receiver.notifications)
    app.router.add_get("/healthz", receiver.health)
    return app


def verifier_token(settings: Settings) -> str:
    """The app's verifier token, or a ConfigError naming where it comes from."""
    if settings.webhook_verifier_token is None:
        raise ConfigError(
            "no webhook verifier token: set QBO_WEBHOOK_VERIFIER_TOKEN (or the secret "
            "qb_webhook_verifier_token) to the token shown in Intuit's developer portal"
        )
    return settings.webhook_verifier_token.reveal()


async def prepare_receiver(settings: Settings, url: str) -> None:
    """The queue's, the ledger's, the cursors' and the events' tables, each made once; the
    token store must exist (the companies served are the ones stored there)."""
    await asyncio.to_thread(ensure_job_schema, url, settings.schema)
    async with await psycopg.AsyncConnection.connect(url) as conn:
        await Ledger(settings.schema).create(conn)
        await SyncCursors(settings.schema).create(conn)
        await WebhookEvents(settings.schema).create(conn)
        await conn.commit()
        tokens = sql.Identifier(settings.schema, TOKEN_TABLE).as_string(conn)
        cursor = await conn.execute("SELECT to_regclass(%s)", (tokens,))
        row = await cursor.fetchone()
    if row is None or row[0] is None:
        raise ConfigError(
            "no companies in the token store: store their refresh tokens first with "
            "`qbo-backfill auth import --from-json FILE`"
        )


@asynccontextmanager
async def receiver_pool(url: str, schema: str) -> AsyncIterator[psycopg_pool.AsyncConnectionPool]:
    """Connections whose search path is the schema (procrastinate's triggers need it) and
    that plan each statement for the tables as they are: a plan PostgreSQL kept from when
    the events table was empty hashed every stored event on each POST until autovacuum
    analyzed the table (in the load test: 2.2 ms a POST on average as the table grew to
    24,000 events; planned afresh, 0.33 ms)."""

    async def configure(conn: psycopg.AsyncConnection[Any]) -> None:
        await conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        await conn.execute("SET plan_cache_mode = force_custom_plan")

    pool = psycopg_pool.AsyncConnectionPool(
        url,
        min_size=1,
        max_size=POOL_SIZE,
        configure=configure,
        open=False,
        kwargs={"connect_timeout": 10, "autocommit": True},
        timeout=RECORD_TIMEOUT_SECONDS,
    )
    await pool.open(wait=True, timeout=10)
    try:
        yield pool
    finally:
        await pool.close()


async def serve(
    settings: Settings, host: str, port: int, coalesce_seconds: float = 1.0, ready: Any = None
) -> None:
    """Serve until cancelled (SIGTERM/SIGINT in the command); `ready(url)` once listening."""
    token = verifier_token(settings)
    url = await asyncio.to_thread(database_url, settings)
    await prepare_receiver(settings, url)
    async with receiver_pool(url, settings.schema) as pool:
        runner = web.AppRunner(
            receiver_app(WebhookReceiver(settings.schema, token, pool, coalesce_seconds)),
            access_log=None,
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port, backlog=512)
            await site.start()
            bound = runner.addresses[0]
            if ready is not None:
                ready(f"http://{bound[0]}:{bound[1]}")
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()
