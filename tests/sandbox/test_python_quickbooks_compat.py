"""PyPI's python-quickbooks with intuit-oauth, unchanged but for base URLs, against the sandbox.

The peers live in their own environment (`make peers` creates `.venv-peers`); the test runs
tests/sandbox/peers/python_quickbooks_client.py there as a subprocess and compares what the
library got with what the sandbox holds.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from qbo_backfill.sandbox import Sandbox, SandboxConfig

ROOT = Path(__file__).resolve().parents[2]
PEER_PYTHON = ROOT / ".venv-peers" / "bin" / "python"
SCRIPT = Path(__file__).resolve().parent / "peers" / "python_quickbooks_client.py"

pytestmark = pytest.mark.skipif(
    not PEER_PYTHON.exists(),
    reason="needs .venv-peers with python-quickbooks and intuit-oauth (run `make peers`)",
)


def _contains(outer: Any, inner: Any, path: str = "") -> list[str]:
    """Where `inner` is not reproduced inside `outer` (the library adds default fields)."""
    if isinstance(inner, dict):
        if not isinstance(outer, dict):
            return [f"{path}: not an object"]
        return [
            problem
            for key, value in inner.items()
            for problem in (
                _contains(outer[key], value, f"{path}.{key}")
                if key in outer
                else [f"{path}.{key}: missing"]
            )
        ]
    if isinstance(inner, list):
        if not isinstance(outer, list) or len(outer) != len(inner):
            return [f"{path}: list differs"]
        return [
            p
            for n, (o, i) in enumerate(zip(outer, inner, strict=True))
            for p in _contains(o, i, f"{path}[{n}]")
        ]
    return [] if outer == inner else [f"{path}: {outer!r} != {inner!r}"]


def test_python_quickbooks_reads_every_invoice_the_sandbox_holds() -> None:
    config = SandboxConfig(customers=30, items=10, invoices=250, rate_limit_per_sec=0)
    with Sandbox(config) as sb:
        created = sb.create("Invoice", {"TotalAmt": 7.5, "CustomerRef": {"value": "1"}})
        sb.update("Invoice", 10, {"PrivateNote": "changed while running"})
        sb.delete("Invoice", 11)
        info = sb.info
        settings = {
            "client_id": info.client_id,
            "client_secret": info.client_secret,
            "discovery_url": info.discovery_url,
            "base_url": info.base_url,
            "realm_id": info.realm_id,
            "refresh_token": info.refresh_token,
        }
        result = subprocess.run(
            [
                str(PEER_PYTHON),
                "-W",
                "error::DeprecationWarning",
                str(SCRIPT),
                json.dumps(settings),
            ],
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
            # requests-oauthlib refuses plain http unless told so; the sandbox is http on loopback.
            env={**os.environ, "OAUTHLIB_INSECURE_TRANSPORT": "1"},
        )
        assert result.returncode == 0, result.stderr[-3000:]
        got = json.loads(result.stdout)
        expected = sb.records("Invoice")
        counters = sb.counters()

    assert got["authorized_realm"] == info.realm_id
    assert got["refresh_token"] != info.refresh_token  # rotated, and the library kept it
    oauth_version = tuple(int(part) for part in got["versions"]["intuit-oauth"].split(".")[:3])
    if oauth_version >= (1, 2, 7):  # the first intuit-oauth to read the hard expiry
        assert got["hard_expires_in"] > 0
    assert got["count"] == len(expected) == 250
    assert [inv["Id"] for inv in got["invoices"]] == [rec["Id"] for rec in expected]
    for library_view, record in zip(got["invoices"], expected, strict=True):
        problems = _contains(library_view, record)
        assert not problems, (record["Id"], problems[:5])
    assert got["company_name"].startswith("Sandbox Company")
    cdc_ids = {obj["Id"] for obj in got["cdc"]}
    assert cdc_ids == {created["Id"], "10", "11"}
    assert got["report_columns"] == 31 + 2
    assert counters["oauth"] == {
        "refresh": 1,
        "authorization_code": 1,
        "invalid_grant": 0,
        "invalid_client": 0,
    }
    requests = counters["realms"][info.realm_id]["requests"]
    assert requests["count"] == 1
    assert requests["query"] == 3  # 250 rows in pages of 100
