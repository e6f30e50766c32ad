"""The `/_sandbox/` admin API (not part of QBO): change records, tokens, faults; read counters."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from qbo_backfill.sandbox import clock
from qbo_backfill.sandbox.catalog import CATALOG
from qbo_backfill.sandbox.company import Company, NotVoidableError
from qbo_backfill.sandbox.faults import FaultSpec
from qbo_backfill.sandbox.store import RecordNotFoundError

if TYPE_CHECKING:
    from qbo_backfill.sandbox.state import SandboxState

__all__ = ["add_admin_routes"]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class _AdminError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def _json_object(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise _AdminError(400, "body is not valid JSON") from None
    if not isinstance(value, dict):
        raise _AdminError(400, "body must be a JSON object")
    return value


@contextmanager
def _record_errors(entity: str, record_id: int, missing: str = "no") -> Iterator[None]:
    """What a change to one record can meet, as answers: unknown 404, not voidable 400."""
    try:
        yield
    except RecordNotFoundError:
        raise _AdminError(404, f"{missing} {entity} with Id {record_id}") from None
    except NotVoidableError:
        raise _AdminError(400, f"{entity} cannot be voided (transactions only)") from None


def _flag(request: web.Request, name: str) -> bool:
    """A boolean query parameter: `true`/`1`/`yes` (any case) is set."""
    return request.query.get(name, "").lower() in ("true", "1", "yes")


class _Admin:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def _company(self, request: web.Request) -> tuple[Company, str]:
        realm = request.match_info["realm"]
        company = self.state.companies.get(realm)
        if company is None:
            raise _AdminError(404, f"unknown realm {realm}")
        entity = request.match_info["entity"]
        if entity not in CATALOG:
            raise _AdminError(404, f"unknown entity {entity} (names are case-sensitive)")
        return company, entity

    def _record(self, request: web.Request) -> tuple[Company, str, int]:
        company, entity = self._company(request)
        return company, entity, self._id(request)

    @staticmethod
    def _id(request: web.Request) -> int:
        raw = request.match_info["id"]
        if not raw.isdigit():
            raise _AdminError(404, f"record ids are digits, got {raw!r}")
        return int(raw)

    def _report_key(self, request: web.Request) -> tuple[str, str]:
        realm = request.match_info["realm"]
        if realm not in self.state.companies:
            raise _AdminError(404, f"unknown realm {realm}")
        name = request.match_info["report"]
        if not name.isascii() or not name.isalnum():
            raise _AdminError(400, f"a report name is letters and digits, got {name!r}")
        return realm, name

    async def replay_report(self, request: web.Request) -> web.Response:
        """Serve the body, byte for byte, for every request of this report of this realm."""
        key = self._report_key(request)
        raw = await request.read()
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise _AdminError(400, "body is not valid JSON") from None
        if not isinstance(value, dict):
            raise _AdminError(400, "a report payload is a JSON object")
        self.state.report_replays[key] = bytes(raw)
        return web.json_response({"realm": key[0], "report": key[1], "bytes": len(raw)})

    async def clear_report(self, request: web.Request) -> web.Response:
        """Back to the computed report; 404 when none was being replayed."""
        key = self._report_key(request)
        if self.state.report_replays.pop(key, None) is None:
            raise _AdminError(404, f"no replayed {key[1]} report for realm {key[0]}")
        return web.json_response({"realm": key[0], "report": key[1], "cleared": True})

    async def counters(self, request: web.Request) -> web.Response:
        realm = request.query.get("realm")
        if realm is not None and realm not in self.state.limiters:
            raise _AdminError(404, f"unknown realm {realm}")
        return web.json_response(self.state.counters(realm))

    async def reset(self, _request: web.Request) -> web.Response:
        self.state.reset_counters()
        return web.json_response({"reset": True})

    async def records(self, request: web.Request) -> web.Response:
        company, entity = self._company(request)
        store = company.store(entity)
        body = orjson.dumps({"records": [store.get(i) for i in store.all_ids()]})
        return web.Response(body=body, content_type="application/json")

    async def create(self, request: web.Request) -> web.Response:
        company, entity = self._company(request)
        fields = await _json_object(request)
        return web.json_response(company.create(entity, fields, self.state.clock.now()), status=201)

    async def update(self, request: web.Request) -> web.Response:
        company, entity = self._company(request)
        patch = await _json_object(request)
        record_id = self._id(request)
        with _record_errors(entity, record_id):
            record = company.update(entity, record_id, patch, self.state.clock.now())
        return web.json_response(record)

    async def delete(self, request: web.Request) -> web.Response:
        company, entity, record_id = self._record(request)
        hard = _flag(request, "hard")
        with _record_errors(entity, record_id):
            record = company.delete(entity, record_id, self.state.clock.now(), hard=hard)
        answer: dict[str, Any] = {"deleted": str(record_id), "hard": record is None}
        if record is not None:
            answer["record"] = record
        return web.json_response(answer)

    async def void(self, request: web.Request) -> web.Response:
        company, entity, record_id = self._record(request)
        with _record_errors(entity, record_id):
            return web.json_response(company.void(entity, record_id, self.state.clock.now()))

    async def restore(self, request: web.Request) -> web.Response:
        company, entity, record_id = self._record(request)
        with _record_errors(entity, record_id, missing="no deleted"):
            return web.json_response(company.restore(entity, record_id, self.state.clock.now()))

    async def clock(self, request: web.Request) -> web.Response:
        sandbox_clock = self.state.clock
        if request.method == "POST":
            body = await _json_object(request)
            seconds = body.get("advance_seconds")
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
                raise _AdminError(400, "advance_seconds must be a number of seconds")
            try:
                sandbox_clock.advance(seconds)
            except ValueError as exc:
                raise _AdminError(400, str(exc)) from None
        now = sandbox_clock.now()
        return web.json_response(
            {
                "time": clock.format_local(int(now)),
                "epoch": now,
                "offset_seconds": sandbox_clock.offset,
            }
        )

    async def faults(self, request: web.Request) -> web.Response:
        body = await _json_object(request)
        spec = body.get("spec", "")
        if not isinstance(spec, str):
            raise _AdminError(400, "spec must be a string")
        try:
            self.state.faults = FaultSpec.parse(spec, default_seed=self.state.config.seed)
        except ValueError as exc:
            raise _AdminError(400, str(exc)) from None
        return web.json_response({"spec": spec})

    async def revoke(self, _request: web.Request) -> web.Response:
        self.state.auth.revoke_all()
        return web.json_response({"revoked": True})

    async def expire_access(self, _request: web.Request) -> web.Response:
        self.state.auth.expire_access_tokens(self.state.clock.now())
        return web.json_response({"expired": True})

    async def tokens(self, _request: web.Request) -> web.Response:
        current = {
            realm: self.state.auth.current_refresh_token(realm) for realm in self.state.companies
        }
        return web.json_response({"refresh_tokens": current})


@web.middleware
async def _admin_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
    except _AdminError as exc:
        return _error(exc.status, exc.message)
    return response


def add_admin_routes(app: web.Application, state: SandboxState) -> None:
    """Mount the admin API under `/_sandbox/`."""
    admin = _Admin(state)
    app.middlewares.append(_admin_errors)
    router = app.router
    router.add_get("/_sandbox/counters", admin.counters)
    router.add_post("/_sandbox/reset", admin.reset)
    # before the record routes: DELETE .../reports/{report} would match {entity}/{id}
    router.add_put("/_sandbox/realms/{realm}/reports/{report}", admin.replay_report)
    router.add_delete("/_sandbox/realms/{realm}/reports/{report}", admin.clear_report)
    router.add_get("/_sandbox/realms/{realm}/{entity}", admin.records)
    router.add_post("/_sandbox/realms/{realm}/{entity}", admin.create)
    router.add_post("/_sandbox/realms/{realm}/{entity}/{id}", admin.update)
    router.add_delete("/_sandbox/realms/{realm}/{entity}/{id}", admin.delete)
    router.add_post("/_sandbox/realms/{realm}/{entity}/{id}/void", admin.void)
    router.add_post("/_sandbox/realms/{realm}/{entity}/{id}/restore", admin.restore)
    router.add_get("/_sandbox/clock", admin.clock)
    router.add_post("/_sandbox/clock", admin.clock)
    router.add_post("/_sandbox/faults", admin.faults)
    router.add_post("/_sandbox/tokens/revoke", admin.revoke)
    router.add_post("/_sandbox/tokens/expire-access", admin.expire_access)
    router.add_get("/_sandbox/tokens", admin.tokens)
