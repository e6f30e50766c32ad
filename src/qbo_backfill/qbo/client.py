"""The async QBO API client: one query at a time through the limiter, classified errors,
retries bounded in attempts and time, the `intuit_tid` of every failure kept."""

from __future__ import annotations

import gc
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from tenacity import AsyncRetrying, RetryCallState

from qbo_backfill.auth.tokens import TokenProvider
from qbo_backfill.errors import (
    AccessTokenRejected,
    ApiError,
    ForbiddenError,
    QueryRejected,
    ReportTooDense,
    ThrottledError,
    TransientApiError,
)
from qbo_backfill.figures import RequestFigures
from qbo_backfill.qbo.minutes import RequestMinutes
from qbo_backfill.qbo.ratelimit import Limiter
from qbo_backfill.qbo.retry import RetryPolicy
from qbo_backfill.settings import Settings

log = logging.getLogger(__name__)

MINOR_VERSION = "75"
# Intuit: at most 30 queries in one batch call, and 40 batch calls per minute per realm.
BATCH_MAX_ITEMS = 30
BATCH_CALLS_PER_MINUTE = 39


@dataclass
class ClientStats:
    """What the client spent: every HTTP request counts against Intuit's metering."""

    requests: int = 0
    throttled: int = 0
    retries: int = 0
    failures_by_kind: dict[str, int] = field(default_factory=dict)

    def note_failure(self, error: ApiError) -> None:
        """Count a failed request that will be retried."""
        self.retries += 1
        kind = type(error).__name__
        self.failures_by_kind[kind] = self.failures_by_kind.get(kind, 0) + 1
        if isinstance(error, ThrottledError):
            self.throttled += 1

    def spent(self) -> RequestFigures:
        """The figures a chunk records of its requests."""
        return RequestFigures(self.requests, self.throttled, self.retries)


RetryListener = Callable[[ApiError, float], None]


class QboClient:
    """Queries one realm's data through the shared limiter and token provider."""

    def __init__(
        self,
        settings: Settings,
        realm_id: str,
        tokens: TokenProvider,
        limiter: Limiter,
        http: httpx.AsyncClient,
    ) -> None:
        self.settings = settings
        self.tokens = tokens
        self.limiter = limiter
        self.http = http
        self.url = f"{settings.api_base_url}/v3/company/{realm_id}/query"
        self.batch_url = f"{settings.api_base_url}/v3/company/{realm_id}/batch"
        self.retry = RetryPolicy.from_settings(settings)
        self.stats = ClientStats()
        self.minutes = RequestMinutes()
        self.retry_listeners: list[RetryListener] = []

    async def query(self, text: str, stats: ClientStats | None = None) -> dict[str, Any]:
        """The `QueryResponse` object of a query, after retries; raises ApiError.

        `stats`, when given, also counts this query's requests (e.g. a chunk's own figures).
        """
        return await self._retrying(lambda: self._query_once(text, stats), stats)

    async def page(self, text: str, entity: str, stats: ClientStats | None = None) -> list[Any]:
        """The records of one page of `entity` (an empty page has no entity key)."""
        return await self._retrying(lambda: self._page_once(text, entity, stats), stats)

    async def count(self, text: str, stats: ClientStats | None = None) -> int:
        """`totalCount` of a `SELECT COUNT(*)` query."""
        response = await self.query(text, stats)
        return int(response.get("totalCount", 0))

    async def count_many(self, texts: Sequence[str], stats: ClientStats | None = None) -> list[int]:
        """`totalCount` of up to 30 `SELECT COUNT(*)` queries, in one batch call."""
        if not 1 <= len(texts) <= BATCH_MAX_ITEMS:
            raise ValueError(f"a batch holds 1 to {BATCH_MAX_ITEMS} queries, not {len(texts)}")
        items = [{"bId": str(number), "Query": text} for number, text in enumerate(texts)]
        answers = await self._retrying(lambda: self._batch_once(items, stats), stats)
        return [int(answer.get("totalCount", 0)) for answer in answers]

    async def query_many(
        self, texts: Sequence[str], stats: ClientStats | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """The `QueryResponse` of up to 30 queries of any kind in one batch call, and the
        answer's `time` (the server's clock)."""
        if not 1 <= len(texts) <= BATCH_MAX_ITEMS:
            raise ValueError(f"a batch holds 1 to {BATCH_MAX_ITEMS} queries, not {len(texts)}")
        items = [{"bId": str(number), "Query": text} for number, text in enumerate(texts)]
        return await self._retrying(lambda: self._batch_once(items, stats, timed=True), stats)

    async def get(
        self, path: str, params: dict[str, str], key: str, stats: ClientStats | None = None
    ) -> dict[str, Any]:
        """The whole answer (with its `time`) of a GET on the realm's `path` (e.g. `cdc`),
        after retries; the answer must hold `key`."""
        url = f"{self.url.removesuffix('/query')}/{path}"

        async def once() -> dict[str, Any]:
            response = await self._send(url, None, "", stats, params)
            return parse_answer_body(response, key)

        return await self._retrying(once, stats)

    async def get_report(
        self, name: str, params: dict[str, str], stats: ClientStats | None = None
    ) -> dict[str, Any]:
        """A report's answer (`reports/{name}`), after retries; a 504 is raised at once as
        `ReportTooDense`, since only a shorter period can succeed."""
        url = f"{self.url.removesuffix('/query')}/reports/{name}"

        async def once() -> dict[str, Any]:
            response = await self._send(url, None, "", stats, params)
            if response.status_code == 504:
                raise ReportTooDense(
                    f"report {name} too dense for one request",
                    status=504,
                    code="6002" if b"6002" in response.content else None,
                    intuit_tid=response.headers.get("intuit_tid"),
                )
            return parse_answer_body(response, "Header")

        return await self._retrying(once, stats)

    async def _retrying(self, call: Callable[[], Awaitable[Any]], stats: ClientStats | None) -> Any:
        retrying = AsyncRetrying(
            **self.retry.tenacity_arguments(lambda state: self._note_retry(state, stats))
        )
        async for attempt in retrying:
            with attempt:
                return await call()
        raise AssertionError("unreachable: tenacity reraises the last error")

    def _note_retry(self, state: RetryCallState, stats: ClientStats | None) -> None:
        error = state.outcome.exception() if state.outcome else None
        if not isinstance(error, ApiError):
            return
        wait = state.next_action.sleep if state.next_action else 0.0
        for counter in (self.stats, stats) if stats is not None else (self.stats,):
            counter.note_failure(error)
        if isinstance(error, ThrottledError):
            self.limiter.pause(wait)
        log.warning("retrying in %.1fs after %s", wait, error)
        for listener in self.retry_listeners:
            listener(error, wait)

    async def _query_once(self, text: str, stats: ClientStats | None) -> dict[str, Any]:
        response = await self._send(self.url, text.encode(), "application/text", stats)
        return parse_query_response(response)

    async def _page_once(self, text: str, entity: str, stats: ClientStats | None) -> list[Any]:
        records = (await self._query_once(text, stats)).get(entity) or []
        if not isinstance(records, list):
            # Not a page of records at all: like a truncated answer, worth asking again.
            raise TransientApiError(f"the answer's {entity} is not a list")
        return records

    async def _batch_once(
        self, items: list[dict[str, str]], stats: ClientStats | None, timed: bool = False
    ) -> Any:
        content = orjson.dumps({"BatchItemRequest": items})
        response = await self._send(self.batch_url, content, "application/json", stats, batch=True)
        body = parse_answer_body(response, "BatchItemResponse")
        answers = _batch_items(response, body, [item["bId"] for item in items])
        when = body.get("time")
        return (answers, when if isinstance(when, str) else None) if timed else answers

    async def _send(
        self,
        url: str,
        content: bytes | None,
        content_type: str,
        stats: ClientStats | None,
        params: dict[str, str] | None = None,
        *,
        batch: bool = False,
    ) -> httpx.Response:
        token = await self.tokens.access_token()
        async with self.limiter.slot(batch=batch):
            self.stats.requests += 1
            self.minutes.note()
            if stats is not None:
                stats.requests += 1
            response = await self._post(url, content, content_type, token, params)
        if response.status_code == 401:
            await self.tokens.reject(token)
            raise AccessTokenRejected(
                "access token refused", status=401, intuit_tid=response.headers.get("intuit_tid")
            )
        return response

    async def _post(
        self,
        url: str,
        content: bytes | None,
        content_type: str,
        token: str,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        """POST `content`; or, when there is none, GET with `params` (CDC)."""
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        if content is not None:
            headers["Content-Type"] = content_type
        try:
            return await self.http.request(
                "POST" if content is not None else "GET",
                url,
                params=(params or {}) | {"minorversion": MINOR_VERSION},
                content=content,
                headers=headers,
                timeout=self.settings.request_timeout_seconds,
            )
        except httpx.TimeoutException:
            raise TransientApiError("request timed out") from None
        except httpx.TransportError as exc:
            raise TransientApiError(f"connection failed ({type(exc).__name__})") from None


def parse_query_response(response: httpx.Response) -> dict[str, Any]:
    """Classify an answer: a `QueryResponse`, or the ApiError that says what to do next."""
    return _parse_answer(response, "QueryResponse") or {}


def _batch_items(
    response: httpx.Response, body: dict[str, Any], ids: Sequence[str]
) -> list[dict[str, Any]]:
    tid = response.headers.get("intuit_tid")
    items = body["BatchItemResponse"]
    by_id = {str(item.get("bId")): item for item in items if isinstance(item, dict)}
    answers = []
    for bid in ids:
        item = by_id.get(bid)
        if item is None:
            raise TransientApiError(f"batch answer lacks item {bid}", intuit_tid=tid)
        fault = item.get("Fault") or item.get("fault")
        if fault or "QueryResponse" not in item:
            raise _fault_error(response.status_code, fault or {}, tid, None)
        answers.append(item["QueryResponse"] or {})
    return answers


def parse_answer_body(response: httpx.Response, key: str) -> dict[str, Any]:
    """The whole answer (its `time` included) when it holds `key`; else the ApiError."""
    tid = response.headers.get("intuit_tid")
    status = response.status_code
    body, unreadable = _decode(response.content)
    if body is None:
        if _looks_throttled(response.content) or status == 429:
            raise ThrottledError(
                "throttled (XML body)",
                status=status,
                intuit_tid=tid,
                retry_after=_retry_after(response),
            )
        raise TransientApiError(
            f"unreadable or truncated response body ({unreadable})",
            status=status,
            intuit_tid=tid,
        )
    fault = body.get("Fault") or body.get("fault")
    if status == 200 and not fault and key in body:
        return body
    raise _fault_error(status, fault or {}, tid, _retry_after(response))


def _parse_answer(response: httpx.Response, key: str) -> Any:
    return parse_answer_body(response, key)[key]


def _fault_error(
    status: int, fault: dict[str, Any], tid: str | None, retry_after: float | None
) -> ApiError:
    errors = fault.get("Error") or fault.get("error") or [{}]
    first = errors[0] if isinstance(errors, list) and errors else {}
    code = str(first.get("code", "")) or None
    message = str(first.get("Message") or first.get("message") or "no message")
    detail = str(first.get("Detail") or first.get("detail") or "")
    kind = str(fault.get("type", ""))
    text = f"QBO {kind or 'error'}: {message}" + (f" ({detail})" if detail else "")
    if status == 429 or code == "3001" or "ThrottleExceeded" in message:
        return ThrottledError(
            text, status=status, code=code, intuit_tid=tid, retry_after=retry_after
        )
    if status == 401 or code == "3200":
        return AccessTokenRejected(text, status=status, code=code, intuit_tid=tid)
    if status >= 500 or (status == 200 and kind.lower() in ("service", "systemfault", "")):
        return TransientApiError(text, status=status, code=code, intuit_tid=tid)
    if status == 403:
        return ForbiddenError(text, status=status, code=code, intuit_tid=tid)
    return QueryRejected(text, status=status, code=code, intuit_tid=tid)


def _decode(content: bytes) -> tuple[dict[str, Any] | None, str]:
    """The body as a JSON object, or None and why not (the parser's reason, e.g. a page nested
    past its 1,024 levels or cut short)."""
    # A page builds a thousand records of plain, acyclic dicts: the cyclic collector, set
    # off again and again while they are built, finds nothing and doubles the parse time.
    collecting = gc.isenabled()
    gc.disable()
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        return None, str(exc)
    finally:
        if collecting:
            gc.enable()
    return (body, "") if isinstance(body, dict) else (None, "not a JSON object")


def _looks_throttled(content: bytes) -> bool:
    return b"ThrottleExceeded" in content or b"3001" in content


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
