"""Validation checks of a run, computed in SQL against the ledger and the raw tables.

Per run: every chunk done; every window reconciled (source `COUNT(*)` = rows in the table);
windows cover the requested range with no gap and no overlap; no duplicate
`(realm_id, id)`; no NULL in any column; payload `Id` = the `id` column; quarantined
records; and, when the same windows were extracted again by a later run, that the re-run
wrote nothing new.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from qbo_backfill.entities import resolve_entity
from qbo_backfill.load.db import table_exists
from qbo_backfill.load.ledger import CHUNKS, RUNS
from qbo_backfill.report.model import Check, CheckStatus, RunReport
from qbo_backfill.report.wording import agree, plural


def run_checks(conn: psycopg.Connection, schema: str, run: RunReport) -> list[Check]:
    """Every check of one run, in a fixed order."""
    checks = [_chunks_done(run), _reconciled(run), window_coverage(conn, schema, run)]
    table = resolve_entity(run.entity).table_name
    realm = str(run.run["realm_id"])
    if table_exists(conn, schema, table):
        raw = sql.Identifier(schema, table)
        checks += [
            unique_ids(conn, raw, table, realm),
            no_nulls(conn, schema, table),
            payload_ids(conn, raw, table, realm),
        ]
    else:
        checks.append(Check("raw table", CheckStatus.FAIL, f"{schema}.{table} does not exist"))
    checks += [_quarantined(run), rerun_idempotence(conn, schema, run)]
    return checks


def _chunks_done(run: RunReport) -> Check:
    failed = [c for c in run.chunks if c.status != "done"]
    if not run.chunks:
        return Check("chunks done", CheckStatus.FAIL, "the run has no chunks (never planned)")
    if not failed:
        return Check("chunks done", CheckStatus.PASS, f"{len(run.chunks)} of {len(run.chunks)}")
    first = failed[0]
    error = f"; first: {first.window} {first.last_error}" if first.last_error else ""
    return Check(
        "chunks done",
        CheckStatus.FAIL,
        f"{len(run.chunks) - len(failed)} of {len(run.chunks)}; {len(failed)} not done{error}",
    )


def _reconciled(run: RunReport) -> Check:
    done = [c for c in run.chunks if c.status == "done"]
    bad = [c for c in done if c.figures.matched is not True]
    if not done:
        return Check("source = loaded", CheckStatus.NOT_CHECKED, "no chunk finished")
    if not bad:
        source = sum(c.figures.source_count_after or 0 for c in done)
        return Check(
            "source = loaded",
            CheckStatus.PASS,
            f"{plural(len(done), 'window')}, {plural(source, 'row')} at source",
        )
    listed = ", ".join(
        f"{c.window} source {c.figures.source_count_after} table {c.figures.rows_in_table}"
        for c in bad[:5]
    )
    differ = f"{plural(len(bad), 'window')} {agree(len(bad), 'differs', 'differ')}"
    return Check("source = loaded", CheckStatus.FAIL, f"{differ}: {listed}")


def _quarantined(run: RunReport) -> Check:
    count = sum(c.figures.rows_quarantined for c in run.chunks)
    if count == 0:
        return Check("quarantined records", CheckStatus.PASS, "none")
    return Check(
        "quarantined records",
        CheckStatus.WARN,
        f"{plural(count, 'record')} kept aside with their reason in qbo_backfill_quarantine",
    )


def window_coverage(conn: psycopg.Connection, schema: str, run: RunReport) -> Check:
    """The run's windows tile `[start, end)` exactly: each starts where the last ended."""
    row = conn.execute(
        sql.SQL(_COVERAGE).format(chunks=sql.Identifier(schema, CHUNKS)), (run.run_id,)
    ).fetchone()
    windows, first_start, last_end, gaps, overlaps, examples = row or (0, None, None, 0, 0, None)
    wanted = (run.run["window_start"], run.run["window_end"])
    problems = []
    if windows == 0:
        problems.append("no windows")
    elif (first_start, last_end) != wanted:
        problems.append(
            f"windows span [{first_start}, {last_end}), asked [{wanted[0]}, {wanted[1]})"
        )
    if gaps:
        problems.append(plural(gaps, "gap"))
    if overlaps:
        problems.append(plural(overlaps, "overlap"))
    if problems:
        detail = "; ".join(problems) + (f" at {examples}" if examples else "")
        return Check("windows cover the range", CheckStatus.FAIL, detail)
    return Check(
        "windows cover the range",
        CheckStatus.PASS,
        f"{plural(windows, 'window')} {agree(windows, 'tiles', 'tile')} [{first_start}, "
        f"{last_end}) with no gap or overlap",
    )


_COVERAGE = """
WITH w AS (
    SELECT window_start, window_end,
           lag(window_end) OVER (ORDER BY window_start, window_end) AS prev_end
    FROM {chunks} WHERE run_id = %s
)
SELECT count(*), min(window_start), max(window_end),
       count(*) FILTER (WHERE prev_end < window_start),
       count(*) FILTER (WHERE prev_end > window_start),
       string_agg(CASE WHEN prev_end <> window_start
                       THEN format('%%s->%%s', prev_end, window_start) END, ', ')
FROM w
"""


def unique_ids(conn: psycopg.Connection, raw: sql.Identifier, table: str, realm: str) -> Check:
    """No `id` twice for the realm (the primary key says so; this proves it)."""
    row = conn.execute(
        sql.SQL(
            "SELECT count(*), coalesce(sum(n), 0) FROM ("
            " SELECT count(*) AS n FROM {} WHERE realm_id = %s GROUP BY id HAVING count(*) > 1"
            ") d"
        ).format(raw),
        (realm,),
    ).fetchone()
    ids, rows = row or (0, 0)
    if ids:
        return Check(
            "no duplicate ids",
            CheckStatus.FAIL,
            f"{plural(ids, 'id')} {agree(ids, 'appears', 'appear')} more than once "
            f"({plural(rows, 'row')})",
        )
    total = _count(conn, sql.SQL("SELECT count(*) FROM {} WHERE realm_id = %s").format(raw), realm)
    return Check(
        "no duplicate ids", CheckStatus.PASS, f"{plural(total, 'row')} in {table}, each id once"
    )


def no_nulls(conn: psycopg.Connection, schema: str, table: str) -> Check:
    """No NULL in any column of the table (but `deleted_at_utc`, NULL while a record
    lives), and every payload a JSON object."""
    columns = [
        r[0]
        for r in conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s AND column_name <> 'deleted_at_utc' "
            "ORDER BY ordinal_position",
            (schema, table),
        )
    ]
    query = sql.SQL(
        "SELECT count(*) FILTER (WHERE num_nulls({}) > 0), "
        "count(*) FILTER (WHERE jsonb_typeof(payload) IS DISTINCT FROM 'object') FROM {}"
    ).format(sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(schema, table))
    row = conn.execute(query).fetchone()
    with_null, not_object = row or (0, 0)
    if with_null or not_object:
        return Check(
            "no NULLs",
            CheckStatus.FAIL,
            f"{plural(with_null, 'row')} with a NULL column, "
            f"{plural(not_object, 'payload')} not a JSON object",
        )
    return Check("no NULLs", CheckStatus.PASS, f"{plural(len(columns), 'column')}, none NULL")


def payload_ids(conn: psycopg.Connection, raw: sql.Identifier, table: str, realm: str) -> Check:
    """The payload's `Id` is the row's `id`: the row holds the record it claims to."""
    bad = _count(
        conn,
        sql.SQL(
            "SELECT count(*) FROM {} "
            "WHERE realm_id = %s AND (payload->>'Id') IS DISTINCT FROM id::text"
        ).format(raw),
        realm,
    )
    if bad:
        differ = f"{plural(bad, 'row')} in {table} {agree(bad, 'differs', 'differ')}"
        return Check("payload Id = id", CheckStatus.FAIL, differ)
    return Check("payload Id = id", CheckStatus.PASS, f"every row of {table}")


def rerun_idempotence(conn: psycopg.Connection, schema: str, run: RunReport) -> Check:
    """When this run re-extracted windows an earlier run had done: it wrote nothing new.

    A re-run may legitimately update rows that changed at the source in between; a row
    inserted into a window whose source count did not move means the earlier run missed it.
    """
    rows = conn.execute(
        sql.SQL(_RERUN).format(
            chunks=sql.Identifier(schema, CHUNKS), runs=sql.Identifier(schema, RUNS)
        ),
        (run.run_id,),
    ).fetchall()
    if not rows:
        return Check(
            "re-run idempotence", CheckStatus.NOT_CHECKED, "no earlier run of these windows"
        )
    earlier = sorted({r[5] for r in rows})
    written = [r for r in rows if r[1] or r[2]]
    missed = [r for r in written if r[1] and r[3] == r[4]]
    after = f"{agree(len(earlier), 'run')} {', '.join(map(str, earlier))}"
    basis = f"{plural(len(rows), 'window')} re-run after {after}"
    if missed:
        return Check(
            "re-run idempotence",
            CheckStatus.FAIL,
            f"{basis}: {plural(sum(r[1] for r in missed), 'row')} inserted where the source count "
            f"had not changed (first window {missed[0][0]})",
        )
    if written:
        return Check(
            "re-run idempotence",
            CheckStatus.WARN,
            f"{basis}: {sum(r[1] for r in written)} inserted, {sum(r[2] for r in written)} "
            "updated in windows that changed at the source",
        )
    return Check("re-run idempotence", CheckStatus.PASS, f"{basis}: nothing inserted or updated")


_RERUN = """
SELECT format('[%%s, %%s)', c.window_start, c.window_end), c.rows_inserted, c.rows_updated,
       c.source_count_after, p.source_count_after, p.run_id
FROM {chunks} c
JOIN {runs} r ON r.run_id = c.run_id
JOIN LATERAL (
    SELECT pc.run_id, pc.source_count_after FROM {chunks} pc
    JOIN {runs} pr ON pr.run_id = pc.run_id
    WHERE pr.realm_id = r.realm_id AND pc.entity = c.entity AND pc.status = 'done'
      AND pc.window_start = c.window_start AND pc.window_end = c.window_end
      AND pc.run_id < c.run_id
    ORDER BY pc.run_id DESC LIMIT 1
) p ON true
WHERE c.run_id = %s AND c.status = 'done'
ORDER BY c.window_start
"""


def _count(conn: psycopg.Connection, query: sql.Composed, *params: Any) -> int:
    row = conn.execute(query, params).fetchone()
    return int(row[0]) if row else 0
