"""The QBO query language subset, parsed with a real grammar and validated per entity."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from lark import Lark, Token, Transformer, UnexpectedInput

from qbo_backfill.sandbox import clock
from qbo_backfill.sandbox.catalog import CATALOG, EntityInfo, FieldSpec, FieldType

__all__ = ["MAX_PAGE", "Condition", "ParsedQuery", "QueryError", "parse_query"]

MAX_PAGE = 1000  # QBO serves at most 1000 rows per page; larger MAXRESULTS are capped.
DEFAULT_PAGE = 100

_GRAMMAR = r"""
start: _SELECT projection _FROM ENTITY where? order? startpos? maxres?

projection: STAR ("," NAME)*           -> star
          | _COUNT "(" STAR ")"         -> count

where: _WHERE cond (_AND cond)*
cond: FIELD OP value                    -> compare
    | FIELD _IN "(" value ("," value)* ")" -> in_list
    | FIELD _LIKE STRING                -> like

order: ORDERBY order_item ("," order_item)*
order_item: FIELD DIRECTION?
startpos: _STARTPOSITION INT
maxres: _MAXRESULTS INT

?value: STRING -> string
      | NUMBER -> number
      | BOOL   -> boolean

_SELECT: /select\b/i
_FROM: /from\b/i
_WHERE: /where\b/i
_AND: /and\b/i
_IN: /in\b/i
_LIKE: /like\b/i
_COUNT: /count\b/i
ORDERBY: /order\s*by\b/i
_STARTPOSITION: /startposition\b/i
_MAXRESULTS: /maxresults\b/i
DIRECTION: /(asc|desc)\b/i
BOOL.2: /(true|false)\b/i
STAR: "*"
OP: "<=" | ">=" | "=" | "<" | ">"
ENTITY: /[A-Za-z][A-Za-z0-9_\/]*/
NAME: /[A-Za-z_][A-Za-z0-9_]*/
FIELD: /[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*/
STRING: /'(\\.|[^'\\])*'/
NUMBER: /-?\d+(\.\d+)?/
INT: /-?\d+/

%import common.WS
%ignore WS
"""

_PARSER = Lark(_GRAMMAR, parser="lalr", lexer="contextual")


class QueryError(Exception):
    """A query QBO would answer with HTTP 400: code 4000 (parse) or 4001 (validation)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Condition:
    """One `field op value(s)` test, with values already converted to the field's type."""

    field: FieldSpec
    op: str  # "=", "<", ">", "<=", ">=", "in", "like"
    values: tuple[Any, ...]

    def key(self) -> tuple[Any, ...]:
        """A hashable form, for caching results."""
        values = tuple(v.pattern if isinstance(v, re.Pattern) else v for v in self.values)
        return (self.field.name, self.op, values)


@dataclass(frozen=True)
class ParsedQuery:
    """A validated query: what to select, filter, order and which page."""

    entity: EntityInfo
    count: bool
    conditions: tuple[Condition, ...]
    order: tuple[tuple[FieldSpec, bool], ...]  # (field, descending)
    start: int
    max_results: int
    with_sku: bool

    @property
    def mentions_active(self) -> bool:
        """True when the WHERE clause names `Active`, which lifts the inactive filter."""
        return any(c.field.name == "Active" for c in self.conditions)

    def result_key(self) -> tuple[Any, ...]:
        """Identifies the ordered result set, whatever page is asked for."""
        conditions = tuple(sorted((c.key() for c in self.conditions), key=repr))
        order = tuple((f.name, desc) for f, desc in self.order)
        return (self.entity.name, conditions, order)


class _ToTree(Transformer[Token, Any]):
    """Turns the parse tree into plain tuples; types are checked afterwards."""

    def string(self, items: list[Token]) -> tuple[str, str]:
        raw = str(items[0])[1:-1]
        return ("str", re.sub(r"\\(.)", r"\1", raw))

    def number(self, items: list[Token]) -> tuple[str, str]:
        return ("num", str(items[0]))

    def boolean(self, items: list[Token]) -> tuple[str, bool]:
        return ("bool", str(items[0]).lower() == "true")

    def star(self, items: list[Token]) -> tuple[str, list[str]]:
        return ("star", [str(t) for t in items[1:]])

    def count(self, _items: list[Token]) -> tuple[str, list[str]]:
        return ("count", [])

    def compare(self, items: list[Any]) -> tuple[str, str, list[Any]]:
        return (str(items[0]), str(items[1]), [items[2]])

    def in_list(self, items: list[Any]) -> tuple[str, str, list[Any]]:
        return (str(items[0]), "in", list(items[1:]))

    def like(self, items: list[Any]) -> tuple[str, str, list[Any]]:
        return (str(items[0]), "like", [self.string([items[1]])])

    def where(self, items: list[Any]) -> tuple[str, list[Any]]:
        return ("where", list(items))

    def order_item(self, items: list[Token]) -> tuple[str, bool]:
        desc = len(items) > 1 and str(items[1]).lower() == "desc"
        return (str(items[0]), desc)

    def order(self, items: list[Any]) -> tuple[str, list[Any]]:
        return ("order", list(items[1:]))

    def startpos(self, items: list[Token]) -> tuple[str, int]:
        return ("start", int(items[0]))

    def maxres(self, items: list[Token]) -> tuple[str, int]:
        return ("max", int(items[0]))

    def start(self, items: list[Any]) -> dict[str, Any]:
        parts: dict[str, Any] = {"projection": items[0], "entity": str(items[1])}
        for kind, value in items[2:]:
            parts[kind] = value
        return parts


@functools.lru_cache(maxsize=4096)
def parse_query(text: str) -> ParsedQuery:
    """Parse and validate one query; QueryError carries the QBO code and detail.

    Cached by text: a fleet's companies send the same window queries, and parsing was a
    quarter of the sandbox's time serving them."""
    try:
        tree = _PARSER.parse(text.strip().rstrip(";"))
    except UnexpectedInput as exc:
        snippet = text[exc.pos_in_stream : exc.pos_in_stream + 20] if exc.pos_in_stream else ""
        raise QueryError(
            "4000",
            f'QueryParserError: Encountered "{snippet}" at line {exc.line}, column {exc.column}.',
        ) from None
    parts = _ToTree().transform(tree)
    return _validate(parts)


def _validate(parts: dict[str, Any]) -> ParsedQuery:
    name = parts["entity"]
    entity = CATALOG.get(name)
    if entity is None:
        raise QueryError("4001", f"QueryValidationError: Metadata not found for Entity: {name}")
    kind, extras = parts["projection"]
    with_sku = False
    for extra in extras:
        if extra.lower() == "sku" and name == "Item":
            with_sku = True
        else:
            raise QueryError(
                "4001", f"QueryValidationError: property '{extra}' is not selectable for {name}"
            )
    conditions = tuple(_condition(entity, *c) for c in parts.get("where", []))
    order = tuple((_field(entity, f), desc) for f, desc in parts.get("order", []))
    start = parts.get("start", 1)
    if start < 0:
        raise QueryError("4000", f"QueryParserError: STARTPOSITION must be >= 0, got {start}")
    max_results = parts.get("max", DEFAULT_PAGE)
    if max_results < 1:
        raise QueryError("4000", f"QueryParserError: MAXRESULTS must be >= 1, got {max_results}")
    return ParsedQuery(
        entity=entity,
        count=kind == "count",
        conditions=conditions,
        order=order,
        start=max(start, 1),
        max_results=min(max_results, MAX_PAGE),
        with_sku=with_sku,
    )


def _field(entity: EntityInfo, name: str) -> FieldSpec:
    spec = entity.field(name)
    if spec is None:
        raise QueryError(
            "4001",
            f"QueryValidationError: property '{name}' is not queryable for Entity: {entity.name}",
        )
    return spec


def _condition(entity: EntityInfo, name: str, op: str, raw: list[tuple[str, Any]]) -> Condition:
    spec = _field(entity, name)
    if op == "like":
        if spec.type is not FieldType.STRING:
            raise QueryError("4001", f"QueryValidationError: LIKE is not supported on {spec.name}")
        return Condition(spec, op, (_like_pattern(raw[0][1]),))
    return Condition(spec, op, tuple(_coerce(spec, value) for value in raw))


def _like_pattern(text: str) -> re.Pattern[str]:
    body = ".*".join(re.escape(part) for part in text.split("%"))
    return re.compile(f"^{body}$", re.IGNORECASE | re.DOTALL)


def _invalid(spec: FieldSpec, value: Any, why: str) -> QueryError:
    return QueryError(
        "4001", f"QueryValidationError: invalid value {value!r} for {spec.name}: {why}"
    )


def _coerce_bool(spec: FieldSpec, kind: str, value: Any) -> bool:
    if kind == "bool":
        return bool(value)
    if kind == "str" and value.lower() in ("true", "false"):
        return bool(value.lower() == "true")
    raise _invalid(spec, value, "expected true or false")


def _coerce_id(spec: FieldSpec, kind: str, value: Any) -> int:
    text = str(value)
    if kind == "bool" or not text.isdigit():
        raise _invalid(spec, value, "an Id is digits")
    return int(text)


def _coerce_number(spec: FieldSpec, kind: str, value: Any) -> float:
    if kind == "bool":
        raise _invalid(spec, value, "expected a number")
    try:
        return float(value)
    except ValueError:
        raise _invalid(spec, value, "expected a number") from None


def _coerce_text(spec: FieldSpec, kind: str, value: Any) -> Any:
    if kind == "bool":
        raise _invalid(spec, value, "expected a quoted value")
    if spec.type is FieldType.DATE:
        return _date_value(spec, str(value))
    if spec.type is FieldType.DATETIME:
        return _timestamp_value(spec, str(value))
    return str(value)


_COERCE: dict[FieldType, Callable[[FieldSpec, str, Any], Any]] = {
    FieldType.BOOL: _coerce_bool,
    FieldType.ID: _coerce_id,
    FieldType.NUMBER: _coerce_number,
}


def _coerce(spec: FieldSpec, literal: tuple[str, Any]) -> Any:
    """A literal converted to the field's type; QueryError 4001 when it does not fit."""
    kind, value = literal
    return _COERCE.get(spec.type, _coerce_text)(spec, kind, value)


_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _date_value(spec: FieldSpec, text: str) -> int:
    if not _DATE_RE.match(text):
        raise _invalid(spec, text, "a date is YYYY-MM-DD, without a time part")
    try:
        return clock.date_to_ordinal(date.fromisoformat(text))
    except ValueError:
        raise _invalid(spec, text, "not a calendar date") from None


def _timestamp_value(spec: FieldSpec, text: str) -> float:
    try:
        if _DATE_RE.match(text):
            return float(
                clock.local_midnight_epoch(clock.date_to_ordinal(date.fromisoformat(text)))
            )
        return clock.parse_timestamp(text)
    except ValueError:
        raise _invalid(
            spec, text, "expected a timestamp such as 2025-01-31T00:00:00-08:00"
        ) from None
