"""Mage AI: the calls a pipeline's blocks make (`blocks`), their settings (`secrets`), their
log lines (`log`) and their runtime variables (`variables`). Blocks import this package:
`from qbo_backfill.integrations import mage as qbo_mage`."""

from qbo_backfill.integrations.mage.blocks import check_token, ingest, reconcile, sync
from qbo_backfill.integrations.mage.fleet import enqueue_fleet
from qbo_backfill.integrations.mage.log import BlockFailed
from qbo_backfill.integrations.mage.money import check_money
from qbo_backfill.integrations.mage.reports import copy_reports_block, sync_reports
from qbo_backfill.integrations.mage.secrets import MAGE_SECRETS, load_settings, mage_secret_lookup

__all__ = [
    "MAGE_SECRETS",
    "BlockFailed",
    "check_money",
    "check_token",
    "copy_reports_block",
    "enqueue_fleet",
    "ingest",
    "load_settings",
    "mage_secret_lookup",
    "reconcile",
    "sync",
    "sync_reports",
]
