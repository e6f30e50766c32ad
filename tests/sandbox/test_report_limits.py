"""Report answers as QBO limits them (cut at the cell cap, 504 when too dense) and replayed
payloads, over HTTP; the cut itself as a pure function too."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from tests.sandbox.conftest import Api

from qbo_backfill.sandbox import Sandbox
from qbo_backfill.sandbox.reports.limits import (
    TRUNCATION_NOTICE,
    cap_cells,
    count_data_rows,
    count_lines,
)
from qbo_backfill.sandbox.reports.registry import REPORTS

TEN_DAYS = {
    "start_date": "2025-03-01",
    "end_date": "2025-03-10",
    "summarize_column_by": "Days",
    "accounting_method": "Accrual",
}


def _cells(label: str, width: int) -> list[dict[str, str]]:
    return [{"value": label}, *({"value": "1.00"} for _ in range(width - 1))]


def _report(width: int) -> dict[str, Any]:
    """Two sections of three data rows each, and a computed line: 11 lines."""

    def section(group: str) -> dict[str, Any]:
        rows = [{"ColData": _cells(f"{group} {n}", width), "type": "Data"} for n in range(3)]
        return {
            "Header": {"ColData": _cells(group, width)},
            "Rows": {"Row": rows},
            "Summary": {"ColData": _cells(f"Total {group}", width)},
            "type": "Section",
            "group": group,
        }

    computed = {"Summary": {"ColData": _cells("Net", width)}, "type": "Section", "group": "Net"}
    columns = [{"ColTitle": str(n), "ColType": "Money"} for n in range(width)]
    rows = [section("Income"), section("Expenses"), computed]
    return {"Header": {}, "Columns": {"Column": columns}, "Rows": {"Row": rows}}


def test_counts_of_lines_and_data_rows() -> None:
    rows = _report(3)["Rows"]["Row"]
    assert count_lines(rows) == 11
    assert count_data_rows(rows) == 6


def test_a_report_under_the_cap_is_untouched() -> None:
    report = _report(3)
    before = copy.deepcopy(report)
    assert not cap_cells(report, 33)
    assert report == before


@pytest.mark.parametrize(
    ("cap", "lines_kept"),
    [(32, 9), (30, 9), (29, 8), (20, 5), (15, 4), (6, 1), (3, 0), (1, 0)],
)
def test_the_cut_keeps_lines_in_reading_order_and_ends_with_the_notice(
    cap: int, lines_kept: int
) -> None:
    width = 3
    whole = _report(width)
    report = copy.deepcopy(whole)
    assert cap_cells(report, cap)
    rows = report["Rows"]["Row"]
    last = rows[-1]
    assert last == {
        "ColData": [{"value": TRUNCATION_NOTICE}, {"value": ""}, {"value": ""}],
        "type": "Data",
    }
    assert count_lines(rows) == lines_kept + 1
    assert count_lines(rows) * width <= max(cap, width)
    # What is kept is the start of the whole report, line for line.
    assert _labels(rows[:-1]) == _labels(whole["Rows"]["Row"])[:lines_kept]


def test_a_section_cut_inside_has_no_summary() -> None:
    report = _report(3)
    cap_cells(report, 15)  # 4 lines: Income's header, its 3 rows; then the notice
    income = report["Rows"]["Row"][0]
    assert "Summary" not in income
    assert len(income["Rows"]["Row"]) == 3
    assert list(income) == ["Header", "Rows", "type", "group"]


def _labels(rows: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for row in rows:
        if "ColData" in row:
            out.append(row["ColData"][0]["value"])
            continue
        if "Header" in row:
            out.append(row["Header"]["ColData"][0]["value"])
        out += _labels(row.get("Rows", {}).get("Row", []))
        if "Summary" in row:
            out.append(row["Summary"]["ColData"][0]["value"])
    return out


# ---- over HTTP ------------------------------------------------------------------------
def test_a_report_past_the_cell_cap_is_cut_with_http_200(
    make_sandbox: Callable[..., Sandbox], make_api: Callable[..., Api]
) -> None:
    whole = make_api(make_sandbox()).get("/reports/ProfitAndLoss", **TEN_DAYS).json()
    width = len(whole["Columns"]["Column"])
    api = make_api(make_sandbox(report_cell_cap=5 * width))
    response = api.get("/reports/ProfitAndLoss", **TEN_DAYS)
    assert response.status_code == 200
    body = response.json()
    rows = body["Rows"]["Row"]
    assert rows[-1]["ColData"][0]["value"] == TRUNCATION_NOTICE
    assert count_lines(rows) == 5
    assert _labels(rows[:-1]) == _labels(whole["Rows"]["Row"])[:4]
    assert body["Header"]["ReportName"] == "ProfitAndLoss"


def test_a_report_denser_than_the_limit_answers_504(
    make_sandbox: Callable[..., Sandbox],
    make_api: Callable[..., Api],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A report of six data rows (the sandbox runs in this process, on its own thread).
    monkeypatch.setitem(REPORTS, "SixRows", lambda _books, _params, _today: _report(3))
    sb = make_sandbox(report_dense_rows=5)
    api = make_api(sb)
    dense = api.get("/reports/SixRows")
    assert dense.status_code == 504
    error = dense.json()["Fault"]["Error"][0]
    assert error["code"] == "6002"
    assert error["Message"] == "message=GatewayTimeout; errorCode=006002; statusCode=504"
    assert dense.json()["Fault"]["type"] == "SERVICE"
    # At the limit it is served.
    roomy = make_api(make_sandbox(report_dense_rows=6)).get("/reports/SixRows")
    assert roomy.status_code == 200
    assert count_data_rows(roomy.json()["Rows"]["Row"]) == 6
    assert sb.counters()["realms"][sb.info.realm_id]["requests"]["reports"] == 1


def test_bad_limits_are_refused(make_sandbox: Callable[..., Sandbox]) -> None:
    with pytest.raises(ValueError, match="report_cell_cap"):
        make_sandbox(report_cell_cap=0)
    with pytest.raises(ValueError, match="report_dense_rows"):
        make_sandbox(report_dense_rows=-1)


def test_a_replayed_report_is_served_verbatim_until_cleared(own_api: Api) -> None:
    sb = own_api.sb
    computed = own_api.get("/reports/ProfitAndLoss", **TEN_DAYS).json()
    captured = b'{"Header": {"ReportName": "ProfitAndLoss", "Time": "2016-03-14T09:47:29-07:00"},\n "Rows": {"Row": []}, "Columns": {"Column": []}}'  # noqa: E501
    sb.replay_report("ProfitAndLoss", captured)
    for params in (TEN_DAYS, {"accounting_method": "Cash"}, {"start_date": "bad"}):
        response = own_api.get("/reports/ProfitAndLoss", **params)
        assert response.status_code == 200
        assert response.content == captured
        assert response.headers["content-type"].startswith("application/json")
    # Only that report of that realm: others are still computed.
    assert own_api.get("/reports/Nope").status_code == 400
    sb.clear_report("ProfitAndLoss")
    again = own_api.get("/reports/ProfitAndLoss", **TEN_DAYS).json()
    assert again["Rows"] == computed["Rows"]
    with pytest.raises(ValueError, match="no replayed ProfitAndLoss"):
        sb.clear_report("ProfitAndLoss")
    counters = sb.counters()["realms"][sb.info.realm_id]["requests"]
    assert counters["reports"] == 6


def test_replay_of_a_dict_and_of_any_report_name(own_api: Api) -> None:
    payload = {"Header": {"ReportName": "TaxSummary"}, "Rows": {}, "Columns": {"Column": []}}
    own_api.sb.replay_report("TaxSummary", payload)
    assert orjson.loads(own_api.get("/reports/TaxSummary").content) == payload


def test_replay_admin_errors(own_api: Api, http: Any) -> None:
    base = own_api.sb.info.base_url + "/_sandbox/realms"
    realm = own_api.realm
    assert http.put(f"{base}/123/reports/ProfitAndLoss", content=b"{}").status_code == 404
    assert http.put(f"{base}/{realm}/reports/ProfitAndLoss", content=b"[1]").status_code == 400
    assert http.put(f"{base}/{realm}/reports/ProfitAndLoss", content=b"{").status_code == 400
    assert http.put(f"{base}/{realm}/reports/Profit-Loss", content=b"{}").status_code == 400
    assert http.delete(f"{base}/{realm}/reports/ProfitAndLoss").status_code == 404
    ok = http.put(f"{base}/{realm}/reports/ProfitAndLoss", content=b"{}")
    assert ok.status_code == 200
    assert http.delete(f"{base}/{realm}/reports/ProfitAndLoss").json()["cleared"] is True
