"""Casts from a JSON value to a column's type that never raise: a value of the wrong JSON
type, a string that is not a number or not a date, a missing part: NULL.

Each cast is a plain SQL expression (CASE on `jsonb_typeof`, a regular expression before a
text cast), so the planner inlines it into the query: no function call per value, no
exception handler (a plpgsql block with EXCEPTION costs a subtransaction per call)."""

from __future__ import annotations

from psycopg import sql

from qbo_backfill.views.model import ColumnType

# A decimal number as text (what a number sent as a string looks like): sign, digits, dot,
# exponent. Anything else (``, `12abc`, `NaN`, `1,000.00`) is NULL, never an error.
_NUMBER = r"^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]{1,3})?\s*$"
# YYYY-MM-DD with a month and day PostgreSQL accepts; the day is checked against the month.
_DATE = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
# QBO's times after the date: T, time, optional fraction, and Z or an offset PostgreSQL
# accepts; or nothing (a date alone is its midnight, as for `ServiceDate`).
_TIME = (
    r"^(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?"
    r"(Z|[+-](0[0-9]|1[0-5]):[0-5][0-9])?)?$"
)


def cast(value: sql.Composable, kind: ColumnType) -> sql.Composable:
    """`value` (a jsonb expression) as `kind`, NULL when it cannot be one."""
    return _CASTS[kind](value)


def _text(value: sql.Composable) -> sql.Composable:
    # A scalar's text; an object or array has no text of its own here.
    return sql.SQL(
        "CASE WHEN jsonb_typeof({v}) IN ('string', 'number', 'boolean') THEN {v} #>> '{{}}' END"
    ).format(v=value)


def _numeric(value: sql.Composable) -> sql.Composable:
    return sql.SQL(
        "CASE jsonb_typeof({v}) WHEN 'number' THEN ({v})::numeric "
        "WHEN 'string' THEN CASE WHEN ({v} #>> '{{}}') ~ {pattern} "
        "THEN ({v} #>> '{{}}')::numeric END END"
    ).format(v=value, pattern=sql.Literal(_NUMBER))


def _boolean(value: sql.Composable) -> sql.Composable:
    return sql.SQL(
        "CASE jsonb_typeof({v}) WHEN 'boolean' THEN ({v})::boolean "
        "WHEN 'string' THEN CASE lower({v} #>> '{{}}') WHEN 'true' THEN true "
        "WHEN 'false' THEN false END END"
    ).format(v=value)


def _integer(value: sql.Composable) -> sql.Composable:
    return sql.SQL(
        "CASE WHEN jsonb_typeof({v}) IN ('number', 'string') THEN CASE WHEN ({v} #>> '{{}}') ~ "
        "'^\\s*[-+]?[0-9]{{1,9}}\\s*$' THEN ({v} #>> '{{}}')::integer END END"
    ).format(v=value)


def _valid_day(text: sql.Composable) -> sql.Composable:
    """True when the text starts with a real calendar day (no 02-30, no year 0); the
    pattern is tested first (a CASE, since AND may evaluate in any order), so the year is
    digits when it is read as a number."""
    year = sql.SQL("substr({t}, 1, 4)::int").format(t=text)
    return sql.SQL(
        "CASE WHEN {t} ~ {pattern} AND left({t}, 4) <> '0000' THEN substr({t}, 9, 2) <= "
        "CASE substr({t}, 6, 2) WHEN '02' THEN CASE WHEN {y} % 4 = 0 AND "
        "({y} % 100 <> 0 OR {y} % 400 = 0) THEN '29' ELSE '28' END "
        "WHEN '04' THEN '30' WHEN '06' THEN '30' WHEN '09' THEN '30' WHEN '11' THEN '30' "
        "ELSE '31' END ELSE false END"
    ).format(t=text, y=year, pattern=sql.Literal(_DATE))


def _date(value: sql.Composable) -> sql.Composable:
    text = sql.SQL("({v} #>> '{{}}')").format(v=value)
    return sql.SQL(
        "CASE WHEN jsonb_typeof({v}) = 'string' THEN CASE WHEN length({t}) = 10 AND {ok} "
        "THEN {t}::date END END"
    ).format(v=value, t=text, ok=_valid_day(text))


def _timestamptz(value: sql.Composable) -> sql.Composable:
    text = sql.SQL("({v} #>> '{{}}')").format(v=value)
    return sql.SQL(
        "CASE WHEN jsonb_typeof({v}) = 'string' THEN CASE WHEN substr({t}, 11) ~ {time} "
        "THEN CASE WHEN {ok} THEN {t}::timestamptz END END END"
    ).format(v=value, t=text, ok=_valid_day(text), time=sql.Literal(_TIME))


_CASTS = {
    ColumnType.TEXT: _text,
    ColumnType.NUMERIC: _numeric,
    ColumnType.BOOLEAN: _boolean,
    ColumnType.INTEGER: _integer,
    ColumnType.DATE: _date,
    ColumnType.TIMESTAMPTZ: _timestamptz,
}
