"""Predicates and keys the store's queries use: field values of a record, comparisons,
combined range bounds, and a bisectable view over computed keys."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from qbo_backfill.sandbox import clock
from qbo_backfill.sandbox.catalog import FieldSpec, FieldType
from qbo_backfill.sandbox.querylang import Condition

__all__ = ["KeyView", "bounds", "flag_reader", "payload_value", "sort_key", "test"]


def payload_value(payload: dict[str, Any], spec: FieldSpec) -> Any:
    """A field of a full record, converted to the type queries compare with."""
    value: Any = payload
    for part in spec.path:
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    try:
        return _convert(spec.type, value)
    except (TypeError, ValueError):
        return None


def _as_date_ordinal(value: Any) -> int:
    return date.fromisoformat(str(value)[:10]).toordinal()


_CONVERTERS: dict[FieldType, Callable[[Any], Any]] = {
    FieldType.ID: int,
    FieldType.DATE: _as_date_ordinal,
    FieldType.DATETIME: lambda value: clock.parse_timestamp(str(value)),
    FieldType.NUMBER: float,
    FieldType.BOOL: bool,
    FieldType.STRING: str,
    FieldType.REF: str,
}


def _convert(ftype: FieldType, value: Any) -> Any:
    return None if value is None else _CONVERTERS[ftype](value)


def _like(have: Any, pattern: re.Pattern[str]) -> bool:
    return pattern.match(str(have)) is not None


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
    "like": _like,
}


def test(op: str, have: Any, wanted: tuple[Any, ...]) -> bool:
    if have is None:
        return False
    if op == "in":
        return have in wanted
    return bool(_COMPARE[op](have, wanted[0]))


def bounds(conditions: Iterable[Condition]) -> tuple[Any, bool, Any, bool] | None:
    """Combined [low, high] of range conditions on one field; None if unsatisfiable."""
    low: Any = None
    low_incl = True
    high: Any = None
    high_incl = True
    for cond in conditions:
        value = cond.values[0]
        if cond.op in ("=", ">=", ">") and (
            low is None or value > low or (value == low and cond.op == ">")
        ):
            low, low_incl = value, cond.op != ">"
        if cond.op in ("=", "<=", "<") and (
            high is None or value < high or (value == high and cond.op == "<")
        ):
            high, high_incl = value, cond.op != "<"
    return (low, low_incl, high, high_incl)


def flag_reader(flags: bytearray) -> Callable[[int], bool]:
    return lambda pos: bool(flags[pos])


def sort_key(value: Any) -> tuple[int, Any]:
    return (0, 0) if value is None else (1, value)


class KeyView:
    """A read-only sequence over computed keys, so bisect can search an index."""

    def __init__(self, key: Callable[[int], Any], count: int) -> None:
        self._key = key
        self._count = count

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, rank: int) -> Any:
        return self._key(rank)
