"""Pure units: windows, query text, catalog, record rules, response classification."""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import pairwise

import httpx
import pytest

from qbo_backfill.entities import CATALOG, EntityKind, resolve_entity
from qbo_backfill.errors import (
    AccessTokenRejected,
    ConfigError,
    QueryRejected,
    ThrottledError,
    TransientApiError,
)
from qbo_backfill.load.records import Quarantined, RawRow, prepare_page, to_row
from qbo_backfill.qbo import query
from qbo_backfill.qbo.client import parse_query_response
from qbo_backfill.windows import ExtractWindow, parse_date


def test_split_covers_range_without_gap_or_overlap() -> None:
    window = ExtractWindow(date(2025, 1, 1), date(2026, 1, 1))
    chunks = window.split(7)
    assert chunks[0].start == window.start
    assert chunks[-1].end == window.end
    assert all(a.end == b.start for a, b in pairwise(chunks))
    assert sum(c.days for c in chunks) == 365
    assert len(chunks) == 53
    assert chunks[-1].days == 1


def test_boundary_day_belongs_to_one_window() -> None:
    chunks = ExtractWindow(date(2025, 1, 1), date(2025, 1, 15)).split(7)
    day = date(2025, 1, 8)
    assert [c for c in chunks if c.start <= day < c.end] == [chunks[1]]


@pytest.mark.parametrize("days", [0, -3])
def test_chunk_days_below_one_is_bad_input(days: int) -> None:
    with pytest.raises(ConfigError):
        ExtractWindow(date(2025, 1, 1), date(2025, 2, 1)).split(days)


def test_end_before_start_is_bad_input() -> None:
    with pytest.raises(ConfigError):
        ExtractWindow(date(2025, 2, 1), date(2025, 1, 1))


@pytest.mark.parametrize("text", ["2025-13-01", "yesterday", "2025-01-01T00:00:00", ""])
def test_unparseable_dates_name_the_option(text: str) -> None:
    with pytest.raises(ConfigError, match="--start"):
        parse_date(text, "--start")


def test_transaction_query_uses_dates_only_and_stable_order() -> None:
    text = query.page_query(
        resolve_entity("invoice"), ExtractWindow(date(2025, 1, 1), date(2025, 1, 8)), 1001, 1000
    )
    assert text == (
        "SELECT * FROM Invoice WHERE TxnDate >= '2025-01-01' AND TxnDate < '2025-01-08' "
        "ORDERBY MetaData.CreateTime STARTPOSITION 1001 MAXRESULTS 1000"
    )


def test_list_query_includes_inactive_records() -> None:
    text = query.count_query(resolve_entity("Customer"), ExtractWindow.whole())
    assert text == "SELECT COUNT(*) FROM Customer WHERE Active IN (true, false)"


def test_quoting_keeps_a_value_inside_its_literal() -> None:
    assert query.quote("O'Brien\\") == "'O\\'Brien\\\\'"


def test_catalog_knows_every_entity_in_any_case() -> None:
    assert len(CATALOG) == 37
    assert resolve_entity("INVOICE").kind is EntityKind.TRANSACTION
    assert resolve_entity("item").table_name == "qb_item"
    with pytest.raises(ConfigError, match="unknown entity"):
        resolve_entity("TaxService")


def _record(id_: object, updated: str = "2025-07-24T10:35:08-07:00", **extra: object) -> dict:
    return {"Id": id_, "MetaData": {"LastUpdatedTime": updated}, **extra}


def test_last_updated_is_converted_to_utc_keeping_the_offset() -> None:
    row = to_row(_record("42"))
    assert isinstance(row, RawRow)
    assert row.last_updated_utc == datetime(2025, 7, 24, 17, 35, 8, tzinfo=UTC)


@pytest.mark.parametrize("bad_id", [None, "", "abc", "12a", 3.5, "9" * 30])
def test_records_without_a_numeric_id_are_quarantined(bad_id: object) -> None:
    result = to_row(_record(bad_id))
    assert isinstance(result, Quarantined)
    assert "Id" in result.reason


def test_naive_timestamp_is_quarantined_not_guessed() -> None:
    assert isinstance(to_row(_record("1", "2025-07-24T10:35:08")), Quarantined)


def test_duplicate_ids_in_a_page_keep_the_newest() -> None:
    page = prepare_page(
        [
            _record("7", "2025-01-02T00:00:00Z", v=2),
            _record("7", "2025-01-01T00:00:00Z", v=1),
            _record("8"),
            _record("x"),
        ]
    )
    assert page.duplicates == 1
    assert len(page.quarantined) == 1
    kept = {row.id: row.payload for row in page.rows}
    assert '"v":2' in kept[7]
    assert set(kept) == {7, 8}


def test_nul_characters_are_escaped_for_jsonb() -> None:
    row = to_row(_record("1", Memo="a\x00b", Path="c:\\u0000"))
    assert isinstance(row, RawRow)
    assert "\\\\u0000" in row.payload
    assert '"a\\\\u0000b"' in row.payload
    # a literal backslash-u0000 that was not a NUL stays as it was
    assert '"c:\\\\u0000"' in row.payload


def _response(status: int, body: bytes, **headers: str) -> httpx.Response:
    return httpx.Response(status, content=body, headers=headers)


def test_a_page_without_entity_key_is_empty() -> None:
    assert parse_query_response(_response(200, b'{"QueryResponse": {}, "time": "x"}')) == {}


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (
            429,
            b'{"Fault":{"Error":[{"Message":"message=ThrottleExceeded","code":"3001"}]}}',
            ThrottledError,
        ),
        (
            429,
            b'<IntuitResponse><Fault><Error code="3001"/></Fault></IntuitResponse>',
            ThrottledError,
        ),
        (
            200,
            b'{"Fault":{"Error":[{"Message":"x","code":"3001"}],"type":"SERVICE"}}',
            ThrottledError,
        ),
        (
            200,
            b'{"fault":{"error":[{"message":"boom","code":"10000"}],"type":"SystemFault"}}',
            TransientApiError,
        ),
        (
            400,
            b'{"Fault":{"Error":[{"Message":"bad","code":"4000"}],"type":"ValidationFault"}}',
            QueryRejected,
        ),
        (401, b'{"Fault":{"Error":[{"Message":"auth","code":"3200"}]}}', AccessTokenRejected),
        (503, b"Service Unavailable", TransientApiError),
        (200, b'{"QueryResponse": {"Invoice": [{"Id": "1"', TransientApiError),
    ],
)
def test_responses_are_classified_by_what_to_do_next(status: int, body: bytes, error: type) -> None:
    with pytest.raises(error):
        parse_query_response(_response(status, body))


def test_retry_after_header_is_kept() -> None:
    with pytest.raises(ThrottledError) as caught:
        parse_query_response(_response(429, b"{}", **{"Retry-After": "7"}))
    assert caught.value.retry_after == 7.0


def test_advisory_lock_keys_name_the_schema() -> None:
    from qbo_backfill.load.ledger import lock_namespace

    assert lock_namespace("a").as_string() != lock_namespace("b").as_string()
