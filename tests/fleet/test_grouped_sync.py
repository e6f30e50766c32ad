"""`fleet sync` puts several companies in one job (`--companies-per-job`, 20 by default):
each is synced as in a job of its own; a company whose sync fails gets a job of its own,
retried as any, and the others go on; a company that must re-authorize is skipped."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg import sql
from tests.fleet.helpers import Fleet, MakeFleet, wait_until

pytestmark = pytest.mark.db

SYNC_COMPANIES = "qbo_backfill.sync_companies"
SYNC_COMPANY = "qbo_backfill.sync_company"


@pytest.fixture(scope="module")
def sandbox_config() -> dict[str, Any]:
    return {"realms": 3, "invoices": 10, "customers": 5, "items": 3}


def test_one_job_syncs_the_group_and_a_failing_company_goes_alone(make_fleet: MakeFleet) -> None:
    fleet = make_fleet()
    assert fleet.import_tokens().returncode == 0
    fleet.enqueue("backfill", "Invoice")
    worker = fleet.start_worker("worker")
    try:
        fleet.wait_idle(120, "the backfill")
        fleet.enqueue("sync")  # a first sync: the sync ledger's tables
        fleet.wait_idle(60, "the first sync")
        marked, failing, healthy = fleet.sandbox.info.realm_ids
        edited = {realm: _edit_an_invoice(fleet, realm) for realm in (marked, failing, healthy)}
        _execute(fleet, *_MARK, realm=marked)
        _execute(fleet, *_REFUSE, realm=failing)  # its sync cannot record: it fails

        enqueued = fleet.enqueue("sync")
        assert "3 companies: 1 sync jobs enqueued" in enqueued.stdout
        group_done = ["succeeded", "succeeded"]
        wait_until(lambda: _jobs(fleet, SYNC_COMPANIES) == group_done, 60, "the group job")
        assert _jobs(fleet, SYNC_COMPANY), "the failing company got no job of its own"
        _execute(fleet, "DROP TRIGGER refuse ON {runs}")
        fleet.wait_idle(120, "the failing company's own job, retried")
    finally:
        assert worker.terminate() == 0, worker.log()[-2000:]

    assert _jobs(fleet, SYNC_COMPANY) == ["succeeded"]
    fleet.assert_exact("Invoice", realms=[failing, healthy])
    assert _sync_token(fleet, marked, edited[marked]) == "0", "a marked company was synced"
    log = worker.log()
    assert f"sync of {failing} failed" in log
    assert "it gets a job of its own" in log
    assert f"sync of {marked} skipped: realm {marked} needs re-authorization" in log


def _edit_an_invoice(fleet: Fleet, realm: str) -> int:
    invoice = int(fleet.sandbox.records("Invoice", realm)[0]["Id"])
    fleet.sandbox.update("Invoice", invoice, {"PrivateNote": "edited"}, realm)
    return invoice


def _jobs(fleet: Fleet, task: str) -> list[str]:
    query = sql.SQL("SELECT status::text FROM {} WHERE task_name = %s ORDER BY id").format(
        sql.Identifier(fleet.schema, "procrastinate_jobs")
    )
    return [str(row[0]) for row in fleet.fetch(query, [task])]


def _sync_token(fleet: Fleet, realm: str, invoice: int) -> str:
    query = sql.SQL("SELECT payload->>'SyncToken' FROM {} WHERE realm_id = %s AND id = %s")
    [(token,)] = fleet.fetch(
        query.format(sql.Identifier(fleet.schema, "qb_invoice")), [realm, invoice]
    )
    return str(token)


def _execute(fleet: Fleet, *statements: str, realm: str = "") -> None:
    """Each statement, with the schema's tables and `realm` (a literal) filled in."""
    names = {
        "runs": sql.Identifier(fleet.schema, "qbo_backfill_sync_runs"),
        "marks": sql.Identifier(fleet.schema, "qbo_backfill_reauthorize"),
        "refuse": sql.Identifier(fleet.schema, "refuse_sync_run"),
        "realm": sql.Literal(realm),
    }
    with psycopg.connect(fleet.database_url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(sql.SQL(statement).format(**names))


_MARK = (
    "CREATE TABLE IF NOT EXISTS {marks} (realm_id TEXT PRIMARY KEY, reason TEXT NOT NULL, "
    "marked_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    "INSERT INTO {marks} (realm_id, reason) VALUES ({realm}, 'invalid_grant (test)')",
)
# A trigger refusing the company's sync-run rows: a database error in its sync, as a full
# disk or a lost connection would be, while every other company's rows are taken.
_REFUSE = (
    """CREATE FUNCTION {refuse}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.realm_id = {realm} THEN
            RAISE EXCEPTION 'sync runs of this company refused';
        END IF;
        RETURN NEW;
    END $$""",
    "CREATE TRIGGER refuse BEFORE INSERT ON {runs} FOR EACH ROW EXECUTE FUNCTION {refuse}()",
)
