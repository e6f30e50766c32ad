"""A million invoices in one realm: a sanity bound on memory and page time.

The limits here are ten times looser than the targets (memory well under 2 GB, a
1000-row page well under 100 ms): they catch a design that materialises every record,
not a slow machine. docs/sandbox.md has the measured figures.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from qbo_backfill.sandbox import Sandbox, SandboxConfig

STATUS = Path("/proc/self/status")


def _rss_mb() -> float:
    for line in STATUS.read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS line")


@pytest.mark.skipif(not STATUS.exists(), reason="reads resident memory from /proc")
def test_one_million_invoices_fit_and_page_fast() -> None:
    before = _rss_mb()
    config = SandboxConfig(
        invoices=1_000_000, rate_limit_per_min=0, rate_limit_per_sec=0, max_in_flight=0
    )
    with Sandbox(config) as sb, httpx.Client(timeout=60) as http:
        info = sb.info
        token = http.post(
            info.token_url,
            auth=(info.client_id, info.client_secret),
            data={"grant_type": "refresh_token", "refresh_token": info.refresh_token},
        ).json()["access_token"]
        url = f"{info.base_url}/v3/company/{info.realm_id}/query"
        headers = {"Authorization": f"Bearer {token}"}

        def query(text: str) -> tuple[float, dict]:  # type: ignore[type-arg]
            started = time.perf_counter()
            response = http.get(url, params={"query": text}, headers=headers)
            elapsed = time.perf_counter() - started
            assert response.status_code == 200, response.text[:300]
            return elapsed, response.json()

        _, count = query("SELECT COUNT(*) FROM Invoice")
        assert count["QueryResponse"]["totalCount"] == 1_000_000
        middle = "SELECT * FROM Invoice ORDERBY Id STARTPOSITION 500001 MAXRESULTS 1000"
        timings = []
        for _ in range(3):
            elapsed, page = query(middle)
            timings.append(elapsed)
        rows = page["QueryResponse"]["Invoice"]
        assert [r["Id"] for r in (rows[0], rows[-1])] == ["500001", "501000"]
        window = (
            "SELECT * FROM Invoice WHERE TxnDate >= '2025-03-01' AND TxnDate < '2025-03-08' "
            "ORDERBY MetaData.CreateTime STARTPOSITION 1 MAXRESULTS 1000"
        )
        first_window, _ = query(window)
        grown = _rss_mb() - before
    assert min(timings) < 1.0, timings
    assert first_window < 2.0, first_window
    assert grown < 1024, f"resident memory grew by {grown:.0f} MB"
