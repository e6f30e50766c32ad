"""The admin API's changes as QBO clients see them, and the shape of the generated data."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING

import httpx
import pytest

from qbo_backfill.sandbox import Sandbox, SandboxConfig, clock

if TYPE_CHECKING:
    from tests.sandbox.conftest import Api


STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}-0[78]:00$")


# ---- admin API ------------------------------------------------------------------------------
def test_create_is_visible_to_queries_with_next_id(own_api: Api) -> None:
    api, sb = own_api, own_api.sb
    before = api.count("SELECT COUNT(*) FROM Invoice")
    created = sb.create("Invoice", {"TxnDate": "2025-06-01", "TotalAmt": 12.5, "Id": "999"})
    assert created["Id"] == "301"  # the next Id; a given Id is ignored
    assert created["SyncToken"] == "0"
    assert STAMP.match(created["MetaData"]["CreateTime"])
    assert api.count("SELECT COUNT(*) FROM Invoice") == before + 1
    found = api.rows("SELECT * FROM Invoice WHERE TxnDate = '2025-06-01' ORDERBY Id DESC")
    assert found[0] == created
    vendor = sb.create("Vendor", {"DisplayName": "New Vendor"})
    assert vendor["Active"] is True
    assert api.rows("SELECT * FROM Vendor ORDERBY Id DESC MAXRESULTS 1") == [vendor]


def test_update_bumps_synctoken_and_last_updated(own_api: Api) -> None:
    api, sb = own_api, own_api.sb
    original = api.rows("SELECT * FROM Invoice WHERE Id = '12'")[0]
    updated = sb.update("Invoice", "12", {"PrivateNote": "hello", "SyncToken": "77"})
    assert updated["PrivateNote"] == "hello"
    assert int(updated["SyncToken"]) == int(original["SyncToken"]) + 1
    assert updated["MetaData"]["CreateTime"] == original["MetaData"]["CreateTime"]
    assert updated["MetaData"]["LastUpdatedTime"] > original["MetaData"]["LastUpdatedTime"]
    twice = sb.update("Invoice", 12, {"PrivateNote": "again"})
    assert int(twice["SyncToken"]) == int(original["SyncToken"]) + 2
    recent = api.rows(
        f"SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime >= "
        f"'{updated['MetaData']['LastUpdatedTime']}'"
    )
    assert [r["Id"] for r in recent] == ["12"]
    assert recent[0] == twice


def test_deactivating_a_customer_hides_it_from_default_queries(own_api: Api) -> None:
    api, sb = own_api, own_api.sb
    active_id = next(c["Id"] for c in sb.records("Customer") if c["Active"])
    before = api.count("SELECT COUNT(*) FROM Customer")
    sb.update("Customer", active_id, {"Active": False})
    assert api.count("SELECT COUNT(*) FROM Customer") == before - 1
    everyone = api.rows("SELECT * FROM Customer WHERE Active IN (true, false) MAXRESULTS 1000")
    assert active_id in {c["Id"] for c in everyone}


def test_delete_removes_from_queries_and_records(own_api: Api) -> None:
    api, sb = own_api, own_api.sb
    sb.delete("Invoice", 3)
    assert api.count("SELECT COUNT(*) FROM Invoice") == 299
    assert "3" not in {r["Id"] for r in sb.records("Invoice")}
    assert api.rows("SELECT * FROM Invoice WHERE Id IN ('2', '3', '4') ORDERBY Id") == [
        r for r in sb.records("Invoice") if r["Id"] in ("2", "4")
    ]
    with pytest.raises(ValueError, match="no Invoice with Id 3"):
        sb.delete("Invoice", 3)
    with pytest.raises(ValueError, match="no Invoice with Id 3"):
        sb.update("Invoice", 3, {"PrivateNote": "x"})


def test_records_include_inactive_and_follow_changes(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox()
    customers = sb.records("Customer")
    assert len(customers) == 40
    assert any(not c["Active"] for c in customers)
    assert sb.records("RecurringTransaction") == []


def test_admin_errors(make_sandbox: Callable[..., Sandbox], http: httpx.Client) -> None:
    sb = make_sandbox()
    with pytest.raises(ValueError, match="unknown entity"):
        sb.records("invoice")
    with pytest.raises(ValueError, match="unknown realm"):
        sb.records("Invoice", realm="123")
    bad_json = http.post(
        f"{sb.info.base_url}/_sandbox/realms/{sb.info.realm_id}/Invoice", content=b"[1]"
    )
    assert bad_json.status_code == 400


def test_several_realms_have_their_own_data(
    make_sandbox: Callable[..., Sandbox], make_api: Callable[..., Api]
) -> None:
    sb = make_sandbox(realms=3)
    realms = sb.info.realm_ids
    assert len(set(realms)) == 3
    assert all(r.isdigit() for r in realms)
    assert set(sb.info.refresh_tokens) == set(realms)
    first, second = (sb.records("Invoice", realm=r) for r in realms[:2])
    assert len(first) == len(second) == 300
    assert first != second
    sb.delete("Invoice", 1, realm=realms[1])
    assert make_api(sb, realms[0]).count("SELECT COUNT(*) FROM Invoice") == 300
    assert make_api(sb, realms[1]).count("SELECT COUNT(*) FROM Invoice") == 299


# ---- generated data -----------------------------------------------------------------------
def test_same_seed_same_data_other_seed_other_data(make_sandbox: Callable[..., Sandbox]) -> None:
    a, b, c = make_sandbox(), make_sandbox(), make_sandbox(seed=7)
    assert a.info.realm_ids == b.info.realm_ids
    assert a.info.refresh_token == b.info.refresh_token
    assert a.records("Invoice") == b.records("Invoice")
    assert a.records("Customer") == b.records("Customer")
    assert c.info.realm_id != a.info.realm_id
    assert c.records("Invoice") != a.records("Invoice")


def test_invoice_payloads_look_like_qbo(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(invoice_start=date(2024, 1, 1), invoice_end=date(2025, 1, 1))
    customers = {c["Id"]: c for c in sb.records("Customer")}
    items = {i["Id"]: i for i in sb.records("Item")}
    invoices = sb.records("Invoice")
    offsets = set()
    for inv in invoices:
        assert inv["Id"].isdigit()
        assert inv["domain"] == "QBO"
        assert inv["sparse"] is False
        assert inv["SyncToken"].isdigit()
        assert "2024-01-01" <= inv["TxnDate"] < "2025-01-01"
        assert inv["DueDate"] >= inv["TxnDate"]
        meta = inv["MetaData"]
        assert STAMP.match(meta["CreateTime"])
        assert STAMP.match(meta["LastUpdatedTime"])
        created = datetime.fromisoformat(meta["CreateTime"])
        assert datetime.fromisoformat(meta["LastUpdatedTime"]) >= created
        assert (meta["LastUpdatedTime"] == meta["CreateTime"]) == (inv["SyncToken"] == "0")
        assert created.date().isoformat() >= inv["TxnDate"]  # local date, never before TxnDate
        offsets.add(meta["CreateTime"][-6:])
        assert created.utcoffset() == _pacific_offset(created)
        customer = customers[inv["CustomerRef"]["value"]]
        assert inv["CustomerRef"]["name"] == customer["DisplayName"]
        sales = [line for line in inv["Line"] if line["DetailType"] == "SalesItemLineDetail"]
        subtotal = [line for line in inv["Line"] if line["DetailType"] == "SubTotalLineDetail"]
        assert sales
        assert len(subtotal) == 1
        for line in sales:
            detail = line["SalesItemLineDetail"]
            assert detail["ItemRef"]["name"] == items[detail["ItemRef"]["value"]]["Name"]
            assert round(detail["UnitPrice"] * detail["Qty"], 2) == line["Amount"]
        total = round(sum(line["Amount"] for line in sales), 2)
        assert total == inv["TotalAmt"] == subtotal[0]["Amount"]
        assert 0 <= inv["Balance"] <= inv["TotalAmt"]  # what its payments left open
        assert inv["CurrencyRef"]["value"] == "USD"
        assert inv["DocNumber"].isdigit()
        assert inv["BillAddr"]["City"]
        assert inv["CustomField"][0]["Type"] == "StringType"
    assert offsets == {"-08:00", "-07:00"}
    assert len({inv["DocNumber"] for inv in invoices}) == len(invoices)


def _pacific_offset(moment: datetime) -> object:
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo("America/Los_Angeles")).utcoffset()


def test_txndates_spread_over_the_period(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(invoices=400)
    months = {inv["TxnDate"][:7] for inv in sb.records("Invoice")}
    assert len(months) == 24  # every month of 2024 and 2025


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        ("2025-03-09T09:59:59+00:00", "2025-03-09T01:59:59-08:00"),
        ("2025-03-09T10:00:00+00:00", "2025-03-09T03:00:00-07:00"),
        ("2025-11-02T08:59:59+00:00", "2025-11-02T01:59:59-07:00"),
        ("2025-11-02T09:00:00+00:00", "2025-11-02T01:00:00-08:00"),
        ("2024-07-04T19:00:00+00:00", "2024-07-04T12:00:00-07:00"),
    ],
)
def test_pacific_clock_switches_on_us_dst_rules(instant: str, expected: str) -> None:
    epoch = int(datetime.fromisoformat(instant).timestamp())
    assert clock.format_local(epoch) == expected
    assert clock.parse_timestamp(expected) == epoch


def test_config_validation_is_one_line() -> None:
    cases = [
        SandboxConfig(realms=0),
        SandboxConfig(invoices=-1),
        SandboxConfig(invoice_start=date(2025, 1, 1), invoice_end=date(2025, 1, 1)),
        SandboxConfig(refresh_rotation="sometimes"),
        SandboxConfig(refresh_rotation="age:x"),
        SandboxConfig(faults="500=3"),
        SandboxConfig(access_token_ttl=0),
        SandboxConfig(client_id=""),
    ]
    for config in cases:
        with pytest.raises(ValueError, match=r".") as info:
            config.validate()
        assert "\n" not in str(info.value)
    SandboxConfig(refresh_rotation=5).validate()
    SandboxConfig(refresh_rotation="age:3600").validate()
