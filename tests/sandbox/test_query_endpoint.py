"""The query endpoint over HTTP: shapes, paging, COUNT, filters, ordering and 400s."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qbo_backfill.sandbox import Sandbox
from qbo_backfill.sandbox.catalog import CATALOG

if TYPE_CHECKING:
    from tests.sandbox.conftest import Api


def _ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_page_shape_get_and_post(api: Api) -> None:
    text = "SELECT * FROM Invoice ORDERBY Id STARTPOSITION 1 MAXRESULTS 2"
    for post in (False, True):
        response = api.query(text, post=post)
        assert response.status_code == 200
        assert response.headers["intuit_tid"]
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        assert set(body) == {"QueryResponse", "time"}
        page = body["QueryResponse"]
        assert page["startPosition"] == 1
        assert page["maxResults"] == 2
        assert [r["Id"] for r in page["Invoice"]] == ["1", "2"]
        assert body["time"][-6:] in ("-08:00", "-07:00")


def test_default_page_size_is_100_and_max_is_capped_at_1000(api: Api) -> None:
    assert len(api.rows("SELECT * FROM Invoice")) == 100
    page = api.query("SELECT * FROM Invoice MAXRESULTS 5000").json()["QueryResponse"]
    assert page["maxResults"] == 1000
    assert len(page["Invoice"]) == 1000


def test_last_page_reports_rows_in_this_page(api: Api) -> None:
    page = api.query("SELECT * FROM Invoice STARTPOSITION 1191 MAXRESULTS 100").json()
    assert page["QueryResponse"]["maxResults"] == 10
    assert page["QueryResponse"]["startPosition"] == 1191


def test_startposition_zero_is_one(api: Api) -> None:
    zero = api.rows("SELECT * FROM Customer STARTPOSITION 0 MAXRESULTS 5")
    one = api.rows("SELECT * FROM Customer STARTPOSITION 1 MAXRESULTS 5")
    assert zero == one
    assert len(zero) == 5


def test_empty_page_has_no_entity_key(api: Api) -> None:
    beyond = api.query("SELECT * FROM Invoice STARTPOSITION 5000").json()
    assert beyond["QueryResponse"] == {}
    assert "time" in beyond
    nothing = api.query("SELECT * FROM Invoice WHERE TxnDate < '2000-01-01'").json()
    assert nothing["QueryResponse"] == {}


@pytest.mark.parametrize("entity", sorted(CATALOG))
def test_every_entity_is_known(api: Api, entity: str) -> None:
    count = api.count(f"SELECT COUNT(*) FROM {entity}")
    page = api.query(f"SELECT * FROM {entity}").json()["QueryResponse"]
    if entity not in ("ExchangeRate", "RecurringTransaction", "TaxClassification"):
        assert count > 0
        assert len(page[entity]) == min(count, 100)
    else:
        assert count == 0
        assert page == {}


def test_paging_covers_every_active_record_once(api: Api) -> None:
    total = api.count("SELECT COUNT(*) FROM Invoice")
    seen: list[str] = []
    start = 1
    while True:
        text = (
            "SELECT * FROM Invoice ORDERBY MetaData.CreateTime "
            f"STARTPOSITION {start} MAXRESULTS 137"
        )
        rows = api.rows(text)
        if not rows:
            break
        seen.extend(r["Id"] for r in rows)
        start += len(rows)
    assert len(seen) == total == 1200
    assert len(set(seen)) == total
    assert {r["Id"] for r in api.sb.records("Invoice")} == set(seen)


def test_count_ignores_paging_and_counts_filters(api: Api) -> None:
    records = api.sb.records("Invoice")
    in_2025 = [r for r in records if "2025-01-01" <= r["TxnDate"] < "2026-01-01"]
    text = "SELECT COUNT(*) FROM Invoice WHERE TxnDate >= '2025-01-01' AND TxnDate < '2026-01-01'"
    assert api.count(text + " MAXRESULTS 5") == len(in_2025)
    assert 0 < len(in_2025) < len(records)
    body = api.query(text).json()
    assert set(body["QueryResponse"]) == {"totalCount"}


def test_count_is_counted_apart_from_select(own_api: Api) -> None:
    api, sb = own_api, own_api.sb
    api.query("SELECT COUNT(*) FROM Invoice")
    api.query("SELECT * FROM Invoice MAXRESULTS 7")
    api.query("SELECT * FROM Invoice MAXRESULTS 3", post=True)
    requests = sb.counters()["realms"][sb.info.realm_id]
    assert requests["requests"]["count"] == 1
    assert requests["requests"]["query"] == 2
    assert requests["rows_served"] == 10


def test_inactive_list_records_hidden_unless_active_is_named(api: Api) -> None:
    customers = api.sb.records("Customer")
    inactive = [c for c in customers if c["Active"] is False]
    assert inactive
    assert api.count("SELECT COUNT(*) FROM Customer") == len(customers) - len(inactive)
    assert api.count("SELECT COUNT(*) FROM Customer WHERE Active IN (true, false)") == len(
        customers
    )
    only_inactive = api.rows("SELECT * FROM Customer WHERE Active = false MAXRESULTS 1000")
    assert sorted(int(r["Id"]) for r in only_inactive) == sorted(int(c["Id"]) for c in inactive)
    # Transactions have no Active flag: nothing is hidden.
    assert api.count("SELECT COUNT(*) FROM Invoice") == len(api.sb.records("Invoice"))


def _inactive(sb: Sandbox, entity: str) -> int:
    return sum(not r["Active"] for r in sb.records(entity))


def test_inactive_share_is_about_ten_percent(
    api: Api, make_sandbox: Callable[..., Sandbox]
) -> None:
    # Each list record is inactive with probability 0.1, drawn from the seed (42): the
    # same records every time, so the counts are exact.
    assert (_inactive(api.sb, "Customer"), _inactive(api.sb, "Item")) == (5, 1)  # of 40, 12
    large = make_sandbox(customers=2000, items=2000, invoices=10)
    assert (_inactive(large, "Customer"), _inactive(large, "Item")) == (186, 200)  # of 2000


def test_txndate_window_is_half_open_and_exact(api: Api) -> None:
    records = api.sb.records("Invoice")
    expected = sorted(int(r["Id"]) for r in records if "2024-03-01" <= r["TxnDate"] < "2024-04-01")
    text = (
        "select * from Invoice where TxnDate >= '2024-03-01' and TxnDate < '2024-04-01' "
        "order by Id maxresults 1000"
    )
    assert [int(r["Id"]) for r in api.rows(text)] == expected


def test_timestamp_offsets_are_honoured(api: Api) -> None:
    variants = (
        "2024-07-01T07:00:00Z",
        "2024-07-01T07:00:00+00:00",
        "2024-07-01T00:00:00-07:00",
        "2024-07-01",  # a bare date on a timestamp field is company-local midnight
    )
    counts = {
        v: api.count(f"SELECT COUNT(*) FROM Invoice WHERE MetaData.CreateTime >= '{v}'")
        for v in variants
    }
    assert len(set(counts.values())) == 1, counts
    records = api.sb.records("Invoice")
    cutoff = _ts("2024-07-01T07:00:00+00:00")
    assert counts[variants[0]] == sum(_ts(r["MetaData"]["CreateTime"]) >= cutoff for r in records)


def test_metadata_spelling_and_orderby_spelling(api: Api) -> None:
    a = api.rows("SELECT * FROM Invoice ORDERBY MetaData.LastUpdatedTime DESC MAXRESULTS 20")
    b = api.rows("SELECT * FROM Invoice ORDER BY metadata.lastupdatedtime desc MAXRESULTS 20")
    c = api.rows("SELECT * FROM Invoice Order  By Metadata.LastUpdatedTime DESC MAXRESULTS 20")
    assert a == b == c
    stamps = [_ts(r["MetaData"]["LastUpdatedTime"]) for r in a]
    assert stamps == sorted(stamps, reverse=True)


def test_multi_field_order_with_id_tiebreak(api: Api) -> None:
    rows = api.rows("SELECT * FROM Invoice ORDERBY TxnDate DESC, Id ASC MAXRESULTS 1000")
    keys = [(r["TxnDate"], int(r["Id"])) for r in rows]
    assert keys == sorted(keys, key=lambda k: (-date.fromisoformat(k[0]).toordinal(), k[1]))
    ties = api.rows("SELECT * FROM Invoice ORDERBY TxnDate MAXRESULTS 1000")
    tie_keys = [(r["TxnDate"], int(r["Id"])) for r in ties]
    assert tie_keys == sorted(tie_keys)


def test_in_like_equals_and_docnumber(api: Api) -> None:
    rows = api.rows("SELECT * FROM Invoice WHERE Id IN ('3', '5', '8') ORDERBY Id")
    assert [r["Id"] for r in rows] == ["3", "5", "8"]
    doc = rows[1]["DocNumber"]
    assert [r["Id"] for r in api.rows(f"SELECT * FROM Invoice WHERE DocNumber = '{doc}'")] == ["5"]
    customers = api.sb.records("Customer")
    name = customers[0]["DisplayName"]
    prefix = name[:4]
    like = api.rows(
        f"SELECT * FROM Customer WHERE DisplayName LIKE '{prefix}%' AND Active IN (true, false)"
    )
    assert {r["Id"] for r in like} == {
        c["Id"] for c in customers if c["DisplayName"].startswith(prefix)
    }


def test_select_star_sku_on_item(api: Api) -> None:
    with_sku = api.rows("SELECT *, Sku FROM Item ORDERBY Id MAXRESULTS 3")
    plain = api.rows("SELECT * FROM Item ORDERBY Id MAXRESULTS 3")
    assert all("Sku" in r for r in with_sku)
    assert not any("Sku" in r for r in plain)


@pytest.mark.parametrize(
    ("text", "code", "fragment"),
    [
        ("SELECT * FROM TaxService", "4001", "Metadata not found for Entity: TaxService"),
        ("SELECT * FROM invoice", "4001", "Metadata not found for Entity: invoice"),
        ("SELECT * FROM Invoice WHERE Line.Amount > 5", "4001", "Line.Amount"),
        ("SELECT * FROM Invoice WHERE CustomerMemo = 'x'", "4001", "CustomerMemo"),
        ("SELECT * FROM Invoice WHERE TxnDate >= '2025-01-01T00:00:00'", "4001", "TxnDate"),
        ("SELECT * FROM Invoice WHERE TxnDate >= '2025-02-30'", "4001", "TxnDate"),
        ("SELECT * FROM Invoice WHERE Active = true", "4001", "Active"),
        ("SELECT * FROM Invoice ORDERBY Line", "4001", "Line"),
        (
            "SELECT * FROM Invoice WHERE TxnDate > '2025-01-01' OR Id = '1'",
            "4000",
            "QueryParserError",
        ),
        ("SELECT Id FROM Invoice", "4000", "QueryParserError"),
        ("DELETE FROM Invoice", "4000", "QueryParserError"),
        ("SELECT * FROM Invoice MAXRESULTS 0", "4000", "MAXRESULTS"),
    ],
)
def test_bad_queries_are_400_validation_faults(
    api: Api, text: str, code: str, fragment: str
) -> None:
    response = api.query(text)
    assert response.status_code == 400
    fault = response.json()["Fault"]
    assert fault["type"] == "ValidationFault"
    error = fault["Error"][0]
    assert error["code"] == code
    assert fragment in error["Detail"]


def test_missing_query_is_400(api: Api) -> None:
    response = api.http.get(api.base + "/query", headers=api.headers())
    assert response.status_code == 400


@pytest.fixture(scope="module")
def all_invoices(shared_sandbox: Sandbox) -> list[dict[str, Any]]:
    """The shared sandbox's invoices, read once (that sandbox is never changed)."""
    return shared_sandbox.records("Invoice")


_DAYS = st.dates(min_value=date(2023, 12, 1), max_value=date(2026, 2, 1))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(start=_DAYS, end=_DAYS, field=st.sampled_from(["TxnDate", "MetaData.LastUpdatedTime"]))
def test_range_filters_agree_with_a_scan_of_all_records(
    api: Api, all_invoices: list[dict[str, Any]], start: date, end: date, field: str
) -> None:
    records = all_invoices

    def value(record: dict[str, Any]) -> Any:
        if field == "TxnDate":
            return record["TxnDate"]
        return _ts(record["MetaData"]["LastUpdatedTime"])

    if field == "TxnDate":
        low: Any = start.isoformat()
        high: Any = end.isoformat()
    else:
        low = datetime.fromisoformat(f"{start}T00:00:00-08:00").timestamp()
        high = datetime.fromisoformat(f"{end}T00:00:00-08:00").timestamp()
        start_text, end_text = f"{start}T00:00:00-08:00", f"{end}T00:00:00-08:00"
    expected = sorted(int(r["Id"]) for r in records if low <= value(r) < high)
    lo_text = start.isoformat() if field == "TxnDate" else start_text
    hi_text = end.isoformat() if field == "TxnDate" else end_text
    where = f"{field} >= '{lo_text}' AND {field} < '{hi_text}'"
    assert api.count(f"SELECT COUNT(*) FROM Invoice WHERE {where}") == len(expected)
    got: list[int] = []
    position = 1
    while True:
        rows = api.rows(
            f"SELECT * FROM Invoice WHERE {where} ORDERBY Id "
            f"STARTPOSITION {position} MAXRESULTS 1000"
        )
        got.extend(int(r["Id"]) for r in rows)
        if len(rows) < 1000:
            break
        position += 1000
    assert got == expected
