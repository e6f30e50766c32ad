"""What a sync must respect, over HTTP: the sandbox clock, CDC's rules, QBO's deletes of
list records, voids, hard deletes and restores."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from qbo_backfill.sandbox import Sandbox, clock

if TYPE_CHECKING:
    from tests.sandbox.conftest import Api

DAY = 86400


def _cdc(api: Api, entities: str, since: datetime) -> httpx.Response:
    return api.get("/cdc", entities=entities, changedSince=since.isoformat(timespec="seconds"))


def _groups(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    groups: list[dict[str, Any]] = response.json()["CDCResponse"][0]["QueryResponse"]
    return groups


def _stamp(record: dict[str, Any], field: str = "LastUpdatedTime") -> datetime:
    return datetime.fromisoformat(record["MetaData"][field])


# ---- the clock ----------------------------------------------------------------------------
def test_advancing_the_clock_moves_new_timestamps_and_answer_times(
    make_sandbox: Callable[..., Sandbox], make_api: Callable[..., Api]
) -> None:
    sb = make_sandbox()
    start = sb.now()
    assert abs((start - datetime.now(UTC)).total_seconds()) < 5
    moved = sb.advance_clock(10 * DAY)
    assert timedelta(days=10) <= moved - start < timedelta(days=10, seconds=5)
    created = sb.create("Bill", {"TotalAmt": 5.0})
    assert _stamp(created, "CreateTime") >= moved - timedelta(seconds=1)
    updated = sb.update("Vendor", 1, {"Active": False})
    assert _stamp(updated) >= moved - timedelta(seconds=1)
    answered = make_api(sb).query("SELECT COUNT(*) FROM Bill").json()["time"]
    assert datetime.fromisoformat(answered) >= moved - timedelta(seconds=1)
    days = {clock.ordinal_to_iso(clock.local_date_ordinal(moved.timestamp() + s)) for s in (0, 5)}
    assert created["TxnDate"] in days  # the sandbox's today (5 s of slack for midnight)


def test_the_clock_is_per_sandbox_and_only_moves_forward(
    make_sandbox: Callable[..., Sandbox], http: httpx.Client
) -> None:
    first, second = make_sandbox(), make_sandbox()
    first.advance_clock(3 * DAY)
    assert first.now() - second.now() > timedelta(days=2, hours=23)
    with pytest.raises(ValueError, match="only moves forward"):
        first.advance_clock(-1)
    bad = http.post(first.info.base_url + "/_sandbox/clock", json={"advance_seconds": "soon"})
    assert bad.status_code == 400
    answer = http.post(first.info.base_url + "/_sandbox/clock", json={"advance_seconds": 60})
    assert answer.json()["offset_seconds"] == pytest.approx(3 * DAY + 60)


def test_access_and_refresh_tokens_expire_by_the_sandbox_clock(
    make_sandbox: Callable[..., Sandbox],
    http: httpx.Client,
    refresh: Callable[..., httpx.Response],
) -> None:
    sb = make_sandbox(refresh_rotation="every", refresh_grace_seconds=86400)
    info = sb.info
    first = refresh(http, sb, info.refresh_token).json()
    url = f"{info.base_url}/v3/company/{info.realm_id}/query"
    headers = {"Authorization": f"Bearer {first['access_token']}"}
    params = {"query": "SELECT COUNT(*) FROM Vendor"}
    assert http.get(url, params=params, headers=headers).status_code == 200
    sb.advance_clock(3601)
    assert http.get(url, params=params, headers=headers).status_code == 401
    # The superseded first token works within its day of grace, then not.
    again = refresh(http, sb, info.refresh_token)
    assert again.status_code == 200
    sb.advance_clock(DAY + 1)
    assert refresh(http, sb, info.refresh_token).json()["error"] == "invalid_grant"
    assert refresh(http, sb, again.json()["refresh_token"]).status_code == 200


def test_an_unused_refresh_token_dies_after_its_rolling_lifetime(
    make_sandbox: Callable[..., Sandbox],
    http: httpx.Client,
    refresh: Callable[..., httpx.Response],
) -> None:
    sb = make_sandbox(refresh_rotation=1000)  # the token is never replaced
    token = sb.info.refresh_token
    assert refresh(http, sb, token).json()["x_refresh_token_expires_in"] > 100 * DAY
    sb.advance_clock(100 * DAY)
    assert 0 < refresh(http, sb, token).json()["x_refresh_token_expires_in"] < 2 * DAY
    sb.advance_clock(2 * DAY)
    assert refresh(http, sb, token).json()["error"] == "invalid_grant"


# ---- CDC ----------------------------------------------------------------------------------
def test_cdc_look_back_follows_the_clock(own_api: Api, make_api: Callable[..., Api]) -> None:
    api, sb = own_api, own_api.sb
    since = sb.now() - timedelta(days=1)
    assert _cdc(api, "Invoice", since).status_code == 200
    sb.advance_clock(30 * DAY)
    api = make_api(sb)  # the access token expired meanwhile
    too_old = _cdc(api, "Invoice", since)
    assert too_old.status_code == 400
    error = too_old.json()["Fault"]["Error"][0]
    assert "older than fixed days is not supported" in error["Detail"]
    assert _cdc(api, "Invoice", sb.now() - timedelta(days=29)).status_code == 200


@pytest.mark.parametrize(
    "entities",
    ["JournalCode", "TaxAgency", "TimeActivity", "TaxCode", "TaxRate", "Invoice,TaxRate"],
)
def test_cdc_refuses_what_qbo_refuses(api: Api, entities: str) -> None:
    response = _cdc(api, entities, datetime.now(UTC) - timedelta(hours=1))
    assert response.status_code == 400
    fault = response.json()["Fault"]
    assert fault["type"] == "ValidationFault"
    assert entities.rsplit(",", maxsplit=1)[-1] in fault["Error"][0]["Detail"]


def _moved_by_invoice(sb: Sandbox, invoice_id: str) -> tuple[str, set[str]]:
    """The customer and the inventory items whose balances an invoice's change moves."""
    invoice = next(r for r in sb.records("Invoice") if r["Id"] == invoice_id)
    stock = {r["Id"] for r in sb.records("Item") if r["Type"] == "Inventory"}
    sold = {
        line["SalesItemLineDetail"]["ItemRef"]["value"]
        for line in invoice["Line"]
        if "SalesItemLineDetail" in line
    }
    return invoice["CustomerRef"]["value"], sold & stock


def test_cdc_puts_deletes_after_the_active_objects(own_api: Api) -> None:
    api, sb = own_api, own_api.sb
    since = sb.now()
    owner, stock = _moved_by_invoice(sb, "9")  # deleting it updates its customer and stock
    sb.delete("Invoice", 9)
    sb.delete("Bill", 2)
    sb.delete("Customer", 4, hard=True)
    sb.advance_clock(60)
    sb.update("Invoice", 7, {"PrivateNote": "after the delete"})
    sb.update("Customer", 5, {"Notes": "edited"})
    sb.delete("Customer", 6)  # a list record: an update that makes it inactive
    created = sb.create("Invoice", {"TotalAmt": 1.0})
    groups = _groups(_cdc(api, "Customer,Invoice,Bill,Item", since))
    customers, invoices, bills, items = groups
    assert [r["Id"] for r in invoices["Invoice"]] == ["7", created["Id"], "9"]
    assert [r.get("status") for r in invoices["Invoice"]] == [None, None, "Deleted"]
    assert [r["Id"] for r in customers["Customer"]] == [owner, "5", "6", "4"]
    assert customers["Customer"][2]["Active"] is False
    assert {r["Id"] for r in items.get("Item", [])} == stock
    for tombstone in (invoices["Invoice"][-1], customers["Customer"][-1], bills["Bill"][0]):
        assert set(tombstone) == {"Id", "status", "domain", "MetaData"}
        assert tombstone["status"] == "Deleted"
        assert tombstone["domain"] == "QBO"
        assert set(tombstone["MetaData"]) == {"LastUpdatedTime"}
    assert invoices["maxResults"] == invoices["totalCount"] == 3


def test_cdc_stops_at_1000_objects_without_paging(
    make_recent_sandbox: Callable[..., Sandbox], make_api: Callable[..., Api]
) -> None:
    sb = make_recent_sandbox(invoices=1200, other_records=0)
    api = make_api(sb)
    for invoice_id in (3, 4):
        sb.delete("Invoice", invoice_id)
    since = sb.now() - timedelta(days=20)
    invoices, customers = _groups(_cdc(api, "Invoice,Customer", since))
    rows = invoices["Invoice"]
    assert len(rows) + len(customers.get("Customer", [])) == 1000
    assert all("status" not in r for r in rows)  # the deletes are the newest: cut off
    stamps = [_stamp(r) for r in rows]
    assert stamps == sorted(stamps)
    # Moving changedSince to the newest change seen gets the rest, deletes last.
    rest = _groups(_cdc(api, "Invoice", stamps[-1]))[0]["Invoice"]
    assert min(_stamp(r) for r in rest) >= stamps[-1]
    assert [r.get("status") for r in rest[-2:]] == ["Deleted", "Deleted"]
    assert {r["Id"] for r in rows} | {r["Id"] for r in rest} >= {str(n) for n in range(5, 1201)}


# ---- deletes, voids, restores --------------------------------------------------------------
@pytest.mark.parametrize("entity", ["Customer", "Vendor", "Item", "Account", "Employee"])
def test_deleting_a_list_record_makes_it_inactive(own_api: Api, entity: str) -> None:
    api, sb = own_api, own_api.sb
    target = next(r for r in sb.records(entity) if r["Active"])
    before = api.count(f"SELECT COUNT(*) FROM {entity}")
    answer = sb.delete(entity, target["Id"])
    assert answer["hard"] is False
    record = answer["record"]
    assert record["Active"] is False
    assert int(record["SyncToken"]) == int(target["SyncToken"]) + 1
    assert _stamp(record) > _stamp(target)
    assert api.count(f"SELECT COUNT(*) FROM {entity}") == before - 1
    everyone = api.rows(
        f"SELECT * FROM {entity} WHERE Active IN (true, false) AND Id = '{target['Id']}'"
    )
    if entity == "Item":
        everyone[0]["Sku"] = record["Sku"]  # a query shows Sku only with SELECT *, Sku
    assert everyone == [record]
    assert record in sb.records(entity)


def test_hard_delete_removes_a_list_record(own_api: Api) -> None:
    api, sb = own_api, own_api.sb
    assert sb.delete("Vendor", 2, hard=True) == {"deleted": "2", "hard": True}
    assert api.count("SELECT COUNT(*) FROM Vendor WHERE Active IN (true, false) AND Id = '2'") == 0
    assert "2" not in {r["Id"] for r in sb.records("Vendor")}
    with pytest.raises(ValueError, match="no Vendor with Id 2"):
        sb.delete("Vendor", 2)


def test_transactions_are_deleted_for_good(own_api: Api) -> None:
    api, sb = own_api, own_api.sb
    assert sb.delete("Payment", 1) == {"deleted": "1", "hard": True}
    assert api.count("SELECT COUNT(*) FROM Payment WHERE Id = '1'") == 0


def test_void_zeroes_a_transaction_as_an_update(own_api: Api) -> None:
    api, sb = own_api, own_api.sb
    original = api.rows("SELECT * FROM Invoice WHERE Id = '12'")[0]
    since = sb.now()
    voided = sb.void("Invoice", 12)
    assert voided["TotalAmt"] == 0
    assert voided["Balance"] == 0
    assert all(line["Amount"] == 0 for line in voided["Line"])
    assert voided["PrivateNote"] == "Voided"
    assert int(voided["SyncToken"]) == int(original["SyncToken"]) + 1
    assert voided["CustomerRef"] == original["CustomerRef"]
    assert api.rows("SELECT * FROM Invoice WHERE Id = '12'") == [voided]
    changed = _groups(_cdc(api, "Invoice", since))[0]["Invoice"]
    assert changed == [voided]
    transfer = sb.void("Transfer", 1)
    assert transfer["Amount"] == 0
    assert sb.void("Payment", 1)["Line"][0]["Amount"] == 0
    for entity, record_id in (("Customer", 1), ("TimeActivity", 1)):
        with pytest.raises(ValueError, match="cannot be voided"):
            sb.void(entity, record_id)


def test_restore_brings_a_deleted_record_back_under_its_id(own_api: Api) -> None:
    api, sb = own_api, own_api.sb
    original = api.rows("SELECT * FROM Invoice WHERE Id = '3'")[0]
    sb.delete("Invoice", 3)
    since = sb.now()
    restored = sb.restore("Invoice", 3)
    assert int(restored["SyncToken"]) == int(original["SyncToken"]) + 1
    unchanged = {k: v for k, v in restored.items() if k not in ("SyncToken", "MetaData")}
    assert unchanged == {k: v for k, v in original.items() if k not in ("SyncToken", "MetaData")}
    assert api.rows("SELECT * FROM Invoice WHERE Id = '3'") == [restored]
    assert _groups(_cdc(api, "Invoice", since))[0]["Invoice"] == [restored]
    created = sb.create("Bill", {"TotalAmt": 3.5, "PrivateNote": "made here"})
    sb.delete("Bill", created["Id"])
    assert sb.restore("Bill", created["Id"])["PrivateNote"] == "made here"
    sb.delete("Customer", 2)
    assert sb.restore("Customer", 2)["Active"] is True
    with pytest.raises(ValueError, match="no deleted Invoice with Id 4"):
        sb.restore("Invoice", 4)
