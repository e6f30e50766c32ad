"""A rewriting HTTP proxy for tests: forwards every request (OAuth and API) to an upstream
server and lets a test rewrite the JSON of query answers on the way back.

It serves on 127.0.0.1 from a background thread with its own event loop, so a client under
test talks real HTTP to it exactly as it would to the API.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web

# A rewrite gets the query text and the parsed answer; it returns the bytes to send instead,
# or None to pass the answer through unchanged.
Rewrite = Callable[[str, dict[str, Any]], bytes | None]

_HOP_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "content-encoding",
        "host",
        "upgrade",
    }
)


class RewritingProxy:
    """`base_url` forwards to `upstream`; `rewrite` (changeable at any time) edits answers."""

    def __init__(self, upstream: str, rewrite: Rewrite | None = None) -> None:
        self.upstream = upstream.rstrip("/")
        self.rewrite = rewrite
        self.requests = 0
        self.rewritten = 0
        self.base_url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    def start(self) -> RewritingProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> RewritingProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def _start(self) -> None:
        self._session = aiohttp.ClientSession(auto_decompress=True)
        app = web.Application(client_max_size=1 << 30)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        self.requests += 1
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        async with self._session.request(
            request.method,
            self.upstream + request.path_qs,
            data=body,
            headers=headers,
            allow_redirects=False,
        ) as answer:
            content = await answer.read()
            status = answer.status
            out_headers = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_HEADERS}
        rewrite = self.rewrite
        if rewrite is not None and status == 200 and request.path.endswith("/query"):
            text = body.decode() if body else request.query.get("query", "")
            changed = rewrite(text, json.loads(content))
            if changed is not None:
                content = changed
                self.rewritten += 1
        return web.Response(status=status, body=content, headers=out_headers)


def page_rewrite(entity: str, mutate: Callable[[list[Any]], list[Any]]) -> Rewrite:
    """A rewrite of the record lists of `entity`'s query pages (counts pass through).

    `mutate` gets the page's records and returns the list to send; a value that is a
    `Raw` is sent as its JSON text verbatim (for nesting deeper than an encoder allows)."""

    def rewrite(text: str, body: dict[str, Any]) -> bytes | None:
        answer = body.get("QueryResponse")
        if not isinstance(answer, dict) or not isinstance(answer.get(entity), list):
            return None
        answer[entity] = mutate(answer[entity])
        return dumps(body)

    return rewrite


class Raw:
    """JSON text spliced verbatim into an answer by `dumps`."""

    def __init__(self, text: str) -> None:
        self.text = text


def dumps(body: Any) -> bytes:
    """`body` as JSON; every `Raw` inside it replaced by its text."""
    raws: dict[str, str] = {}

    def default(value: Any) -> Any:
        if isinstance(value, Raw):
            marker = f"__raw_{len(raws)}__"
            raws[marker] = value.text
            return marker
        raise TypeError(f"not JSON: {type(value).__name__}")

    text = json.dumps(body, default=default, ensure_ascii=False, separators=(",", ":"))
    for marker, raw in raws.items():
        text = text.replace(json.dumps(marker), raw, 1)
    return text.encode()


def nested_text(depth: int, leaf: str = '"bottom"') -> str:
    """JSON text of an object nested `depth` levels deep: {"d":{"d":...leaf...}}."""
    return '{"d":' * depth + leaf + "}" * depth


def nested_value(depth: int, leaf: Any = "bottom") -> Any:
    """The Python value `nested_text(depth)` parses to."""
    value = leaf
    for _ in range(depth):
        value = {"d": value}
    return value
