"""Malformed API payloads: the sandbox behind a proxy that rewrites its query answers (a
record without `Id`, a non-numeric `Id`, the same `Id` three times in a page, wrong types,
deep nesting, a 5 MB string, NUL characters). Each bad record is handled by the rule in
`qbo_backfill.load.records` and no good row is lost; the ledger's figures account for every
record."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson
import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row
from tests.helpers import run_cli, sandbox_env, sandbox_rows, settings_for
from tests.reliability.harness import (
    assert_one_line_error,
    done_chunks_without_rows,
    record_figures,
)
from tests.reliability.rewriting_proxy import Raw, RewritingProxy, nested_text, page_rewrite

from qbo_backfill.entities import resolve_entity
from qbo_backfill.run.engine import BackfillOptions, BackfillResult, backfill
from qbo_backfill.sandbox import Sandbox, SandboxInfo
from qbo_backfill.settings import Settings
from qbo_backfill.windows import ExtractWindow

if TYPE_CHECKING:
    from tests.reliability.rewriting_proxy import Rewrite

pytestmark = pytest.mark.db

WINDOW = ExtractWindow(date(2024, 1, 1), date(2026, 1, 1))
PAGE_SIZE = 20
CHUNK_DAYS = 365
BAD_ID_REASON = "Id is missing or not a number"
BAD_TIME_REASON = "MetaData.LastUpdatedTime is missing or unreadable"

# Record id -> what the proxy sends in its place (any number of values, records or not).
Mutations = dict[int, Callable[[dict[str, Any]], list[Any]]]


@pytest.fixture
def sandbox_config() -> dict[str, Any]:
    return {"customers": 10, "items": 5, "invoices": 90}


@pytest.fixture
def proxy(sandbox: Sandbox) -> Iterator[RewritingProxy]:
    with RewritingProxy(sandbox.info.base_url) as running:
        yield running


@dataclass
class ProxiedCopy:
    """Invoice copied from the sandbox, through the rewriting proxy, into the test's schema."""

    sandbox: Sandbox
    proxy: RewritingProxy
    database_url: str
    schema: str
    home: Path

    @property
    def info(self) -> SandboxInfo:
        """The sandbox's addresses and credentials, with the proxy in the sandbox's place."""
        token_url = self.proxy.base_url + urlsplit(self.sandbox.info.token_url).path
        return replace(self.sandbox.info, base_url=self.proxy.base_url, token_url=token_url)

    def settings(self) -> Settings:
        return settings_for(
            self.info,
            self.database_url,
            self.schema,
            self.home,
            retry_attempts="2",
            throttle_wait_seconds="0.2",
            requests_per_minute="60000",
        )

    def run(
        self, mutations: Mutations, page_size: int = PAGE_SIZE, rewrite: Rewrite | None = None
    ) -> BackfillResult:
        """Back up Invoice with `mutations` (or `rewrite`) applied to every page passed on."""

        def mutate(records: list[Any]) -> list[Any]:
            out: list[Any] = []
            for record in records:
                change = mutations.get(int(record["Id"]))
                out.extend(change(copy.deepcopy(record)) if change else [record])
            return out

        self.proxy.rewrite = rewrite or page_rewrite("Invoice", mutate)
        result = backfill(self.settings(), invoice_options(page_size))
        assert self.proxy.rewritten > 0, "the proxy rewrote no page"
        return result

    def source(self) -> dict[int, dict[str, Any]]:
        return sandbox_rows(self.sandbox, "Invoice")

    def pick(self, count: int) -> list[int]:
        """`count` invoice ids spread over the data set (so over several pages and chunks)."""
        ids = sorted(self.source())
        step = len(ids) // (count + 1)
        return [ids[step * (n + 1)] for n in range(count)]

    def table(self) -> dict[int, Any]:
        """id -> payload (parsed with orjson: the standard library stops short of 1,000
        levels)."""
        query = sql.SQL("SELECT id, payload::text FROM {}").format(
            sql.Identifier(self.schema, "qb_invoice")
        )
        with psycopg.connect(self.database_url) as conn:
            rows = conn.execute(query).fetchall()
        return {int(row[0]): orjson.loads(row[1]) for row in rows}

    def quarantine(self) -> list[dict[str, Any]]:
        return self._ledger("qbo_backfill_quarantine", "quarantine_id")

    def chunks(self) -> list[dict[str, Any]]:
        return self._ledger("qbo_backfill_chunks", "window_start")

    def _ledger(self, table: str, order: str) -> list[dict[str, Any]]:
        query = sql.SQL("SELECT * FROM {} ORDER BY {}").format(
            sql.Identifier(self.schema, table), sql.Identifier(order)
        )
        with psycopg.connect(self.database_url, row_factory=dict_row) as conn:
            return conn.execute(query).fetchall()

    def assert_others_exact(self, bad: Collection[int]) -> dict[int, Any]:
        """The copy succeeded for every record but `bad`: each stored exactly as the sandbox
        holds it. Returns the table, for the test to look at the bad ones."""
        stored = self.table()
        source = self.source()
        assert {i: r for i, r in stored.items() if i not in bad} == {
            i: r for i, r in source.items() if i not in bad
        }
        return stored

    def assert_reconciled(self, *, quarantined: int, duplicates: int = 0) -> dict[str, int]:
        """Every chunk done and matched; the ledger's figures equal what the tables hold."""
        rows = self.chunks()
        assert all(c["status"] == "done" and c["matched"] for c in rows), rows
        assert done_chunks_without_rows(self.database_url, self.schema) == []
        in_table = sum(c["rows_in_table"] for c in rows)
        figures = {
            "source_count": sum(c["source_count_after"] for c in rows),
            "rows_in_table": in_table,
            "rows_quarantined": sum(c["rows_quarantined"] for c in rows),
            "source_duplicates": sum(c["source_duplicates"] for c in rows),
        }
        assert in_table == len(self.table())
        assert figures["rows_quarantined"] == quarantined == len(self.quarantine())
        assert figures["source_duplicates"] == duplicates
        assert figures["source_count"] == in_table + quarantined
        return figures

    def refetches(self) -> int:
        return sum(c["refetches"] for c in self.chunks())


@pytest.fixture
def proxied(
    sandbox: Sandbox, proxy: RewritingProxy, database_url: str, schema: str, home: Path
) -> ProxiedCopy:
    return ProxiedCopy(sandbox, proxy, database_url, schema, home)


def invoice_options(page_size: int = PAGE_SIZE) -> BackfillOptions:
    return BackfillOptions(
        entities=(resolve_entity("Invoice"),),
        window=WINDOW,
        chunk_days=CHUNK_DAYS,
        page_size=page_size,
    )


# ---- records quarantined: no numeric Id, no readable LastUpdatedTime ----------------------


def _without_id(r: dict[str, Any]) -> list[Any]:
    del r["Id"]
    return [r]


def _with(key: str, value: Any) -> Callable[[dict[str, Any]], list[Any]]:
    def change(r: dict[str, Any]) -> list[Any]:
        r[key] = value
        return [r]

    return change


QUARANTINED: dict[str, tuple[Callable[[dict[str, Any]], list[Any]], str | None, str]] = {
    # case -> (mutation, record_id kept in the quarantine row, reason)
    "missing Id": (_without_id, None, BAD_ID_REASON),
    "non-numeric Id": (_with("Id", "abc"), "abc", BAD_ID_REASON),
    "negative Id": (_with("Id", "-7"), "-7", BAD_ID_REASON),
    "Id of 19 digits": (_with("Id", "1" * 19), "1" * 19, BAD_ID_REASON),
    "Id is an object": (_with("Id", {"value": "5"}), "{'value': '5'}", BAD_ID_REASON),
    "MetaData is a string": (_with("MetaData", "yesterday"), "<id>", BAD_TIME_REASON),
    "LastUpdatedTime without offset": (
        _with("MetaData", {"LastUpdatedTime": "2025-01-01T10:00:00"}),
        "<id>",
        BAD_TIME_REASON,
    ),
    "record is not an object": (lambda r: ["not a record"], None, "record is not a JSON object"),
}


@pytest.mark.parametrize("case", list(QUARANTINED))
def test_a_record_without_numeric_id_or_time_is_quarantined_and_its_page_loads(
    case: str, proxied: ProxiedCopy
) -> None:
    mutation, record_id, reason = QUARANTINED[case]
    bad = proxied.pick(1)[0]
    sent: list[Any] = []
    result = proxied.run({bad: lambda r: sent.extend(mutation(r)) or sent[-1:]})
    assert result.ok, result.entities
    source = proxied.source()
    assert proxied.table() == {i: r for i, r in source.items() if i != bad}
    rows = proxied.quarantine()
    assert len(rows) == 1, rows
    assert rows[0]["reason"] == reason
    assert rows[0]["record_id"] == (str(bad) if record_id == "<id>" else record_id)
    assert rows[0]["entity"] == "Invoice"
    assert json.loads(rows[0]["payload"]) == sent[-1]
    figures = proxied.assert_reconciled(quarantined=1)
    record_figures(f"malformed payloads: {case}", figures)


# ---- the same Id more than once in a page: the newest is kept -----------------------------


def _three_versions(r: dict[str, Any]) -> list[Any]:
    newer = copy.deepcopy(r) | {"PrivateNote": "newer", "SyncToken": "9"}
    newer["MetaData"] = r["MetaData"] | {"LastUpdatedTime": "2030-01-01T00:00:00-08:00"}
    older = copy.deepcopy(r) | {"PrivateNote": "older"}
    older["MetaData"] = r["MetaData"] | {"LastUpdatedTime": "2020-01-01T00:00:00-08:00"}
    return [newer, r, older]  # the newest first: position in the page does not decide


def test_the_same_id_three_times_in_a_page_keeps_the_newest(proxied: ProxiedCopy) -> None:
    bad = proxied.pick(2)
    result = proxied.run(dict.fromkeys(bad, _three_versions))
    assert result.ok, result.entities
    stored = proxied.assert_others_exact(bad)
    source = proxied.source()
    for i in bad:
        assert stored[i] == _three_versions(copy.deepcopy(source[i]))[0]
    assert proxied.quarantine() == []
    figures = proxied.assert_reconciled(quarantined=0, duplicates=2 * len(bad))
    record_figures("malformed payloads: duplicate Id in a page", figures)


def test_duplicates_and_a_quarantined_record_in_a_window_of_one_short_page(
    proxied: ProxiedCopy,
) -> None:
    """A window read in one page takes that page's length as its count: duplicates must not
    inflate it, nor a second pass quarantine a record twice."""
    dup, gone = sorted(proxied.source())[10:13:2]  # one window
    result = proxied.run({dup: _three_versions, gone: _without_id}, page_size=1000)
    assert result.ok, result.entities
    stored = proxied.assert_others_exact((dup, gone))
    assert gone not in stored
    assert stored[dup] == _three_versions(copy.deepcopy(proxied.source()[dup]))[0]
    rows = proxied.quarantine()
    assert [(r["record_id"], r["reason"]) for r in rows] == [(None, BAD_ID_REASON)]
    figures = proxied.assert_reconciled(quarantined=1, duplicates=2)
    figures["refetches"] = proxied.refetches()
    record_figures("malformed payloads: duplicates and quarantine in one short page", figures)


def test_a_window_paged_again_quarantines_its_bad_record_once(proxied: ProxiedCopy) -> None:
    """The count moves once while a window with a quarantined record is paged: the window is
    paged again, and the quarantine holds the record once, as the ledger counts it."""
    gone = proxied.pick(1)[0]
    day = proxied.source()[gone]["TxnDate"]
    pages = page_rewrite(
        "Invoice",
        lambda records: [
            r
            for record in records
            for r in (_without_id(record) if int(record["Id"]) == gone else [record])
        ],
    )
    moved: list[str] = []

    def rewrite(text: str, body: dict[str, Any]) -> bytes | None:
        start, end = re.findall(r"'(\d{4}-\d\d-\d\d)'", text)[:2]
        if "COUNT(*)" in text and not moved and start <= day < end:
            moved.append(text)
            body["QueryResponse"]["totalCount"] += 1
            return json.dumps(body).encode()
        return pages(text, body)

    # Several pages a window: one short page would be the window at one instant, not recounted.
    result = proxied.run({}, rewrite=rewrite)
    assert result.ok, result.entities
    assert moved
    source = proxied.source()
    assert proxied.table() == {i: r for i, r in source.items() if i != gone}
    assert len(proxied.quarantine()) == 1
    figures = proxied.assert_reconciled(quarantined=1)
    figures["refetches"] = proxied.refetches()
    assert figures["refetches"] >= 1
    record_figures("malformed payloads: quarantine in a window paged again", figures)


# ---- stored as they are: wrong types, deep nesting, a huge string, NUL escaped ------------

HUGE = 5 * 1024 * 1024

STORED_AS_IS: dict[str, tuple[Callable[[dict[str, Any]], list[Any]], Callable[[Any], Any]]] = {
    # case -> (mutation, what the stored payload must equal given the sandbox's record)
    "TotalAmt is a string": (
        _with("TotalAmt", "12.50 USD"),
        lambda r: r | {"TotalAmt": "12.50 USD"},
    ),
    "Line is a number": (_with("Line", 7), lambda r: r | {"Line": 7}),
    "Id is a JSON number": (_with("Id", 0), None),  # replaced per record below
    "5 MB string": (_with("PrivateNote", "x" * HUGE), lambda r: r | {"PrivateNote": "x" * HUGE}),
    "unicode beyond the BMP and escapes": (
        _with("PrivateNote", 'tab\t "quoted" \\ back \U0001f600 \u2028'),
        lambda r: r | {"PrivateNote": 'tab\t "quoted" \\ back \U0001f600 \u2028'},
    ),
}


@pytest.mark.parametrize("case", list(STORED_AS_IS))
def test_wrong_types_deep_nesting_and_huge_strings_are_stored_as_they_are(
    case: str, proxied: ProxiedCopy
) -> None:
    mutation, expected = STORED_AS_IS[case]
    bad = proxied.pick(1)[0]
    if case == "Id is a JSON number":
        mutation, expected = _with("Id", bad), lambda r: r | {"Id": bad}
    result = proxied.run({bad: mutation})
    assert result.ok, result.entities
    stored = proxied.assert_others_exact({bad})
    assert stored[bad] == expected(proxied.source()[bad])
    assert proxied.quarantine() == []
    figures = proxied.assert_reconciled(quarantined=0)
    record_figures(f"malformed payloads: {case}", figures)


def test_nul_characters_are_stored_escaped_and_read_back_as_jsonb(proxied: ProxiedCopy) -> None:
    bad = proxied.pick(1)[0]

    def nul(r: dict[str, Any]) -> list[Any]:
        r["PrivateNote"] = "before\u0000after"
        r["CustomField"][0]["StringValue"] = "\u0000"
        r["Nul\u0000Key"] = ["a\\u0000 is not a NUL", "\u0000\u0000"]
        return [r]

    result = proxied.run({bad: nul})
    assert result.ok, result.entities
    stored = proxied.assert_others_exact({bad})
    expected = copy.deepcopy(proxied.source()[bad])
    expected["PrivateNote"] = "before\\u0000after"
    expected["CustomField"][0]["StringValue"] = "\\u0000"
    expected["Nul\\u0000Key"] = ["a\\u0000 is not a NUL", "\\u0000\\u0000"]
    assert stored[bad] == expected
    # JSONB reads it back as JSON: operators work on the escaped text.
    with psycopg.connect(proxied.database_url) as conn:
        note = conn.execute(
            sql.SQL("SELECT payload->>'PrivateNote' FROM {} WHERE id = %s").format(
                sql.Identifier(proxied.schema, "qb_invoice")
            ),
            (bad,),
        ).fetchone()
    assert note == ("before\\u0000after",)
    # The original is recoverable: the escaped text decodes back to the NUL.
    assert json.loads(f'"{stored[bad]["PrivateNote"]}"') == "before\u0000after"
    assert proxied.quarantine() == []
    figures = proxied.assert_reconciled(quarantined=0)
    record_figures("malformed payloads: NUL in strings", figures)


# The answer's own levels above a custom field's value: the body, QueryResponse, the record
# list, the record, CustomField and its entry. orjson parses 1,024 levels in all.
OUTER_LEVELS = 6
PARSER_LIMIT = 1024


@pytest.mark.parametrize("depth", [300, 500, PARSER_LIMIT - OUTER_LEVELS])
def test_nesting_up_to_the_parser_limit_is_stored_as_it_came(
    depth: int, proxied: ProxiedCopy
) -> None:
    bad = proxied.pick(1)[0]

    def deep(r: dict[str, Any]) -> list[Any]:
        r["CustomField"] = [
            *r["CustomField"],
            {"DefinitionId": "9", "Deep": Raw(nested_text(depth))},
        ]
        return [r]

    result = proxied.run({bad: deep})
    assert result.ok, result.entities
    proxied.assert_others_exact({bad})
    # Compared as text: Python's own comparison and json module recurse past their limit.
    with psycopg.connect(proxied.database_url) as conn:
        row = conn.execute(
            sql.SQL(
                "SELECT (payload #- %s::text[])::text, (payload #> %s::text[])::text"
                " FROM {} WHERE id = %s"
            ).format(sql.Identifier(proxied.schema, "qb_invoice")),
            (["CustomField", "1"], ["CustomField", "1", "Deep"], bad),
        ).fetchone()
    assert row is not None
    assert orjson.loads(row[0]) == proxied.source()[bad]
    assert row[1] == '{"d": ' * depth + '"bottom"' + "}" * depth
    assert proxied.quarantine() == []
    figures = proxied.assert_reconciled(quarantined=0)
    record_figures(f"malformed payloads: nested {depth} levels", figures)


# ---- a page no parser accepts: the chunk fails, nothing of it is written ------------------

TOO_DEEP = PARSER_LIMIT - OUTER_LEVELS + 1  # one level too many: the page is unreadable


def test_a_page_nested_past_the_parser_limit_fails_its_chunk_and_writes_nothing_of_it(
    proxied: ProxiedCopy,
) -> None:
    bad = proxied.pick(1)[0]

    def too_deep(r: dict[str, Any]) -> list[Any]:
        r["CustomField"] = [{"DefinitionId": "9", "Deep": Raw(nested_text(TOO_DEEP))}]
        return [r]

    result = proxied.run({bad: too_deep})
    assert not result.ok
    assert result.entities[0].status == "failed"
    rows = proxied.chunks()
    failed = [c for c in rows if c["status"] != "done"]
    assert len(failed) == 1, rows
    assert "depth" in failed[0]["last_error"], failed[0]["last_error"]
    start, end = failed[0]["window_start"].isoformat(), failed[0]["window_end"].isoformat()
    source = proxied.source()
    in_failed = {i for i, r in source.items() if start <= r["TxnDate"] < end}
    assert bad in in_failed
    # Nothing of the failed chunk is written; every other chunk loaded exactly.
    assert proxied.table() == {i: r for i, r in source.items() if i not in in_failed}
    assert proxied.quarantine() == []
    assert done_chunks_without_rows(proxied.database_url, proxied.schema) == []

    # The CLI says so in one line with exit code 1; the same run is resumed, not restarted.
    env = sandbox_env(
        proxied.info, proxied.database_url, proxied.schema, proxied.home, QBO_RETRY_ATTEMPTS="2"
    )
    args = ["backfill", "Invoice", "--start", "2024-01-01", "--end", "2026-01-01"]
    args += ["--chunk-days", str(CHUNK_DAYS), "--page-size", str(PAGE_SIZE)]
    done = run_cli(args, env, cwd=proxied.home, timeout=120)
    assert done.returncode == 1, done.stderr[-2000:]
    line = assert_one_line_error(done.stderr)
    assert "depth" in line, line

    # Once the source answers readable pages again, the next run completes the copy.
    proxied.proxy.rewrite = None
    again = backfill(proxied.settings(), invoice_options())
    assert again.ok, again.entities
    assert proxied.table() == source
    figures = proxied.assert_reconciled(quarantined=0)
    record_figures("malformed payloads: nested past the parser's limit", figures)


def test_an_entity_key_that_is_not_a_list_fails_its_chunks_with_a_clear_reason(
    proxied: ProxiedCopy,
) -> None:
    def not_a_list(_text: str, body: dict[str, Any]) -> bytes | None:
        answer = body.get("QueryResponse")
        if not isinstance(answer, dict) or not isinstance(answer.get("Invoice"), list):
            return None
        answer["Invoice"] = 5
        return json.dumps(body).encode()

    result = proxied.run({}, rewrite=not_a_list)
    assert not result.ok
    failed = [c for c in proxied.chunks() if c["status"] == "failed"]
    assert failed
    assert all("Invoice is not a list" in c["last_error"] for c in failed)
    assert proxied.table() == {}
    assert done_chunks_without_rows(proxied.database_url, proxied.schema) == []
