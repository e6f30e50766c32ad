"""A report payload flattened: one `ReportCell` per (report row, cell), by a walk over its
sections. The one place the rules of the `report_row` view live (docs/reports.md, "The
view"); `load/reportstore.py` stores these cells beside the payload they come from.

The rules:
- columns from `Columns.Column`: position, `ColKey`, `ColTitle`, `StartDate`/`EndDate`;
- a section's position path (`0.2.1`: third row of the first top-level row, ...) is the
  `section_id` of its header, its summary and the data rows directly in it; rows outside
  any section have none;
- `row_path` holds the labels (first header cell) of the sections the row is in, its own
  section included for a header or summary;
- `amount` is the cell read as a number, only in a Money column: a document number in a
  text column is not money;
- the account and the transaction come from the cells of the Account column (or the one
  keyed `account`/`account_name`) and of the `txn_type` column, their `id`s kept; a
  section header with no Account column names its account in its first cell (the general
  ledger's), and the rows inside it without an account cell are that account's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

__all__ = ["ReportCell", "ReportColumn", "columns_of", "flatten_report", "parse_amount"]

_NUMBER = re.compile(r"-?(\d+(\.\d*)?|\.\d+)")
_ACCOUNT_KEYS = ("account", "account_name")


@dataclass(frozen=True)
class ReportColumn:
    """One column of a report, as `Columns.Column` describes it."""

    index: int
    key: str | None
    title: str
    kind: str
    start_date: date | None
    end_date: date | None


@dataclass(frozen=True)
class ReportCell:
    """One cell of one row: a row of the `report_row` view (without the report's keys)."""

    column_index: int
    column_key: str | None
    column_title: str
    column_start_date: date | None
    column_end_date: date | None
    section_id: str | None
    row_path: tuple[str, ...]
    row_kind: str  # data | section_header | summary
    row_group: str | None
    account_id: str | None
    account_name: str | None
    txn_type: str | None
    txn_id: str | None
    value: str
    amount: Decimal | None


def parse_amount(text: str) -> Decimal | None:
    """A cell's text as a number (QBO sends "337.5", "-12", ""), else None."""
    cleaned = text.strip().replace(",", "")
    return Decimal(cleaned) if _NUMBER.fullmatch(cleaned) else None


def columns_of(payload: dict[str, Any]) -> list[ReportColumn]:
    """The report's columns, in order."""
    listed = _dig(payload, "Columns", "Column")
    columns = []
    for index, given in enumerate(listed if isinstance(listed, list) else []):
        column = given if isinstance(given, dict) else {}
        meta = {
            str(item.get("Name")): str(item.get("Value", ""))
            for item in column.get("MetaData") or []
            if isinstance(item, dict)
        }
        columns.append(
            ReportColumn(
                index,
                meta.get("ColKey"),
                str(column.get("ColTitle", "")),
                str(column.get("ColType", "")),
                _date(meta.get("StartDate")),
                _date(meta.get("EndDate")),
            )
        )
    return columns


def flatten_report(payload: dict[str, Any]) -> list[ReportCell]:
    """Every cell of every row of the payload, sections walked depth first, in order."""
    columns = columns_of(payload)
    return list(_walk(_rows(payload.get("Rows")), columns, _Place((), (), None, None)))


@dataclass(frozen=True)
class _Place:
    """Where a row sits: its section's position and labels, group and account cell."""

    position: tuple[int, ...]
    path: tuple[str, ...]
    group: str | None
    account: dict[str, Any] | None

    @property
    def section_id(self) -> str | None:
        return ".".join(map(str, self.position)) or None


def _walk(rows: list[Any], columns: list[ReportColumn], place: _Place) -> Iterator[ReportCell]:
    for number, row in enumerate(rows):
        if not isinstance(row, dict):
            continue
        if row.get("type") == "Section" or "Header" in row or "Summary" in row:
            yield from _section(row, columns, place, number)
        else:
            group = row.get("group") if isinstance(row.get("group"), str) else place.group
            yield from _cells(row, columns, replace(place, group=group), "data")


def _section(
    row: dict[str, Any], columns: list[ReportColumn], outer: _Place, number: int
) -> Iterator[ReportCell]:
    header = row.get("Header")
    label = _first_value(header)
    place = _Place(
        (*outer.position, number),
        (*outer.path, label) if label is not None else outer.path,
        row.get("group") if isinstance(row.get("group"), str) else None,
        _header_account(header, columns) or outer.account,
    )
    if isinstance(header, dict):
        yield from _cells(header, columns, place, "section_header")
    yield from _walk(_rows(row.get("Rows")), columns, place)
    summary = row.get("Summary")
    if isinstance(summary, dict):
        yield from _cells(summary, columns, place, "summary")


def _header_account(header: Any, columns: list[ReportColumn]) -> dict[str, Any] | None:
    """The account a header names in its first cell, when no column holds accounts."""
    if any(_is_account(c) for c in columns) or not isinstance(header, dict):
        return None
    data = header.get("ColData")
    first = data[0] if isinstance(data, list) and data else None
    return first if isinstance(first, dict) and first.get("id") else None


def _is_account(column: ReportColumn) -> bool:
    return column.kind == "Account" or column.key in _ACCOUNT_KEYS


def _cells(
    row: dict[str, Any], columns: list[ReportColumn], place: _Place, kind: str
) -> Iterator[ReportCell]:
    data = [c if isinstance(c, dict) else {} for c in row.get("ColData") or []]
    # A summary line totals accounts; it is none of them.
    account = (
        None if kind == "summary" else _cell_where(data, columns, _is_account) or place.account
    )
    txn = _cell_where(data, columns, lambda c: c.key == "txn_type")
    for index, cell in enumerate(data):
        column = (
            columns[index]
            if index < len(columns)
            else ReportColumn(index, None, "", "", None, None)
        )
        value = str(cell.get("value", ""))
        yield ReportCell(
            index,
            column.key,
            column.title,
            column.start_date,
            column.end_date,
            place.section_id,
            place.path,
            kind,
            place.group,
            _text(account, "id"),
            _text(account, "value"),
            _text(txn, "value"),
            _text(txn, "id"),
            value,
            parse_amount(value) if column.kind == "Money" else None,
        )


def _cell_where(data: list[dict[str, Any]], columns: list[ReportColumn], test: Any) -> Any:
    for column in columns:
        if test(column) and column.index < len(data):
            return data[column.index]
    return None


def _text(cell: dict[str, Any] | None, key: str) -> str | None:
    value = cell.get(key) if cell else None
    return str(value) if value not in (None, "") else None


def _rows(rows: Any) -> list[Any]:
    listed = rows.get("Row") if isinstance(rows, dict) else None
    return listed if isinstance(listed, list) else []


def _first_value(header: Any) -> str | None:
    data = header.get("ColData") if isinstance(header, dict) else None
    if isinstance(data, list) and data and isinstance(data[0], dict):
        return str(data[0].get("value", ""))
    return None


def _dig(payload: Any, *keys: str) -> Any:
    for key in keys:
        payload = payload.get(key) if isinstance(payload, dict) else None
    return payload


def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None
