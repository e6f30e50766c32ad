"""Throttling per realm, latency injection, and each fault kind, with the counters."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import httpx
import pytest

from qbo_backfill.sandbox import FaultSpec, Sandbox

if TYPE_CHECKING:
    from tests.sandbox.conftest import Api


COUNT = "SELECT COUNT(*) FROM Customer"
THROTTLE_ERROR = {
    "Message": "message=ThrottleExceeded; errorCode=003001; statusCode=429",
    "Detail": "The request limit was reached.  Try again later",
    "code": "3001",
}


def _statuses(api: Api, n: int) -> list[int]:
    return [api.query(COUNT).status_code for _ in range(n)]


def _realm_counters(sb: Sandbox, realm: str | None = None) -> dict:  # type: ignore[type-arg]
    realm = realm or sb.info.realm_id
    return sb.counters(realm)["realms"][realm]  # type: ignore[no-any-return]


# ---- limits -------------------------------------------------------------------------------
def test_per_minute_limit_answers_exact_throttle_fault(
    make_sandbox: Callable[..., Sandbox], make_api: Callable[..., Api]
) -> None:
    sb = make_sandbox(rate_limit_per_min=5)
    api = make_api(sb)
    assert _statuses(api, 5) == [200] * 5
    response = api.query(COUNT)
    assert response.status_code == 429
    body = response.json()
    assert body["Fault"] == {"Error": [THROTTLE_ERROR], "type": "SERVICE"}
    assert "time" in body
    assert "Retry-After" not in response.headers
    assert response.headers["intuit_tid"]
    counters = _realm_counters(sb)
    assert counters["throttled"] == 1
    assert counters["requests"]["count"] == 6


def test_per_second_limit_recovers_next_second(
    make_sandbox: Callable[..., Sandbox], make_api: Callable[..., Api]
) -> None:
    sb = make_sandbox(rate_limit_per_sec=3)
    api = make_api(sb)
    assert _statuses(api, 4) == [200, 200, 200, 429]
    time.sleep(1.05)
    assert api.query(COUNT).status_code == 200


def test_batch_limit_per_minute(
    make_sandbox: Callable[..., Sandbox], make_api: Callable[..., Api]
) -> None:
    sb = make_sandbox(batch_limit_per_min=2)
    api = make_api(sb)
    payload = {"BatchItemRequest": [{"bId": "1", "Query": COUNT}]}
    codes = [
        api.http.post(api.base + "/batch", json=payload, headers=api.headers()).status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429]
    assert api.query(COUNT).status_code == 200  # plain queries are not batch calls
    assert _realm_counters(sb)["requests"]["batch"] == 3


def test_in_flight_limit_rejects_at_once_and_counts_peaks(
    make_sandbox: Callable[..., Sandbox], make_api: Callable[..., Api]
) -> None:
    sb = make_sandbox(max_in_flight=2, latency_ms=1000)
    api = make_api(sb)
    with ThreadPoolExecutor(max_workers=5) as pool:
        started = time.monotonic()
        results = list(
            pool.map(lambda _: (api.query(COUNT).status_code, time.monotonic()), range(5))
        )
    codes = sorted(code for code, _ in results)
    assert codes == [200, 200, 429, 429, 429]
    rejected_after = [t - started for code, t in results if code == 429]
    assert max(rejected_after) < 0.9  # rejected on arrival, not after the latency
    counters = _realm_counters(sb)
    assert counters["max_in_flight_seen"] == 2
    assert counters["max_in_flight_arrivals"] >= 3
    assert counters["throttled"] == 3


def test_limits_are_per_realm_and_can_be_off(
    make_sandbox: Callable[..., Sandbox], make_api: Callable[..., Api]
) -> None:
    sb = make_sandbox(realms=2, rate_limit_per_min=3)
    first, second = (make_api(sb, realm) for realm in sb.info.realm_ids)
    assert _statuses(first, 4)[-1] == 429
    assert _statuses(second, 3) == [200] * 3
    unlimited = make_sandbox()
    assert set(_statuses(make_api(unlimited), 40)) == {200}


def test_latency_injection(
    make_sandbox: Callable[..., Sandbox], make_api: Callable[..., Api]
) -> None:
    sb = make_sandbox(latency_ms=150, latency_jitter_ms=20)
    api = make_api(sb)
    started = time.monotonic()
    for _ in range(3):
        assert api.query(COUNT).status_code == 200
    assert time.monotonic() - started >= 3 * 0.13


def test_reset_zeroes_counters_and_windows(
    make_sandbox: Callable[..., Sandbox], make_api: Callable[..., Api]
) -> None:
    sb = make_sandbox(rate_limit_per_min=2)
    api = make_api(sb)
    assert _statuses(api, 3)[-1] == 429
    sb.reset_counters()
    counters = sb.counters()
    assert counters["oauth"]["refresh"] == 0
    assert _realm_counters(sb)["requests"]["count"] == 0
    assert api.query(COUNT).status_code == 200


# ---- fault spec ----------------------------------------------------------------------------
def test_fault_spec_parsing() -> None:
    spec = FaultSpec.parse("500=0.1, 429=0.2,burst=5,slow_seconds=0.5,seed=9")
    assert spec.rates == {"500": 0.1, "429": 0.2}
    assert (spec.burst, spec.slow_seconds, spec.seed) == (5, 0.5, 9)
    assert spec.retry_after is None
    assert FaultSpec.parse("retry_after=30").retry_after == 30
    assert FaultSpec.parse("").rates == {}


@pytest.mark.parametrize(
    "bad", ["500", "500=2", "oops=0.1", "500=x", "500=0.6,503=0.6", "burst=-1", "burst=1.5"]
)
def test_bad_fault_specs_raise_one_line(bad: str) -> None:
    with pytest.raises(ValueError, match="fault spec") as info:
        FaultSpec.parse(bad)
    assert "\n" not in str(info.value)


def test_set_faults_rejects_bad_spec(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox()
    with pytest.raises(ValueError, match="unknown kind"):
        sb.set_faults("explode=1")


def test_faults_are_deterministic_for_a_seed(
    make_sandbox: Callable[..., Sandbox], make_api: Callable[..., Api]
) -> None:
    spec = "500=0.2,503=0.2,fault200=0.2,seed=11"

    def run(faults: str) -> list[int]:
        sb = make_sandbox(faults=faults)
        api = make_api(sb)
        return [api.query(COUNT).status_code for _ in range(30)]

    first, second = run(spec), run(spec)
    assert first == second
    assert {500, 503, 200} <= set(first)
    assert run(spec.replace("seed=11", "seed=12")) != first


# ---- each fault kind ----------------------------------------------------------------------
Faulted = Callable[[str], "Api"]


@pytest.fixture
def faulted(make_sandbox: Callable[..., Sandbox], make_api: Callable[..., Api]) -> Faulted:
    """A client of a new sandbox whose data requests meet the fault spec given."""

    def make(spec: str) -> Api:
        sb = make_sandbox()
        api = make_api(sb)  # the token is fetched before faults apply (they never hit OAuth)
        sb.set_faults(spec)
        return api

    return make


def test_fault_500_and_503(faulted: Faulted) -> None:
    api = faulted("500=1")
    response = api.query(COUNT)
    assert response.status_code == 500
    assert response.json()["Fault"]["type"] == "SystemFault"
    api.sb.set_faults("503=1")
    unavailable = api.query(COUNT)
    assert unavailable.status_code == 503
    assert unavailable.headers["content-type"].startswith("text/html")
    assert unavailable.headers["intuit_tid"]
    assert _realm_counters(api.sb)["faults"] == {"500": 1, "503": 1}


def test_fault_429_burst(faulted: Faulted) -> None:
    api = faulted("429=1,burst=2")
    first = api.query(COUNT)
    assert first.status_code == 429
    assert first.json()["Fault"]["Error"][0] == THROTTLE_ERROR
    api.sb.set_faults("")
    assert _statuses(api, 3) == [429, 429, 200]  # the burst outlives the spec change
    assert _realm_counters(api.sb)["faults"]["429"] == 3


def test_retry_after_header_on_request(
    make_sandbox: Callable[..., Sandbox], make_api: Callable[..., Api]
) -> None:
    sb = make_sandbox(rate_limit_per_min=1, faults="retry_after=60")
    api = make_api(sb)
    assert _statuses(api, 2) == [200, 429]
    assert api.query(COUNT).headers["Retry-After"] == "60"
    sb.set_faults("xml429=1,retry_after=2.5")
    assert api.query(COUNT).headers["Retry-After"] == "2.5"


def test_fault_xml429(faulted: Faulted) -> None:
    api = faulted("xml429=1")
    response = api.query(COUNT)
    assert response.status_code == 429
    assert response.headers["content-type"].startswith("application/xml")
    assert '<Error code="3001">' in response.text
    assert response.headers["intuit_tid"]
    assert "ThrottleExceeded" in response.text


def test_fault_inside_http_200(faulted: Faulted) -> None:
    api = faulted("fault200=1")
    response = api.query(COUNT)
    assert response.status_code == 200
    assert "Fault" in response.json()
    assert "QueryResponse" not in response.json()


def test_fault_401_with_a_valid_token(faulted: Faulted) -> None:
    api = faulted("401=1")
    response = api.query(COUNT)
    assert response.status_code == 401
    assert response.json()["fault"]["error"][0]["code"] == "3200"
    api.sb.set_faults("")
    assert api.query(COUNT).status_code == 200  # the same token still works


def test_fault_slow(faulted: Faulted) -> None:
    api = faulted("slow=1,slow_seconds=0.6")
    with pytest.raises(httpx.ReadTimeout):
        api.http.get(
            api.base + "/query", params={"query": COUNT}, headers=api.headers(), timeout=0.2
        )
    started = time.monotonic()
    assert api.query(COUNT).status_code == 200
    assert time.monotonic() - started >= 0.55


def test_fault_reset(faulted: Faulted) -> None:
    api = faulted("reset=1")
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        api.query(COUNT)
    api.sb.set_faults("")
    assert api.query(COUNT).status_code == 200  # the server lives on
    assert _realm_counters(api.sb)["faults"] == {"reset": 1}


def test_fault_truncated_both_ways(faulted: Faulted) -> None:
    api = faulted("truncated=1")
    cut_body = cut_connection = 0
    for _ in range(12):
        try:
            response = api.query("SELECT * FROM Invoice MAXRESULTS 20")
        except httpx.RemoteProtocolError:
            cut_connection += 1
            continue
        assert response.status_code == 200
        assert int(response.headers["content-length"]) == len(response.content)
        with pytest.raises(ValueError, match=r"."):
            response.json()
        cut_body += 1
    assert cut_body > 0
    assert cut_connection > 0


def test_faults_never_touch_oauth_or_admin(
    make_sandbox: Callable[..., Sandbox], http: httpx.Client
) -> None:
    sb = make_sandbox(faults="500=1")
    info = sb.info
    token = http.post(
        info.token_url,
        auth=(info.client_id, info.client_secret),
        data={"grant_type": "refresh_token", "refresh_token": info.refresh_token},
    )
    assert token.status_code == 200
    assert http.get(info.discovery_url).status_code == 200
    assert sb.records("Customer")
    assert sb.counters()["oauth"]["refresh"] == 1
