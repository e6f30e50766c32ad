"""Mage AI: the calls a pipeline's blocks make (`blocks`) and their runtime variables
(`variables`). Blocks import this package: `from qbo_backfill.integrations import mage`."""

from qbo_backfill.integrations.mage.blocks import (
    MAGE_SECRETS,
    BlockFailed,
    check_token,
    export,
    ingest,
    load_settings,
    mage_secret_lookup,
)

__all__ = [
    "MAGE_SECRETS",
    "BlockFailed",
    "check_token",
    "export",
    "ingest",
    "load_settings",
    "mage_secret_lookup",
]
