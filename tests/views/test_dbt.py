"""dbt_quickbooks (the analysts' standard models) builds every model on the views over a
sandbox company copied whole, and its ledger agrees with the invoices.

Runs when the offline copy of the package is next to the repository (`../shared/dbt`,
with its `run.sh`); skipped otherwise."""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from tests.helpers import REPO
from tests.views.conftest import Copy, drop_schemas

pytestmark = pytest.mark.db

DBT = REPO.parent / "shared" / "dbt"
RUN = DBT / "run.sh"


@pytest.fixture
def target(copy: Copy) -> Iterator[str]:
    """dbt's target schema (models land in `<target>_quickbooks*`), dropped after."""
    name = f"d_{uuid.uuid4().hex[:10]}"
    yield name
    suffixes = ("", "_quickbooks", "_quickbooks_staging", "_quickbooks_intermediate")
    drop_schemas(copy.url, *(name + s for s in suffixes))


@pytest.mark.skipif(not RUN.exists(), reason=f"dbt_quickbooks not found at {DBT}")
def test_dbt_quickbooks_builds_every_model(copy: Copy, views_schema: str, target: str) -> None:
    copy.install(views_schema, realm=copy.settings.realm_id)
    done = subprocess.run(
        ["bash", str(RUN), copy.url, views_schema, target],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=os.environ.copy(),
    )
    summary = re.search(r"PASS=(\d+) WARN=\d+ ERROR=(\d+) SKIP=(\d+)", done.stdout)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert summary is not None, done.stdout[-2000:]
    assert int(summary[1]) > 0
    assert (summary[2], summary[3]) == ("0", "0")
    _ledger_agrees_with_invoices(copy.url, views_schema, target + "_quickbooks")


def _ledger_agrees_with_invoices(url: str, views: str, models: str) -> None:
    """The general ledger's income from invoices equals the invoices' sales lines."""
    with psycopg.connect(url) as conn:
        ledger = conn.execute(
            sql.SQL(
                "SELECT coalesce(sum(CASE WHEN transaction_type = 'credit' THEN amount "
                "ELSE -amount END), 0) FROM {} WHERE transaction_source = 'invoice' "
                "AND account_class = 'Revenue'"
            ).format(sql.Identifier(models, "quickbooks__general_ledger"))
        ).fetchone()
        lines = conn.execute(
            sql.SQL(
                "SELECT coalesce(sum(l.amount), 0) FROM {} AS l JOIN {} AS i "
                "ON i.id = l.invoice_id AND i.realm_id = l.realm_id "
                "WHERE l.detail_type = 'SalesItemLineDetail' AND NOT i._fivetran_deleted"
            ).format(sql.Identifier(views, "invoice_line"), sql.Identifier(views, "invoice"))
        ).fetchone()
    assert ledger is not None
    assert lines is not None
    assert ledger[0] == lines[0]
    assert lines[0] > 0
