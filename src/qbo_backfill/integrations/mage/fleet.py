"""The `qb_fleet_backfill` pipeline's one block: enqueue a fleet backfill of every company
in the token store (or the `realms` given). Workers (`qbo-backfill worker`, the Compose
`worker` service) do the copying; the block returns at once with what it enqueued."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from qbo_backfill.entities import resolve_entities
from qbo_backfill.errors import ConfigError
from qbo_backfill.fleet.enqueue import enqueue_backfill
from qbo_backfill.integrations.mage.secrets import load_settings
from qbo_backfill.run.engine import BackfillOptions
from qbo_backfill.settings import Settings
from qbo_backfill.windows import parse_date, requested_window

__all__ = ["enqueue_fleet"]

DEFAULT_ENTITIES = "Customer,Item,Invoice"


def enqueue_fleet(variables: Mapping[str, Any], *, settings: Settings | None = None) -> dict:
    """Plan jobs for every company: `entities` (comma-separated), `start_date`, `end_date`
    (YYYY-MM-DD, end exclusive; default: everything), `realms` (comma-separated ids)."""
    entities = _names(variables.get("entities") or DEFAULT_ENTITIES)
    start, end = variables.get("start_date"), variables.get("end_date")
    options = BackfillOptions(
        entities=resolve_entities(entities),
        window=requested_window(
            parse_date(str(start), "start_date") if start else None,
            parse_date(str(end), "end_date") if end else None,
        ),
        chunk_days=None,
    )
    realms = _names(variables.get("realms") or "")
    result = asyncio.run(enqueue_backfill(settings or load_settings(), options, realms))
    return asdict(result)


def _names(value: object) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    if not isinstance(value, str):
        raise ConfigError(f"expected a comma-separated list, not {value!r}")
    return [part.strip() for part in value.split(",") if part.strip()]
