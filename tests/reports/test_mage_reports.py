"""The Mage side of reports: `qb_reports_backfill` (token check, then one thin block) with a
one-time inactive trigger, `qb_sync` ending with `sync_reports`; the block calls against
the sandbox, and their one-line failures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.reports import samples
from tests.reports.conftest import report_calls, stored

from qbo_backfill.integrations import mage as qbo_mage
from qbo_backfill.sandbox import Sandbox
from qbo_backfill.settings import Settings

PROJECT = Path(__file__).resolve().parents[2] / "mage"


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def test_the_reports_pipeline_is_token_check_then_one_thin_block() -> None:
    meta = _load(PROJECT / "pipelines" / "qb_reports_backfill" / "metadata.yaml")
    chain = [(b["uuid"], b["type"], b["upstream_blocks"]) for b in meta["blocks"]]
    assert chain == [
        ("qb_tokens_checker", "custom", []),
        ("copy_reports", "data_loader", ["qb_tokens_checker"]),
    ]
    (trigger,) = _load(PROJECT / "pipelines" / "qb_reports_backfill" / "triggers.yaml")["triggers"]
    assert (trigger["schedule_interval"], trigger["status"]) == ("@once", "inactive")
    for name, call in (("copy_reports", "copy_reports_block"), ("sync_reports", "sync_reports")):
        block = (PROJECT / "data_loaders" / f"{name}.py").read_text()
        assert f"qbo_mage.{call}(kwargs)" in block
        assert len(block.splitlines()) <= 25


@pytest.mark.db
def test_the_blocks_copy_then_refresh_and_fail_in_one_line(
    sandbox: Sandbox, settings: Settings, database_url: str, schema: str
) -> None:
    with pytest.raises(qbo_mage.BlockFailed, match="basis must be") as bad:
        qbo_mage.copy_reports_block({"basis": "weekly"}, settings=settings)
    assert bad.value.exit_code == 2
    sandbox.replay_report("GeneralLedger", samples.general_ledger())
    variables = {"reports": "GeneralLedger", "start_date": "2025-01-01", "end_date": "2025-07-01"}
    rows = qbo_mage.copy_reports_block(variables, settings=settings)
    assert [(r["report"], r["basis"], r["status"], r["calls"]) for r in rows] == [
        ("GeneralLedger", "Accrual", "done", 1)
    ]
    sandbox.reset_counters()
    refreshed = qbo_mage.sync_reports({}, settings=settings)
    # The stored half-year is closed: only the two open months are asked for (and stored).
    assert [(r["report"], r["calls"], r["periods_stored"]) for r in refreshed] == [
        ("GeneralLedger", 2, 2)
    ]
    assert report_calls(sandbox) == 2
    assert len(stored(database_url, schema)) == 3
    fault = {"Error": [{"Message": "Invalid date", "code": "2020"}], "type": "ValidationFault"}
    sandbox.replay_report("GeneralLedger", {"Fault": fault})
    with pytest.raises(qbo_mage.BlockFailed, match="GeneralLedger") as failed:
        qbo_mage.sync_reports({}, settings=settings)
    assert failed.value.exit_code == 1
