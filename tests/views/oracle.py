"""What a view should hold, computed in Python from the payloads: a second reading of the
declarations' paths (the generator's SQL is the first), so the two check each other."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from qbo_backfill.views.model import ViewSpec


def load(text: str) -> Any:
    """A payload as Python, numbers as Decimal (no float on the money path)."""
    return json.loads(text, parse_float=Decimal, parse_int=Decimal)


def at(node: Any, path: str) -> Any:
    for key in path.split("."):
        node = node.get(key) if isinstance(node, dict) else None
    return node


def as_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    return [value] if isinstance(value, dict) else []


def rows(spec: ViewSpec, record_id: str, payload: Any) -> dict[tuple, list[Any]]:
    """Key (record id, positions...) -> the chain of JSON the row stands for
    (record, line, element)."""
    found: dict[tuple, list[Any]] = {}

    def walk(chain: list[Any], key: tuple, depth: int) -> None:
        if depth == len(spec.levels):
            found[key] = chain
            return
        for n, element in enumerate(as_list(at(chain[-1], spec.levels[depth].path))):
            walk([*chain, element], (*key, n), depth + 1)

    if spec.where is None or _text(at(payload, spec.where[0])) == spec.where[1]:
        walk([payload], (record_id,), 0)
    return found


def value(chain: list[Any], path: str) -> Any:
    """The JSON a column's path names, for a row (the forms `Column` documents)."""
    node = chain[-1]
    if path.startswith("@"):
        node, path = chain[0], path[1:]
    elif path.startswith("^"):
        node, path = chain[-2], path[1:]
    if "[" in path:
        array, rest = path.split("[", 1)
        kinds, rest = rest.split("].", 1)
        for element in as_list(at(node, array)):
            if isinstance(element, dict) and element.get("TxnType") in kinds.split(","):
                return at(element, rest)
        return None
    if "|" in path:
        path, condition = path.split("|")
        key, wanted = condition.split("=")
        return at(node, path) if _text(at(node, key)) in wanted.split(",") else None
    return at(node, path)


def _text(node: Any) -> str | None:
    return None if node is None or isinstance(node, (dict, list)) else str(node)


def number(node: Any) -> Decimal | None:
    return node if isinstance(node, Decimal) else None


def text(node: Any) -> str | None:
    if isinstance(node, bool):
        return "true" if node else "false"
    return _text(node)
