"""`prerender`: records built ahead answer exactly as records built when served, changes
included (an edited, voided or deleted record is never served from the old bytes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import orjson
from tests.helpers import SMALL

from qbo_backfill.sandbox import Sandbox, SandboxConfig
from qbo_backfill.sandbox.querylang import parse_query
from qbo_backfill.sandbox.state import SandboxState

if TYPE_CHECKING:
    from tests.sandbox.conftest import Api

QUERIES = (
    "SELECT * FROM Invoice ORDERBY Id STARTPOSITION 1 MAXRESULTS 1000",
    "SELECT * FROM Invoice WHERE TxnDate >= '2025-01-01' ORDERBY MetaData.LastUpdatedTime",
    "SELECT * FROM Customer MAXRESULTS 1000",
    "SELECT * FROM Item MAXRESULTS 1000",
    "SELECT * FROM Bill MAXRESULTS 1000",
)


def _change(sb: Sandbox) -> None:
    sb.update("Invoice", "12", {"PrivateNote": "edited after the start"})
    sb.void("Invoice", "13")
    sb.delete("Invoice", "14")
    sb.update("Customer", "2", {"Active": False})
    sb.create("Invoice", {"TxnDate": "2025-06-01", "TotalAmt": 3.5})


CHANGED = {("Invoice", "12"), ("Invoice", "13"), ("Invoice", "14"), ("Invoice", "301")}
CHANGED |= {("Customer", "2")}  # 301: the invoice `_change` creates


def _answers(api: Api, *, changed: bool = False) -> list[list[dict]]:
    """The queries' rows; the change times of the records `_change` touches are left out
    (the two sandboxes make the same changes a moment apart), and after `_change` every
    change time, since the books also update the records a change moves (a customer's
    balance after its invoice is voided) at that moment."""
    out = []
    for text in QUERIES:
        entity = text.split()[3]
        rows = api.rows(text)
        for row in rows:
            if changed or (entity, row["Id"]) in CHANGED:
                row.pop("MetaData")
        out.append(rows)
    return out


def test_prerendered_records_answer_as_built_ones(
    make_sandbox: Callable[..., Sandbox], make_api: Callable[..., Api]
) -> None:
    plain = make_api(make_sandbox(other_records=20))
    built_ahead = make_api(make_sandbox(other_records=20, prerender=True))
    before = _answers(plain)
    assert all(before)
    unchanged = _answers(plain, changed=True)
    assert _answers(built_ahead) == before

    _change(plain.sb)
    _change(built_ahead.sb)
    after = _answers(plain, changed=True)
    assert after != unchanged
    assert _answers(built_ahead, changed=True) == after
    edited = built_ahead.rows("SELECT * FROM Invoice WHERE Id = '12'")
    assert edited[0]["PrivateNote"] == "edited after the start"
    assert built_ahead.rows("SELECT * FROM Invoice WHERE Id = '14'") == []


def test_only_unchanged_generated_records_are_served_from_their_bytes() -> None:
    state = SandboxState(SandboxConfig(**SMALL, prerender=True), "http://127.0.0.1:1")
    store = state.companies[state.credentials.realm_ids[0]].store("Invoice")
    store.put({**store.get(2), "PrivateNote": "changed"})
    store.delete(3, when=0.0)
    rows = store.query_rows(parse_query("SELECT * FROM Invoice ORDERBY Id"))
    page = store.page_to_encode(rows, 1, 4)
    kept = orjson.Fragment
    assert [type(record) for record in page] == [kept, dict, kept, kept]  # Id 2 was changed
    assert [record["Id"] for record in store.page(rows, 1, 4)] == ["1", "2", "4", "5"]
    assert orjson.loads(orjson.dumps(page)) == store.page(rows, 1, 4)
