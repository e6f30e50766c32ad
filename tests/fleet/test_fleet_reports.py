"""`fleet backfill --reports`: a reports job per company copies the default reports; every
`fleet sync` job then asks again for the open months of each company's copied reports.
The month's budget counts their calls as the sandbox counts them."""

from __future__ import annotations

from typing import Any

import pytest
from psycopg import sql
from tests.fleet.helpers import Fleet, stop_all

from qbo_backfill.qbo.reports import DEFAULT_REPORTS

pytestmark = [pytest.mark.db, pytest.mark.repeats_at_scale]


@pytest.fixture(scope="module")
def sandbox_config() -> dict[str, Any]:
    return {"realms": 3, "invoices": 90, "customers": 20, "items": 8}


def _runs(fleet: Fleet) -> list[tuple[Any, ...]]:
    table = sql.Identifier(fleet.schema, "qbo_backfill_report_runs")
    return fleet.fetch(
        sql.SQL(
            "SELECT realm_id, command, report_name, status, calls FROM {} ORDER BY 1, 2, 3"
        ).format(table)
    )


def _drain(fleet: Fleet, name: str) -> None:
    worker = fleet.start_worker(name)
    try:
        fleet.wait_idle(180, f"the {name} jobs to finish")
    finally:
        assert stop_all([worker]) == [0], worker.log()[-2000:]


def test_fleet_copies_and_keeps_up_every_companys_reports(fleet: Fleet) -> None:
    realms = sorted(fleet.sandbox.info.realm_ids)
    first = fleet.enqueue("backfill", "Customer", "--reports")
    assert "6 plan and reports jobs enqueued" in first.stdout
    again = fleet.cli("fleet", "backfill", "Customer", "--reports")
    assert "0 plan and reports jobs enqueued, 6 already waiting" in again.stdout
    fleet.sandbox.reset_counters()
    _drain(fleet, "backfill")
    assert fleet.status()["jobs"]["failed"] == 0
    copied = _runs(fleet)
    assert {(r[0], r[2]) for r in copied} == {
        (realm, n) for realm in realms for n in DEFAULT_REPORTS
    }
    assert {(r[1], r[3]) for r in copied} == {("reports", "done")}
    assert fleet.status()["api_calls"] == fleet.api_calls()

    fleet.enqueue("sync")
    _drain(fleet, "sync")
    assert fleet.status()["jobs"]["failed"] == 0
    refreshed = [r for r in _runs(fleet) if r[1] == "sync"]
    # Each company's eight reports: two open months each, aging already stored today.
    assert {r[0] for r in refreshed} == set(realms)
    assert all(r[3] == "done" for r in refreshed)
    assert {(r[2], r[4]) for r in refreshed} == {
        *((n, 2) for n in DEFAULT_REPORTS if not n.startswith("Aged")),
        ("AgedReceivables", 0),
        ("AgedPayables", 0),
    }
