"""Batch, CDC, companyinfo, read by Id and the ProfitAndLoss report, over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from qbo_backfill.sandbox import Sandbox

if TYPE_CHECKING:
    from tests.sandbox.conftest import Api


def _since(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat(timespec="seconds")


# ---- batch ------------------------------------------------------------------------------
def test_batch_answers_each_query_by_bid(api: Api) -> None:
    items = [
        {"bId": "a", "Query": "SELECT COUNT(*) FROM Invoice"},
        {"bId": "b", "Query": "SELECT * FROM Customer ORDERBY Id MAXRESULTS 2"},
        {"bId": "c", "Query": "SELECT * FROM Nope"},
        {"bId": "d", "Query": "SELECT * FROM RecurringTransaction"},
    ]
    response = api.http.post(
        api.base + "/batch", json={"BatchItemRequest": items}, headers=api.headers()
    )
    assert response.status_code == 200
    answers = response.json()["BatchItemResponse"]
    assert [a["bId"] for a in answers] == ["a", "b", "c", "d"]
    assert answers[0]["QueryResponse"] == {"totalCount": 1200}
    assert [c["Id"] for c in answers[1]["QueryResponse"]["Customer"]] == ["1", "2"]
    assert answers[2]["Fault"]["type"] == "ValidationFault"
    assert answers[2]["Fault"]["Error"][0]["code"] == "4001"
    assert answers[3]["QueryResponse"] == {}


def test_batch_over_30_items_is_rejected(api: Api) -> None:
    items = [{"bId": str(n), "Query": "SELECT COUNT(*) FROM Item"} for n in range(31)]
    response = api.http.post(
        api.base + "/batch", json={"BatchItemRequest": items}, headers=api.headers()
    )
    assert response.status_code == 400
    assert "30" in response.json()["Fault"]["Error"][0]["Detail"]
    thirty = api.http.post(
        api.base + "/batch", json={"BatchItemRequest": items[:30]}, headers=api.headers()
    )
    assert len(thirty.json()["BatchItemResponse"]) == 30


# ---- CDC ----------------------------------------------------------------------------------
def test_cdc_returns_changes_and_tombstones(own_api: Api) -> None:
    api, sb = own_api, own_api.sb
    since = _since(minutes=5)
    nothing = api.get("/cdc", entities="Invoice", changedSince=since).json()
    assert nothing["CDCResponse"][0]["QueryResponse"] == [{}]
    nine = next(r for r in sb.records("Invoice") if r["Id"] == "9")
    stock = {r["Id"] for r in sb.records("Item") if r["Type"] == "Inventory"}
    sold = {
        line["SalesItemLineDetail"]["ItemRef"]["value"]
        for line in nine["Line"]
        if "SalesItemLineDetail" in line
    }
    created = sb.create("Invoice", {"TotalAmt": 10.0, "CustomerRef": {"value": "1"}})
    updated = sb.update("Invoice", 7, {"PrivateNote": "edited"})
    sb.delete("Invoice", 9)
    sb.update("Customer", 2, {"Active": False})
    body = api.get("/cdc", entities="Invoice,Customer,Item", changedSince=since).json()
    groups = body["CDCResponse"][0]["QueryResponse"]
    invoices = {r["Id"]: r for r in groups[0]["Invoice"]}
    assert set(invoices) == {created["Id"], "7", "9"}
    assert invoices["7"] == updated
    assert invoices["9"]["status"] == "Deleted"
    assert set(invoices["9"]) == {"Id", "status", "domain", "MetaData"}
    assert groups[0]["maxResults"] == 3
    # Customer 2 was edited; customer 1 and invoice 9's customer had their balances moved,
    # and the items invoice 9 took from stock their quantities: QBO updates them too.
    customers = {c["Id"]: c for c in groups[1]["Customer"]}
    assert set(customers) == {"1", "2", nine["CustomerRef"]["value"]}
    assert customers["2"]["Active"] is False
    assert {i["Id"] for i in groups[2].get("Item", [])} == sold & stock
    # Query results never show the deleted invoice.
    assert api.count("SELECT COUNT(*) FROM Invoice WHERE Id = '9'") == 0


def test_cdc_look_back_is_30_days(api: Api) -> None:
    too_old = api.get("/cdc", entities="Invoice", changedSince=_since(days=31))
    assert too_old.status_code == 400
    assert too_old.json()["Fault"]["type"] == "ValidationFault"
    assert api.get("/cdc", entities="Invoice", changedSince=_since(days=29)).status_code == 200


def test_cdc_rejects_unknown_and_unsupported_entities(api: Api) -> None:
    for entities in ("Nope", "TaxCode", "TimeActivity", ""):
        response = api.get("/cdc", entities=entities, changedSince=_since(days=1))
        assert response.status_code == 400, entities


def test_cdc_caps_at_1000_objects_oldest_first(
    make_recent_sandbox: Callable[..., Sandbox], make_api: Callable[..., Api]
) -> None:
    sb = make_recent_sandbox(invoices=1500)
    api = make_api(sb)
    body = api.get("/cdc", entities="Invoice", changedSince=_since(days=20)).json()
    rows = body["CDCResponse"][0]["QueryResponse"][0]["Invoice"]
    assert len(rows) == 1000
    stamps = [datetime.fromisoformat(r["MetaData"]["LastUpdatedTime"]) for r in rows]
    assert stamps == sorted(stamps)


# ---- companyinfo, read, reports --------------------------------------------------------
def test_companyinfo(api: Api) -> None:
    realm = api.realm
    body = api.get(f"/companyinfo/{realm}", minorversion=75).json()
    info = body["CompanyInfo"]
    assert info["Id"] == "1"
    assert info["CompanyName"]
    assert info["Country"] == "US"
    assert api.get("/companyinfo/123").status_code == 400
    assert api.rows("SELECT * FROM CompanyInfo") == [info]


def test_read_one_record_by_id(api: Api) -> None:
    body = api.get("/invoice/5").json()
    assert body["Invoice"] == api.rows("SELECT * FROM Invoice WHERE Id = '5'")[0]
    missing = api.get("/invoice/999999")
    assert missing.status_code == 400
    assert missing.json()["Fault"]["Error"][0]["code"] == "610"


def test_profit_and_loss_by_days_adds_up_to_its_total(api: Api) -> None:
    start, end = date(2025, 3, 1), date(2025, 3, 10)
    dates = {"start_date": start.isoformat(), "end_date": end.isoformat()}
    body = api.get(
        "/reports/ProfitAndLoss", summarize_column_by="Days", accounting_method="Accrual", **dates
    ).json()
    assert body["Header"]["ReportName"] == "ProfitAndLoss"
    assert body["Header"]["SummarizeColumnsBy"] == "Days"
    columns = body["Columns"]["Column"]
    assert len(columns) == 10 + 2
    assert columns[1]["MetaData"][0] == {"Name": "StartDate", "Value": "2025-03-01"}
    assert columns[-1]["ColTitle"] == "Total"
    income = body["Rows"]["Row"][0]
    assert income["group"] == "Income"
    for row in income["Rows"]["Row"]:
        cells = row["ColData"]
        assert len(cells) == len(columns)
        days = sum(Decimal(c["value"] or "0") for c in cells[1:-1])
        assert days == Decimal(cells[-1]["value"])
    net = body["Rows"]["Row"][-1]
    assert net["group"] == "NetIncome"
    total = api.get("/reports/ProfitAndLoss", accounting_method="Accrual", **dates).json()
    assert net["Summary"]["ColData"][-1] == total["Rows"]["Row"][-1]["Summary"]["ColData"][-1]


def test_profit_and_loss_total_only_and_bad_dates(api: Api) -> None:
    body = api.get("/reports/ProfitAndLoss", start_date="2025-01-01", end_date="2025-12-31").json()
    assert [c["ColTitle"] for c in body["Columns"]["Column"]] == ["", "Total"]
    bad = api.get("/reports/ProfitAndLoss", start_date="2025-13-01")
    assert bad.status_code == 400
    assert bad.json()["Fault"]["Error"][0]["code"] == "4001"
    other = api.get("/reports/Nope")
    assert other.status_code == 400
