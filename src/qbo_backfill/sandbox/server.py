"""The sandbox's HTTP application: QBO's API, Intuit's OAuth, and the `/_sandbox/` admin API."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from qbo_backfill.sandbox import clock
from qbo_backfill.sandbox.admin import add_admin_routes
from qbo_backfill.sandbox.api_http import ApiHandlers
from qbo_backfill.sandbox.oauth_http import OAuthHandlers
from qbo_backfill.sandbox.state import SandboxState

__all__ = ["SandboxState", "build_app"]


def _on_sandbox_clock(state: SandboxState) -> Middleware:
    """Serve each request on the state's clock, so every `time` in an answer follows it."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        token = clock.serving(state.clock)
        try:
            return await handler(request)
        finally:
            clock.done_serving(token)

    return middleware


def build_app(state: SandboxState) -> web.Application:
    """The aiohttp application over a state."""
    oauth = OAuthHandlers(state)
    api = ApiHandlers(state)
    app = web.Application(client_max_size=16 * 1024 * 1024, middlewares=[_on_sandbox_clock(state)])
    discovery = (
        "/.well-known/openid_configuration",
        "/.well-known/openid_configuration/",
        "/.well-known/openid_sandbox_configuration",
        "/.well-known/openid_sandbox_configuration/",
    )
    for path in discovery:
        app.router.add_get(path, oauth.discovery)
    app.router.add_post("/oauth2/v1/tokens/bearer", oauth.token)
    app.router.add_get("/connect/oauth2", oauth.authorize)
    app.router.add_post("/v2/oauth2/tokens/revoke", oauth.revoke)
    app.router.add_get("/v1/openid_connect/userinfo", oauth.userinfo)
    app.router.add_get("/op/v1/jwks", oauth.jwks)
    company = "/v3/company/{realm}"
    app.router.add_get(company + "/query", api.query)
    app.router.add_post(company + "/query", api.query)
    app.router.add_post(company + "/batch", api.batch)
    app.router.add_get(company + "/cdc", api.cdc)
    app.router.add_get(company + "/companyinfo/{id}", api.companyinfo)
    app.router.add_get(company + "/reports/{report}", api.report)
    app.router.add_get(company + "/{entity}/{id}", api.read)
    add_admin_routes(app, state)
    sender = state.webhooks
    if sender is not None:

        async def close_sender(_app: web.Application) -> None:
            await sender.close()

        app.on_cleanup.append(close_sender)
    return app
