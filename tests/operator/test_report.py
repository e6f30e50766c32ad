"""`report` from real runs against the sandbox and PostgreSQL: every format, the selections,
and checks that fail when the evidence is wrong."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from tests.helpers import YEAR_2025_ARGS, YEAR_2025_CHUNKS, AssertNoSecrets, Cli, stored_secrets

from qbo_backfill.figures import ChunkFigures, ChunkRow
from qbo_backfill.report import (
    CheckStatus,
    Report,
    Selection,
    load_report,
    request_rate,
)
from qbo_backfill.report.html import render_html
from qbo_backfill.report.rate import MAX_RATE_POINTS, measured_rate
from qbo_backfill.sandbox import Sandbox
from qbo_backfill.windows import ExtractWindow

CHECKS = (
    "chunks done",
    "source = loaded",
    "windows cover the range",
    "no duplicate ids",
    "no NULLs",
    "payload Id = id",
    "quarantined records",
    "re-run idempotence",
)


def invoices_2025(sandbox: Sandbox) -> int:
    return sum(r["TxnDate"].startswith("2025") for r in sandbox.records("Invoice"))


def statuses(report: Report, run_id: int) -> dict[str, CheckStatus]:
    run = next(r for r in report.runs if r.run_id == run_id)
    return {c.name: c.status for c in run.checks}


def load(database_url: str, schema: str, *run_ids: int) -> Report:
    with psycopg.connect(database_url) as conn:
        return load_report(conn, schema, Selection(run_ids=run_ids))


@pytest.fixture
def two_sessions(cli: Cli) -> Cli:
    """Customer (run 1), then Invoice (run 2), then the Invoice windows again with --force
    (run 3, the newest session), which is what the idempotence check compares. One command
    per run: entities of one command run side by side, so their run ids are in any order."""
    for entity in ("Customer", "Invoice"):
        first = cli.run("backfill", entity, *YEAR_2025_ARGS)
        assert first.returncode == 0, first.stderr
    again = cli.run("backfill", "Invoice", *YEAR_2025_ARGS, "--force")
    assert again.returncode == 0, again.stderr
    return cli


@pytest.mark.db
def test_every_format_from_a_real_run(
    two_sessions: Cli,
    sandbox: Sandbox,
    database_url: str,
    schema: str,
    tmp_path: Path,
    assert_no_secrets: AssertNoSecrets,
) -> None:
    cli = two_sessions
    expected_rows = invoices_2025(sandbox)
    results = [
        cli.run("report"),  # --last is the default: session 2, run 3 only
        cli.run("report", "--entity", "invoice", "--format", "json"),
        cli.run("report", "--run", "1", "--run", "2", "--format", "csv"),
        cli.run("report", "--format", "html"),
        cli.run("report", "--last", "--out", str(tmp_path / "evidence")),
    ]
    for result in results:
        assert result.returncode == 0, result.stderr
    table, as_json, as_csv, html, archived = (r.stdout for r in results)
    check_table(table)
    check_json(as_json, expected_rows)
    check_csv(as_csv, expected_rows)
    assert_self_contained(html)
    for chart in ("rows-per-window", "source-vs-loaded", "request-rate"):
        assert f"data-chart='{chart}'" in html
    files = check_archive(tmp_path / "evidence", archived)

    secrets = stored_secrets(database_url, schema, cli.cipher())
    assert_no_secrets(
        [r.stdout + r.stderr for r in results] + files,
        [*secrets, cli.env["QBO_CLIENT_SECRET"], cli.env["QBO_REFRESH_TOKEN"]],
    )


def check_table(text: str) -> None:
    assert "Invoice, run 3," in text
    assert "run 2," not in text
    assert "2025-01-01..2025-01-31" in text
    for name in CHECKS:
        assert re.search(re.escape(name) + r"\s*│ pass ", text), name
    assert "│ fail" not in text
    assert "all checks pass (8 pass, 0 warn, 0 fail, 0 not checked)" in text


def check_json(text: str, expected_rows: int) -> None:
    data = json.loads(text)
    assert data["ok"] is True
    assert [r["run"]["run_id"] for r in data["runs"]] == [2, 3]
    for run in data["runs"]:
        assert len(run["chunks"]) == YEAR_2025_CHUNKS
        for total in ("rows_extracted", "source_count_after", "rows_in_table"):
            assert run["totals"][total] == expected_rows, total
        assert sum(c["rows_extracted"] for c in run["chunks"]) == expected_rows
        assert all(c["matched"] and c["attempts"] == 1 for c in run["chunks"])
        assert all(c["duration_ms"] is not None and c["api_calls"] >= 1 for c in run["chunks"])
    first, forced = data["runs"]
    assert first["totals"]["rows_inserted"] == expected_rows
    assert forced["totals"]["rows_unchanged"] == expected_rows
    assert {c["check"]: c["status"] for c in forced["checks"]} == dict.fromkeys(CHECKS, "pass")
    first_checks = {c["check"]: c["status"] for c in first["checks"]}
    assert first_checks["re-run idempotence"] == "not checked"
    assert data["request_rate"], "no request-rate points"
    assert "run_key" not in first["run"]


def check_csv(text: str, expected_rows: int) -> None:
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 1 + YEAR_2025_CHUNKS
    assert rows[0]["entity"] == "Customer"
    assert rows[0]["window_start"] == "1900-01-01"
    assert sum(int(r["rows_extracted"]) for r in rows[1:]) == expected_rows
    wanted = {"pages", "rows_inserted", "source_count_after", "throttled", "duration_ms"}
    assert wanted <= set(rows[0])


def check_archive(out: Path, printed: str) -> list[str]:
    names = {"report.txt", "report.json", "report-chunks.csv", "report-checks.csv", "report.html"}
    names |= {"report-views.csv", "report-money.csv"}
    assert {p.name for p in out.iterdir()} == names
    for name in names:
        assert f"wrote {out / name}" in printed
    archived_json = json.loads((out / "report.json").read_text())
    assert [r["run"]["run_id"] for r in archived_json["runs"]] == [3]
    text = (out / "report.txt").read_text()
    assert "re-run idempotence" in text
    assert "\x1b[" not in text
    check_rows = list(csv.DictReader(io.StringIO((out / "report-checks.csv").read_text())))
    assert [r["check"] for r in check_rows] == list(CHECKS)
    assert len(list(csv.DictReader(io.StringIO((out / "report-chunks.csv").read_text())))) == (
        YEAR_2025_CHUNKS
    )
    assert_self_contained((out / "report.html").read_text())
    return [p.read_text() for p in out.iterdir()]


def assert_self_contained(html: str) -> None:
    """Nothing in the page is fetched: no external script, style, image, font or link."""
    assert html.startswith("<!doctype html>")
    without_svg_namespace = html.replace("xmlns='http://www.w3.org/2000/svg'", "")
    assert not re.search(r"https?://", without_svg_namespace)
    assert not re.search(r"\b(src|href)\s*=", html)
    assert "<link" not in html
    assert "@import" not in html
    assert "url(" not in html


@pytest.mark.db
def test_checks_fail_when_the_raw_table_or_the_ledger_is_wrong(
    two_sessions: Cli, database_url: str, schema: str
) -> None:
    assert set(statuses(load(database_url, schema, 2), 2).values()) == {
        CheckStatus.PASS,
        CheckStatus.NOT_CHECKED,
    }
    raw = sql.Identifier(schema, "qb_invoice")
    chunks = sql.Identifier(schema, "qbo_backfill_chunks")
    with psycopg.connect(database_url, autocommit=True) as conn:
        # A table without its primary key, as the seed's pipelines could produce.
        conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT qb_invoice_pkey").format(raw))
        conn.execute(sql.SQL("INSERT INTO {0} SELECT * FROM {0} ORDER BY id LIMIT 1").format(raw))
        conn.execute(
            sql.SQL(
                "UPDATE {} SET payload = jsonb_set(payload, '{{Id}}', '\"999999\"') "
                "WHERE id = (SELECT max(id) FROM {})"
            ).format(raw, raw)
        )
        conn.execute(
            sql.SQL("ALTER TABLE {} ALTER COLUMN request_payload DROP NOT NULL").format(raw)
        )
        conn.execute(
            sql.SQL(
                "UPDATE {} SET request_payload = NULL WHERE id = (SELECT min(id) FROM {})"
            ).format(raw, raw)
        )
        # Run 2 loses a window (a gap); run 3 gains an overlapping one and a mismatch.
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE run_id = 2 AND window_start = '2025-03-02'").format(
                chunks
            )
        )
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (run_id, entity, window_start, window_end, status) "
                "VALUES (3, 'Invoice', '2025-01-15', '2025-02-15', 'done')"
            ).format(chunks)
        )
        conn.execute(
            sql.SQL(
                "UPDATE {} SET matched = false, rows_in_table = rows_in_table - 1 "
                "WHERE run_id = 3 AND window_start = '2025-05-31'"
            ).format(chunks)
        )

    report = load(database_url, schema, 2, 3)
    assert not report.ok
    second, third = statuses(report, 2), statuses(report, 3)
    for name in ("no duplicate ids", "payload Id = id", "no NULLs", "windows cover the range"):
        assert second[name] is CheckStatus.FAIL, name
    assert third["source = loaded"] is CheckStatus.FAIL
    assert third["windows cover the range"] is CheckStatus.FAIL
    details = {c.name: c.detail for r in report.runs for c in r.checks if r.run_id == 2}
    assert "1 gap" in details["windows cover the range"]
    assert "2025-03-02->2025-04-01" in details["windows cover the range"]
    details3 = {c.name: c.detail for r in report.runs for c in r.checks if r.run_id == 3}
    assert "2 overlaps" in details3["windows cover the range"]
    assert "[2025-05-31, 2025-06-30)" in details3["source = loaded"]

    cli = two_sessions
    shown = cli.run("report", "--run", "2", "--run", "3", "--format", "html")
    assert shown.returncode == 1
    assert "badge fail" in shown.stdout


@pytest.mark.db
def test_rerun_idempotence_tells_missed_rows_from_source_changes(
    two_sessions: Cli, database_url: str, schema: str
) -> None:
    chunks = sql.Identifier(schema, "qbo_backfill_chunks")
    assert statuses(load(database_url, schema, 3), 3)["re-run idempotence"] is CheckStatus.PASS

    def change(assignments: str) -> CheckStatus:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL(
                    "UPDATE {} SET " + assignments + " WHERE run_id = 3 AND window_start = %s"
                ).format(chunks),
                ("2025-01-31",),
            )
        return statuses(load(database_url, schema, 3), 3)["re-run idempotence"]

    # Rows updated because they changed at the source in between: a warning, not a failure.
    assert change("rows_updated = 2") is CheckStatus.WARN
    # New rows where the source count moved too: the source grew.
    assert change("rows_inserted = 1, source_count_after = source_count_after + 1") is (
        CheckStatus.WARN
    )
    # New rows while the source count stood still: the first run missed them.
    assert change("source_count_after = source_count_after - 1") is CheckStatus.FAIL


@pytest.mark.db
def test_selections_that_cannot_be_served_are_input_errors(cli: Cli) -> None:
    nothing = cli.run("report")
    assert nothing.returncode == 2
    assert "no backfill has run" in nothing.stderr
    assert cli.run("backfill", "Item").returncode == 0
    missing = cli.run("report", "--run", "999")
    assert missing.returncode == 2
    assert "no such run: 999" in missing.stderr
    both = cli.run("report", "--run", "1", "--last")
    assert both.returncode == 2
    assert "one of --run, --last or --entity" in both.stderr
    none_of_entity = cli.run("report", "--entity", "Invoice")
    assert none_of_entity.returncode == 2
    assert "no runs match" in none_of_entity.stderr
    unknown = cli.run("report", "--entity", "Nonsense")
    assert unknown.returncode == 2


@pytest.mark.db
def test_the_request_rate_chart_plots_the_requests_measured_per_minute(
    cli: Cli, sandbox: Sandbox, database_url: str, schema: str
) -> None:
    limit = {"QBO_REQUESTS_PER_MINUTE": "500"}
    run = cli.run("backfill", "Customer", "Invoice", *YEAR_2025_ARGS, "--page-size", "50", **limit)
    assert run.returncode == 0, run.stderr
    sent = sum(
        sandbox.counters(sandbox.info.realm_id)["realms"][sandbox.info.realm_id][
            "requests"
        ].values()
    )
    shown = cli.run("report", "--last", "--format", "json", **limit)
    data = json.loads(shown.stdout)
    assert data["request_rate_measured"] is True
    points = data["request_rate"]
    minutes = [datetime.fromisoformat(p["at"]) for p in points]
    assert all(m.second == 0 and m.microsecond == 0 for m in minutes)
    assert minutes == sorted(set(minutes))
    assert sum(p["per_minute"] for p in points) == sent
    # The chart's span ends when the runs finished: after their last chunk, on any clock
    # minute (a run's end stamped at an early transaction's start cut the chart short).
    for run in data["runs"]:
        last_chunk = max(datetime.fromisoformat(c["finished_at"]) for c in run["chunks"])
        assert datetime.fromisoformat(run["run"]["finished_at"]) >= last_chunk
    assert max(p["per_minute"] for p in points) <= 500
    html = cli.run("report", "--last", "--format", "html", **limit).stdout
    assert "estimated" not in _rate_section_of(html)

    # A run recorded before per-minute counts existed: the estimate, labelled as one and
    # never drawn above the limit the limiter enforced.
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DELETE FROM {}").format(sql.Identifier(schema, "qbo_backfill_request_minutes"))
        )
    data = json.loads(cli.run("report", "--last", "--format", "json", **limit).stdout)
    assert data["request_rate_measured"] is False
    assert data["request_rate"]
    assert max(p["per_minute"] for p in data["request_rate"]) <= 500
    html = cli.run("report", "--last", "--format", "html", **limit).stdout
    assert "estimated" in _rate_section_of(html)


def _rate_section_of(html: str) -> str:
    start = html.index("Request rate against the limit")
    return html[start : html.index("</section>", start)]


RATE_START = datetime(2025, 1, 1, tzinfo=UTC)


def timed_chunk(begin: float, end: float | None, calls: int) -> ChunkRow:
    """A done chunk that made `calls` requests from `begin` to `end` s after RATE_START."""
    return ChunkRow(
        chunk_id=1,
        run_id=1,
        entity="Invoice",
        window=ExtractWindow(date(2025, 1, 1), date(2025, 1, 8)),
        status="done",
        figures=ChunkFigures(api_calls=calls),
        started_at=RATE_START + timedelta(seconds=begin),
        finished_at=None if end is None else RATE_START + timedelta(seconds=end),
    )


def test_request_rate_spreads_each_chunks_calls_over_its_duration() -> None:
    spans = [(0, 60, 120), (30, 90, 60), (10, 10, 5), (0, None, 7)]
    points = request_rate([timed_chunk(*span) for span in spans])
    bucket = (points[1].at - points[0].at).total_seconds()
    assert bucket == 1.0
    assert sum(p.per_minute * bucket / 60 for p in points) == pytest.approx(180)
    at = {round((p.at - RATE_START).total_seconds()): p.per_minute for p in points}
    assert at[5] == pytest.approx(120)  # 2 calls a second from the first chunk
    assert at[45] == pytest.approx(180)  # plus 1 a second from the second
    assert at[75] == pytest.approx(60)
    assert request_rate([]) == []


def test_an_estimate_is_never_drawn_above_the_ceiling() -> None:
    burst = timed_chunk(0, 2, 30)  # 30 calls in 2 s: 900 a minute, if it were spread so
    assert max(p.per_minute for p in request_rate([burst])) == pytest.approx(900)
    assert max(p.per_minute for p in request_rate([burst], ceiling=490)) == 490


def test_measured_minutes_show_idle_minutes_and_group_long_spans() -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    points = measured_rate([(start, 5), (start + timedelta(minutes=2), 7)])
    assert [(p.at - start, p.per_minute) for p in points] == [
        (timedelta(0), 5),
        (timedelta(minutes=1), 0),
        (timedelta(minutes=2), 7),
    ]
    day = [(start + timedelta(minutes=i), i % 2 * 10) for i in range(MAX_RATE_POINTS * 2)]
    grouped = measured_rate(day)
    assert len(grouped) == MAX_RATE_POINTS
    assert {p.per_minute for p in grouped} == {5}  # the average of 0 and 10
    assert measured_rate([]) == []


def test_html_escapes_what_the_ledger_holds() -> None:
    report = Report(
        datetime(2025, 1, 1, tzinfo=UTC),
        Selection(run_ids=(1,)),
        "db <script>",
        "s",
        [],
        490,
    )
    page = render_html(report)
    assert "<script>alert" not in page
    assert "db &lt;script&gt;" in page
