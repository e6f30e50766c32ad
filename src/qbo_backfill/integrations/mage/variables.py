"""A Mage block's runtime variables, validated: `mage run` silently falls back to the
pipeline's defaults when `--runtime-vars` is not valid JSON, so every value is checked here.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from qbo_backfill.entities import Entity, EntityKind
from qbo_backfill.errors import ConfigError
from qbo_backfill.run.engine import BackfillOptions
from qbo_backfill.windows import ExtractWindow, parse_date

START_NAMES = ("start_date", "fecha_inicio")
END_NAMES = ("end_date", "fecha_fin")
DEFAULT_CHUNK_DAYS = 7  # the seed's weekly chunks
DEFAULT_PAGE_SIZE = 100  # the seed's MAXRESULTS
MAX_CHUNK_DAYS = 3660
_EXAMPLE = '{"start_date": "2025-01-01", "end_date": "2026-01-01"}'
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no", ""})


@dataclass(frozen=True)
class RunVariables:
    """A block's validated runtime variables. `window` is None for a list entity."""

    window: ExtractWindow | None
    chunk_days: int
    page_size: int
    force: bool

    def options(self, entity: Entity) -> BackfillOptions:
        """The library's options for one entity."""
        return BackfillOptions(
            entities=(entity,),
            window=self.window or ExtractWindow.whole(),
            chunk_days=self.chunk_days,
            page_size=self.page_size,
            force=self.force,
        )

    def describe(self, entity: Entity) -> str:
        """One log line: what will be copied, with the end date's meaning spelled out."""
        extras = f"chunk_days {self.chunk_days}, page_size {self.page_size}, force {self.force}"
        if self.window is None:
            return (
                f"{entity.name} is a list entity: copied whole, inactive records included "
                f"(start/end dates do not apply); {extras}"
            )
        last_day = self.window.end - timedelta(days=1)
        return (
            f"{entity.name} window {self.window} by TxnDate: the end date is exclusive, so the "
            f"last day copied is {last_day}; {extras}"
        )


def parse_run_variables(
    variables: Mapping[str, Any], entity: Entity, *, argv: Sequence[str] | None = None
) -> RunVariables:
    """Validate a block's runtime variables; a ConfigError names the first bad one.

    Dates are `YYYY-MM-DD` (UTC): `start_date` (alias `fecha_inicio`) is inclusive and
    `end_date` (alias `fecha_fin`) is exclusive, as everywhere in qbo-backfill: all of 2025
    is 2025-01-01 to 2026-01-01. A transaction entity needs both; a list entity is copied
    whole and ignores them (they are still checked).
    """
    check_runtime_vars_json(sys.argv if argv is None else argv)
    start = _date_variable(variables, START_NAMES)
    end = _date_variable(variables, END_NAMES)
    return RunVariables(
        window=_window(entity, start, end),
        chunk_days=_int_variable(variables, "chunk_days", DEFAULT_CHUNK_DAYS, MAX_CHUNK_DAYS),
        page_size=_int_variable(variables, "page_size", DEFAULT_PAGE_SIZE, 1000),
        force=_bool_variable(variables, "force"),
    )


def check_runtime_vars_json(argv: Sequence[str]) -> None:
    """Refuse a malformed `mage run --runtime-vars`: Mage itself would run with the defaults."""
    text = _runtime_vars_argument(argv)
    if text is None:
        return
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"--runtime-vars is not valid JSON ({exc.msg} at character {exc.pos}); "
            f"Mage would have run with the pipeline's default variables. Example: {_EXAMPLE}"
        ) from None
    if not isinstance(value, dict):
        raise ConfigError(f"--runtime-vars must be a JSON object, e.g. {_EXAMPLE}")


def _runtime_vars_argument(argv: Sequence[str]) -> str | None:
    for index, arg in enumerate(argv):
        if arg == "--runtime-vars":
            return argv[index + 1] if index + 1 < len(argv) else ""
        if arg.startswith("--runtime-vars="):
            return arg.partition("=")[2]
    return None


def _given(variables: Mapping[str, Any], name: str) -> Any:
    value = variables.get(name)
    return None if value is None or (isinstance(value, str) and not value.strip()) else value


def _date_variable(variables: Mapping[str, Any], names: tuple[str, str]) -> date | None:
    found = {
        name: _as_date(name, v) for name in names if (v := _given(variables, name)) is not None
    }
    values = set(found.values())
    if len(values) > 1:
        given = ", ".join(f"{name}={value}" for name, value in found.items())
        raise ConfigError(f"{' and '.join(names)} are the same variable but differ: {given}")
    return values.pop() if values else None


def _as_date(name: str, value: Any) -> date:
    # YAML (triggers.yaml) turns an unquoted 2025-01-01 into a date; JSON gives a string.
    if isinstance(value, datetime):
        raise ConfigError(f"{name} must be a date as YYYY-MM-DD (UTC), not a time: {value!r}")
    if isinstance(value, date):
        return value
    return parse_date(str(value), name)  # the command line's own parser


def _window(entity: Entity, start: date | None, end: date | None) -> ExtractWindow | None:
    if start is not None and end is not None and end <= start:
        raise ConfigError(
            f"end_date {end} must be after start_date {start} (the end date is exclusive: "
            f"a single day D is start_date D, end_date D+1)"
        )
    if entity.kind is not EntityKind.TRANSACTION:
        return None
    if start is None or end is None:
        missing = " and ".join(n for n, v in (("start_date", start), ("end_date", end)) if not v)
        raise ConfigError(
            f"{entity.name} needs the runtime variables start_date and end_date (YYYY-MM-DD, "
            f"UTC; end_date exclusive); {missing} missing. Example: {_EXAMPLE}"
        )
    return ExtractWindow(start, end)


def _int_variable(variables: Mapping[str, Any], name: str, default: int, maximum: int) -> int:
    value = _given(variables, name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ConfigError(f"{name} must be a whole number from 1 to {maximum}, not {value!r}")
    text = str(value).strip()
    if not text.isdigit() or not 1 <= int(text) <= maximum:
        raise ConfigError(f"{name} must be a whole number from 1 to {maximum}, not {value!r}")
    return int(text)


def _bool_variable(variables: Mapping[str, Any], name: str) -> bool:
    value = variables.get(name)
    if value is None or isinstance(value, bool):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ConfigError(f"{name} must be true or false, not {value!r}")
