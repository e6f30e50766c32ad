"""The Mage `qb_sync` pipeline: the token check, then one thin block calling the library's
sync, on an hourly trigger; and that call against the sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.sync.churn import compare
from tests.sync.conftest import backfill_all

from qbo_backfill.integrations import mage as qbo_mage
from qbo_backfill.sandbox import Sandbox
from qbo_backfill.settings import Settings

PROJECT = Path(__file__).resolve().parents[2] / "mage"


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def test_pipeline_is_token_check_then_sync_on_an_hourly_trigger() -> None:
    meta = _load(PROJECT / "pipelines" / "qb_sync" / "metadata.yaml")
    chain = [(b["uuid"], b["type"], b["upstream_blocks"]) for b in meta["blocks"]]
    assert chain == [
        ("qb_tokens_checker", "custom", []),
        ("sync_company", "data_loader", ["qb_tokens_checker"]),
        ("sync_reports", "data_loader", ["sync_company"]),
        ("check_money", "data_loader", ["sync_reports"]),
    ]
    (trigger,) = _load(PROJECT / "pipelines" / "qb_sync" / "triggers.yaml")["triggers"]
    assert trigger["schedule_interval"] == "@hourly"
    assert trigger["status"] == "active"
    assert trigger["settings"]["skip_if_previous_running"] is True
    block = (PROJECT / "data_loaders" / "sync_company.py").read_text()
    assert "qbo_mage.sync(kwargs)" in block
    assert len(block.splitlines()) <= 25


@pytest.mark.db
def test_the_block_call_syncs_and_fails_in_one_line_before_any_backfill(
    sandbox: Sandbox, settings: Settings, database_url: str, schema: str
) -> None:
    with pytest.raises(qbo_mage.BlockFailed, match="nothing copied") as failed:
        qbo_mage.sync({}, settings=settings)
    assert failed.value.exit_code == 2
    backfill_all(settings, "Invoice", "Customer")
    victim = int(sandbox.records("Invoice")[3]["Id"])
    sandbox.delete("Invoice", victim)
    rows = qbo_mage.sync({"entities": "Invoice"}, settings=settings)
    assert [(r["entity"], r["deleted"], r["path"]) for r in rows] == [("Invoice", 1, "cdc")]
    assert compare(sandbox, database_url, schema, "Invoice", {victim}).exact
