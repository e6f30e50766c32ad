"""The words of the report's checks agree with their counts: "1 window", "2 windows",
never "1 windows" or "run(s)". Every check runs against real tables holding 0, 1 or 2 of
what it counts."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.types.json import Jsonb

from qbo_backfill.figures import ChunkFigures, ChunkRow
from qbo_backfill.report.checks import run_checks
from qbo_backfill.report.model import RunReport
from qbo_backfill.report.wording import plural
from qbo_backfill.windows import ExtractWindow

pytestmark = pytest.mark.db

# Singular -> plural of every noun a check counts.
NOUNS = {
    "window": "windows",
    "row": "rows",
    "id": "ids",
    "gap": "gaps",
    "overlap": "overlaps",
    "column": "columns",
    "payload": "payloads",
    "record": "records",
    "run": "runs",
}
SINGULAR = {many: one for one, many in NOUNS.items()}
START = date(2025, 1, 1)
REALM = "1"


def _windows(count: int, *, step: int = 10, length: int = 10) -> list[tuple[date, date]]:
    starts = [START + timedelta(days=i * step) for i in range(count)]
    return [(s, s + timedelta(days=length)) for s in starts]


def _tables(conn: psycopg.Connection, schema: str) -> None:
    """The columns the checks read, nothing more (no primary key: duplicates can exist)."""
    conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    for table, columns in (
        ("qbo_backfill_runs", "run_id int, realm_id text"),
        (
            "qbo_backfill_chunks",
            "run_id int, entity text, status text, window_start date, window_end date, "
            "rows_inserted int, rows_updated int, source_count_after int",
        ),
        ("qb_invoice", "realm_id text, id bigint, payload jsonb"),
    ):
        conn.execute(
            sql.SQL("CREATE TABLE {} (" + columns + ")").format(sql.Identifier(schema, table))
        )


def _insert(conn: psycopg.Connection, schema: str, table: str, rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    marks = sql.SQL(", ").join(sql.Placeholder() * len(rows[0]))
    query = sql.SQL("INSERT INTO {} VALUES ({})").format(sql.Identifier(schema, table), marks)
    conn.cursor().executemany(query, rows)


def _chunk(window: tuple[date, date], n: int, *, matched: bool, status: str) -> ChunkRow:
    figures = ChunkFigures(
        matched=matched,
        source_count_after=n,
        rows_in_table=n if matched else n + 1,
        rows_quarantined=n,
    )
    return ChunkRow(
        chunk_id=0,
        run_id=0,
        entity="Invoice",
        window=ExtractWindow(*window),
        status=status,
        figures=figures,
        last_error=None if status == "done" else "boom",
    )


def _good(conn: psycopg.Connection, schema: str, n: int) -> RunReport:
    """Run n + 1 re-extracts the n windows of runs 1..n: all is well, n of everything."""
    windows = _windows(n)
    current = n + 1
    _insert(conn, schema, "qbo_backfill_runs", [(r, REALM) for r in range(1, current + 1)])
    _insert(
        conn,
        schema,
        "qbo_backfill_chunks",
        [
            (run, "Invoice", "done", s, e, 0, 0, 1)
            for run in range(1, current + 1)
            for s, e in windows
        ],
    )
    _insert(
        conn, schema, "qb_invoice", [(REALM, i, Jsonb({"Id": str(i)})) for i in range(1, n + 1)]
    )
    chunks = [_chunk(w, n, matched=True, status="done") for w in windows]
    return _report(current, windows, chunks)


def _bad(conn: psycopg.Connection, schema: str, n: int) -> RunReport:
    """n of every fault: windows that differ or fail, gaps, overlaps, duplicate ids, NULLs,
    payloads that are not objects or hold another Id, rows inserted at a re-run."""
    gapped = _windows(n + 1, step=15)
    shift = gapped[-1][1] - START  # the overlapping windows start where the gapped end
    overlapping = [(s + shift, e + shift) for s, e in _windows(n + 1, step=5)]
    windows = gapped + overlapping
    current = n + 1
    _insert(conn, schema, "qbo_backfill_runs", [(r, REALM) for r in range(1, current + 1)])
    earlier = [
        (run, "Invoice", "done", s, e, 0, 0, 1) for run in range(1, n + 1) for s, e in gapped[:n]
    ]
    latest = [(current, "Invoice", "done", s, e, 1, 0, 1) for s, e in windows]
    _insert(conn, schema, "qbo_backfill_chunks", earlier + latest)
    rows = [(REALM, i, Jsonb({"Id": str(i)})) for i in range(1, n + 1)] * 2  # n ids twice
    rows += [(REALM, 100 + i, Jsonb({"Id": "0"})) for i in range(n)]  # n payloads with another Id
    rows += [(None, 200 + i, Jsonb([1])) for i in range(n)]  # n rows with a NULL, n not an object
    _insert(conn, schema, "qb_invoice", rows)
    chunks = [_chunk(w, n, matched=False, status="done") for w in windows[:n]]
    chunks += [_chunk(w, n, matched=True, status="failed") for w in windows[n : 2 * n]]
    return _report(current, windows, chunks)


def _report(run_id: int, windows: list[tuple[date, date]], chunks: list[ChunkRow]) -> RunReport:
    start, end = (windows[0][0], windows[-1][1]) if windows else (START, START)
    run = {"run_id": run_id, "entity": "Invoice", "realm_id": REALM}
    return RunReport(run | {"window_start": start, "window_end": end}, chunks)


def _disagreements(text: str) -> list[str]:
    """Every "<count> <noun>" whose noun does not agree with its count, and every "(s)"."""
    wrong = [m.group(0) for m in re.finditer(r"\b\w+\(s\)", text)]
    for match in re.finditer(r"\b(\d+) ([a-z]+)\b", text):
        count, word = int(match.group(1)), match.group(2)
        if (word in NOUNS and count != 1) or (word in SINGULAR and count == 1):
            wrong.append(match.group(0))
    for match in re.finditer(r"\b(runs?) (\d+(?:, \d+)*)", text):
        if (match.group(1) == "run") != ("," not in match.group(2)):
            wrong.append(match.group(0))
    return wrong


@pytest.mark.parametrize("n", [0, 1, 2])
@pytest.mark.parametrize("scenario", [_good, _bad])
def test_check_texts_agree_with_their_counts(
    scenario: Any, n: int, database_url: str, schema: str
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        _tables(conn, schema)
        run = scenario(conn, schema, n)
        checks = run_checks(conn, schema, run)
    texts = [f"{c.name}: {c.detail}" for c in checks]
    wrong = [w for t in texts for w in _disagreements(t)]
    assert not wrong, "\n".join(texts)
    if n:  # the counts are there to agree with
        assert any(re.search(rf"\b{n} ", t) for t in texts), texts


@pytest.mark.parametrize(
    ("count", "text"), [(0, "0 windows"), (1, "1 window"), (2, "2 windows"), (-1, "-1 windows")]
)
def test_plural(count: int, text: str) -> None:
    assert plural(count, "window") == text


def test_plural_of_an_irregular_word() -> None:
    assert plural(1, "entity", "entities") == "1 entity"
    assert plural(3, "entity", "entities") == "3 entities"
