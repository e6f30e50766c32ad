"""The engine end to end: the local sandbox over real HTTP into a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from tests.helpers import (
    INTUIT_LIMITS,
    MakeSandbox,
    count,
    run_cli,
    sandbox_env,
    sandbox_rows,
    settings_for,
    table_rows,
    tables_in,
    views_schema_of,
)

from qbo_backfill.entities import resolve_entity
from qbo_backfill.run.engine import BackfillOptions, BackfillResult, backfill
from qbo_backfill.sandbox import Sandbox
from qbo_backfill.settings import Settings
from qbo_backfill.windows import ExtractWindow

pytestmark = pytest.mark.db

YEAR_2025 = ExtractWindow(date(2025, 1, 1), date(2026, 1, 1))
ALL_YEARS = ExtractWindow(date(2024, 1, 1), date(2026, 1, 1))


@pytest.fixture
def sandbox_config() -> dict[str, Any]:
    return {"customers": 60, "items": 25, "invoices": 400, "max_in_flight": 10}


def options(*names: str, window: ExtractWindow = ALL_YEARS, **extra: object) -> BackfillOptions:
    defaults: dict[str, object] = {"chunk_days": 30, "page_size": 50}
    return BackfillOptions(
        entities=tuple(resolve_entity(n) for n in names), window=window, **(defaults | extra)
    )  # type: ignore[arg-type]


def test_copy_is_complete_and_exact_inactive_included(
    sandbox: Sandbox, database_url: str, schema: str, home: Path
) -> None:
    settings = settings_for(sandbox, database_url, schema, home)
    result = backfill(settings, options("Customer", "Item", "Invoice"))
    assert result.ok, result.entities
    for entity in ("Customer", "Item", "Invoice"):
        expected = sandbox_rows(sandbox, entity)
        assert table_rows(database_url, schema, f"qb_{entity.lower()}") == expected
    customers = sandbox_rows(sandbox, "Customer").values()
    assert any(c.get("Active") is False for c in customers), "the sandbox should hold inactive rows"


def test_rerun_resumes_with_no_calls_and_force_rewrites_nothing(
    sandbox: Sandbox, database_url: str, schema: str, home: Path
) -> None:
    settings = settings_for(sandbox, database_url, schema, home)
    first = backfill(settings, options("Invoice"))
    before = table_rows(database_url, schema, "qb_invoice")
    again = backfill(settings, options("Invoice"))
    assert again.api_calls == 0
    assert again.entities[0].run_id == first.entities[0].run_id
    forced = backfill(settings, options("Invoice", force=True))
    totals = forced.entities[0].totals
    assert forced.ok
    assert forced.entities[0].run_id != first.entities[0].run_id
    assert totals.rows_extracted == len(before)
    written = count(
        database_url,
        sql.SQL(
            "SELECT coalesce(sum(rows_inserted + rows_updated), 0) FROM {} WHERE run_id = %s"
        ).format(sql.Identifier(schema, "qbo_backfill_chunks")),
        (forced.entities[0].run_id,),
    )
    assert written == 0
    assert table_rows(database_url, schema, "qb_invoice") == before


def test_resume_after_failures_mid_run(
    sandbox: Sandbox, database_url: str, schema: str, home: Path
) -> None:
    settings = settings_for(sandbox, database_url, schema, home, retry_attempts=1)
    # A seed whose first draws pass: planning's batch counts succeed, chunks then fail.
    sandbox.set_faults("500=0.3,seed=6")
    failed = backfill(settings, options("Invoice", chunk_days=14))
    assert not failed.ok
    done_before = count(
        database_url,
        sql.SQL("SELECT count(*) FROM {} WHERE status = 'done'").format(
            sql.Identifier(schema, "qbo_backfill_chunks")
        ),
    )
    assert done_before > 0, "some chunks should have succeeded before the faults"
    sandbox.set_faults("")
    resumed = backfill(settings, options("Invoice", chunk_days=14))
    assert resumed.ok
    assert resumed.entities[0].run_id == failed.entities[0].run_id
    assert table_rows(database_url, schema, "qb_invoice") == sandbox_rows(sandbox, "Invoice")


@pytest.fixture
def copied(sandbox: Sandbox, database_url: str, schema: str, home: Path) -> tuple[Settings, int]:
    """Settings after a first copy of the invoices, and the Id of one of them to change."""
    settings = settings_for(sandbox, database_url, schema, home)
    backfill(settings, options("Invoice"))
    return settings, next(iter(sandbox_rows(sandbox, "Invoice")))


def _copy_again(settings: Settings) -> BackfillResult:
    """The invoices copied again with `force`, successfully."""
    result = backfill(settings, options("Invoice", force=True))
    assert result.ok
    return result


def test_update_between_runs_arrives_updated(
    sandbox: Sandbox, database_url: str, schema: str, copied: tuple[Settings, int]
) -> None:
    settings, victim = copied
    sandbox.update("Invoice", str(victim), {"PrivateNote": "changed between runs"})
    assert _copy_again(settings).entities[0].totals.rows_extracted > 0
    stored = table_rows(database_url, schema, "qb_invoice")[victim]
    assert stored["PrivateNote"] == "changed between runs"
    assert stored == sandbox_rows(sandbox, "Invoice")[victim]


def test_an_older_version_never_overwrites_a_newer(
    database_url: str, schema: str, copied: tuple[Settings, int]
) -> None:
    settings, victim = copied
    table = sql.Identifier(schema, "qb_invoice")
    with psycopg.connect(database_url) as conn:
        # The table holds a version newer than anything the source will send.
        conn.execute(
            sql.SQL(
                "UPDATE {} SET source_last_updated_utc = '2099-01-01Z', "
                'payload = payload || \'{{"PrivateNote": "newer"}}\' WHERE id = %s'
            ).format(table),
            (victim,),
        )
    _copy_again(settings)
    assert table_rows(database_url, schema, "qb_invoice")[victim]["PrivateNote"] == "newer"


def test_rotated_refresh_token_is_kept_and_reused_by_another_process(
    make_sandbox: MakeSandbox, database_url: str, schema: str, home: Path, tmp_path: Path
) -> None:
    sb = make_sandbox(
        customers=10, items=5, invoices=30, refresh_rotation="every", refresh_grace_seconds=0
    )
    env = sandbox_env(sb, database_url, schema, home)
    first = run_cli(["backfill", "Customer"], env, tmp_path)
    assert first.returncode == 0, first.stderr
    # The environment still holds the original token, which rotation has killed:
    # the second process must use the stored, newer one once its access token is refused.
    sb.expire_access_tokens()
    second = run_cli(["backfill", "Item"], env, tmp_path)
    assert second.returncode == 0, second.stderr
    oauth = sb.counters()["oauth"]
    assert oauth["refresh"] >= 2
    assert oauth["invalid_grant"] == 0
    for output in (first.stdout + first.stderr, second.stdout + second.stderr):
        assert sb.info.refresh_token not in output
        assert sb.info.client_secret not in output


def test_invalid_grant_exits_3_with_a_way_out(
    sandbox: Sandbox, database_url: str, schema: str, home: Path, tmp_path: Path
) -> None:
    sandbox.revoke_tokens()
    result = run_cli(
        ["backfill", "Customer"], sandbox_env(sandbox, database_url, schema, home), tmp_path
    )
    assert result.returncode == 3, result.stderr
    assert "auth login" in result.stderr
    assert len(result.stderr.strip().splitlines()) >= 1
    assert "Traceback" not in result.stderr


def test_throttling_is_survived(
    make_sandbox: MakeSandbox, database_url: str, schema: str, home: Path
) -> None:
    sb = make_sandbox(customers=10, items=5, invoices=300, rate_limit_per_sec=4, max_in_flight=10)
    settings = settings_for(
        sb,
        database_url,
        schema,
        home,
        throttle_wait_seconds=0.3,
        retry_attempts=8,
        requests_per_minute=480,
    )
    result = backfill(settings, options("Invoice", window=YEAR_2025, chunk_days=60))
    assert result.ok
    assert sb.counters()["realms"][sb.info.realm_id]["throttled"] > 0
    assert result.throttled > 0
    in_2025 = {k: v for k, v in sandbox_rows(sb, "Invoice").items() if v["TxnDate"] >= "2025"}
    assert table_rows(database_url, schema, "qb_invoice") == in_2025


def test_our_limiter_never_provokes_a_429_at_default_limits(
    make_sandbox: MakeSandbox, database_url: str, schema: str, home: Path
) -> None:
    sb = make_sandbox(customers=10, items=5, invoices=200, latency_ms=20, **INTUIT_LIMITS)
    settings = settings_for(sb, database_url, schema, home, requests_per_minute=490)
    # Small pages: enough requests (empty windows cost none) to test the pacing.
    invoices = options("Invoice", window=YEAR_2025, chunk_days=60, page_size=5)
    result = backfill(settings, invoices)
    assert result.ok
    realm = sb.counters()["realms"][sb.info.realm_id]
    assert realm["throttled"] == 0
    assert realm["max_in_flight_seen"] <= 10
    assert result.api_calls > 10


@pytest.mark.parametrize(
    "args",
    [
        ["backfill", "Invoice", "--start", "2025-13-01"],
        ["backfill", "Invoice", "--start", "2025-02-01", "--end", "2025-01-01"],
        ["backfill", "Invoice", "--chunk-days", "0"],
        ["backfill", "Invoice", "--chunk-days", "weekly"],
        ["backfill", "Invoice", "--page-size", "0"],
        ["backfill", "Invoice", "--page-size", "1001"],
        ["backfill", "NotAnEntity"],
        ["backfill"],
    ],
)
def test_bad_input_exits_2_in_one_line_and_writes_nothing(
    args: list[str], sandbox: Sandbox, database_url: str, schema: str, home: Path, tmp_path: Path
) -> None:
    result = run_cli(args, sandbox_env(sandbox, database_url, schema, home), tmp_path)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("error: ")
    assert tables_in(database_url, schema) == []
    assert sandbox.counters()["oauth"]["refresh"] == 0


def test_runs_in_two_schemas_of_one_database_do_not_block_each_other(
    make_sandbox: MakeSandbox, database_url: str, schema: str, home: Path
) -> None:
    import asyncio

    from qbo_backfill.run.engine import run_backfill

    other = f"{schema}_b"
    # Latency keeps chunks open long enough that both runs hold chunk 1, 2, ... at once.
    limits = INTUIT_LIMITS | {"rate_limit_per_min": 0}
    sandbox = make_sandbox(customers=5, items=5, invoices=100, latency_ms=30, **limits)
    first = settings_for(sandbox, database_url, schema, home)
    second = settings_for(sandbox, database_url, other, home)

    async def both() -> list:
        return await asyncio.gather(
            run_backfill(first, options("Invoice")), run_backfill(second, options("Invoice"))
        )

    try:
        results = asyncio.run(both())
        assert all(r.ok for r in results)
        expected = sandbox_rows(sandbox, "Invoice")
        assert table_rows(database_url, schema, "qb_invoice") == expected
        assert table_rows(database_url, other, "qb_invoice") == expected
        # Finishing proves little: a run that met the other's locks would have waited for
        # them. The lock keys must differ, so a chunk held in one schema is free in the other.
        asyncio.run(_claim_in_both(database_url, schema, other))
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            for name in (other, views_schema_of(other)):
                conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name))
                )


async def _claim_in_both(database_url: str, schema: str, other: str) -> None:
    """Chunk 1 of each schema (the same chunk id in both), claimed at the same time."""
    from qbo_backfill.load.ledger import Ledger, lock_namespace

    ledgers = [Ledger(schema), Ledger(other)]
    conns = [await psycopg.AsyncConnection.connect(database_url) for _ in ledgers]
    try:
        keys = await conns[0].execute(
            sql.SQL("SELECT {}, {}").format(lock_namespace(schema), lock_namespace(other))
        )
        first_key, second_key = await keys.fetchone() or (None, None)
        assert first_key != second_key
        chunks = []
        for ledger, conn in zip(ledgers, conns, strict=True):
            await conn.execute(
                sql.SQL("UPDATE {} SET status = 'pending' WHERE chunk_id = 1").format(ledger.chunks)
            )
            await conn.commit()
            chunks.append(next(c for c in await ledger.chunks_of(conn, 1) if c.chunk_id == 1))
        assert await ledgers[0].try_claim(conns[0], chunks[0])
        assert await ledgers[1].try_claim(conns[1], chunks[1]), "the other schema's lock held it"
    finally:
        for conn in conns:
            await conn.close()


@contextmanager
def _dead_api_then_resumed(
    sandbox: Sandbox,
    database_url: str,
    schema: str,
    home: Path,
    cwd: Path,
    faults: str,
    *extra: str,
) -> Iterator[str]:
    """Backfill Invoice over 2024-2025 while the API answers with `faults`: the run must
    fail, and its last line is yielded; then, the faults gone, the same command must resume
    to an exact copy."""
    sandbox.set_faults(faults)
    env = sandbox_env(sandbox, database_url, schema, home, QBO_RETRY_ATTEMPTS="2")
    args = ["backfill", "Invoice", "--start", "2024-01-01", "--end", "2026-01-01", *extra]
    failed = run_cli(args, env, cwd)
    assert failed.returncode == 1, failed.stderr
    yield failed.stderr.strip().splitlines()[-1]
    sandbox.set_faults("")
    resumed = run_cli(args, env, cwd)
    assert resumed.returncode == 0, resumed.stderr
    assert table_rows(database_url, schema, "qb_invoice") == sandbox_rows(sandbox, "Invoice")


def test_a_dead_api_at_planning_stops_the_run_at_once_and_pages_nothing(
    sandbox: Sandbox, database_url: str, schema: str, home: Path, tmp_path: Path
) -> None:
    with _dead_api_then_resumed(
        sandbox, database_url, schema, home, tmp_path, "503=1.0"
    ) as last_line:
        assert "run failed: Invoice failed (not planned)" in last_line
        assert "run the same command again to resume" in last_line
        realm = sandbox.counters()["realms"][sandbox.info.realm_id]
        assert (realm["requests"]["query"], realm["requests"]["count"]) == (0, 0)


def test_a_dead_api_stops_the_run_after_a_few_failed_chunks(
    sandbox: Sandbox, database_url: str, schema: str, home: Path, tmp_path: Path
) -> None:
    # Seed 8306: the first two draws pass (planning's two batch calls of 14-day window
    # counts), the next 40 fail: the API dies once the run is planned.
    with _dead_api_then_resumed(
        sandbox, database_url, schema, home, tmp_path, "503=0.97,seed=8306", "--chunk-days", "14"
    ) as last_line:
        assert "stopped after 3 chunks in a row failed" in last_line
        attempted = count(
            database_url,
            sql.SQL("SELECT count(*) FROM {} WHERE attempts > 0").format(
                sql.Identifier(schema, "qbo_backfill_chunks")
            ),
        )
        assert 3 <= attempted <= 3 + 4, "only the chunks already started may go on"
