"""Pure pieces of the sync: CDC answers read, LastUpdatedTime queries written, figures."""

from __future__ import annotations

from datetime import UTC, datetime

from qbo_backfill.entities import CATALOG, resolve_entity
from qbo_backfill.errors import QueryRejected
from qbo_backfill.load.syncruns import SyncFigures
from qbo_backfill.qbo.cdc import CdcAnswer, _objects, is_deleted, is_lookback_refusal
from qbo_backfill.qbo.lastupdated import changed_since_query, instant_query, utc_stamp
from qbo_backfill.run.syncpaths import _next_since

WHEN = datetime(2026, 3, 1, 12, 0, 0, 500_000, tzinfo=UTC)


def _record(record_id: int, stamp: str, deleted: bool = False) -> dict[str, object]:
    record: dict[str, object] = {"Id": str(record_id), "MetaData": {"LastUpdatedTime": stamp}}
    if deleted:
        record["status"] = "Deleted"
    return record


def test_answer_objects_are_grouped_by_entity_from_every_group() -> None:
    body = {
        "CDCResponse": [
            {
                "QueryResponse": [
                    {"Invoice": [_record(1, "2026-03-01T04:00:00-08:00")], "startPosition": 1},
                    {},
                    {"Customer": [_record(7, "2026-03-01T05:00:00-08:00", deleted=True)]},
                ]
            }
        ]
    }
    found = _objects(body, ["Invoice", "Customer", "Item"])
    assert [r["Id"] for r in found["Invoice"]] == ["1"]
    assert is_deleted(found["Customer"][0])
    assert found["Item"] == []


def test_an_answer_of_a_thousand_is_truncated_and_its_newest_counts_deletes() -> None:
    objects = [_record(n, "2026-03-01T04:00:00-08:00") for n in range(999)]
    objects.append(_record(5000, "2026-03-01T04:00:09-08:00", deleted=True))
    answer = CdcAnswer(WHEN, {"Invoice": objects}, "")
    assert answer.truncated
    assert answer.newest("Invoice") == datetime(2026, 3, 1, 12, 0, 9, tzinfo=UTC)
    assert not CdcAnswer(WHEN, {"Invoice": objects[:999]}, "").truncated


def test_lookback_refusal_is_told_from_other_bad_queries() -> None:
    refused = QueryRejected("QBO ValidationFault: Invalid changedSince (older than fixed days)")
    assert is_lookback_refusal(refused)
    assert not is_lookback_refusal(QueryRejected("QBO ValidationFault: bad field"))


def test_queries_name_active_on_lists_and_round_down_to_the_second() -> None:
    customer = changed_since_query(resolve_entity("Customer"), WHEN)
    assert "Active IN (true, false)" in customer
    assert "MetaData.LastUpdatedTime >= '2026-03-01T12:00:00Z'" in customer
    assert "ORDERBY MetaData.LastUpdatedTime MAXRESULTS 1000" in customer
    assert "Active" not in changed_since_query(resolve_entity("Invoice"), WHEN)
    assert "SELECT *, Sku FROM Item" in changed_since_query(resolve_entity("Item"), WHEN)
    instant = instant_query(resolve_entity("Bill"), WHEN, 1001, 1000)
    assert "< '2026-03-01T12:00:01Z'" in instant
    assert instant.endswith("ORDERBY Id STARTPOSITION 1001 MAXRESULTS 1000")
    assert utc_stamp(WHEN) == "2026-03-01T12:00:00Z"


def test_next_page_starts_at_the_newest_time_and_never_goes_back() -> None:
    records = [_record(1, "2026-03-01T04:00:05-08:00"), _record(2, "2026-03-01T04:00:02-08:00")]
    assert _next_since(records, WHEN) == datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC)
    assert _next_since([], WHEN) == WHEN


def test_cdc_serves_all_but_the_five_qbo_names() -> None:
    excluded = {name for name, entity in CATALOG.items() if not entity.in_cdc}
    assert excluded == {"TaxAgency", "TimeActivity", "TaxCode", "TaxRate"}  # JournalCode: unlisted


def test_figures_add_up_and_count_rows_written() -> None:
    total = SyncFigures(inserted=2, deleted=1).plus(SyncFigures(updated=3, reactivated=1))
    assert total.rows_written == 7
    assert total.with_calls(2).api_calls == 2
