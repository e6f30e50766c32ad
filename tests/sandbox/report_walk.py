"""Reading report JSON in tests: sections by group, rows by label, amounts as Decimal."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

Row = dict[str, Any]


def rows_of(node: Row) -> list[Row]:
    rows: list[Row] = (node.get("Rows") or {}).get("Row") or []
    return rows


def walk(rows: list[Row]) -> Iterator[Row]:
    """Every row at any depth, sections before their contents."""
    for row in rows:
        yield row
        yield from walk(rows_of(row))


def group(report: Row, name: str) -> Row:
    """The section of a group, at any depth."""
    for row in walk(rows_of(report)):
        if row.get("group") == name:
            return row
    raise KeyError(name)


def amount(text: str) -> Decimal:
    return Decimal(text) if text else Decimal(0)


def summary(section: Row, column: int = -1) -> Decimal:
    return amount(section["Summary"]["ColData"][column]["value"])


def labelled(report: Row, label: str) -> Row:
    """The first Data row (or section Header) whose first cell reads `label`."""
    for row in walk(rows_of(report)):
        first = (row.get("ColData") or (row.get("Header") or {}).get("ColData") or [{}])[0]
        if first.get("value") == label:
            return row
    raise KeyError(label)


def money_columns(report: Row) -> list[int]:
    """Positions of the Money columns that add up (not a running balance)."""
    return [
        n
        for n, c in enumerate(report["Columns"]["Column"])
        if c["ColType"] == "Money"
        and {"Name": "ColKey", "Value": "rbal_nat_amount"} not in c.get("MetaData", [])
    ]


def check_sections_add_up(rows: list[Row], columns: list[int]) -> None:
    """In every section with a Summary, the Header's own amounts plus the amounts of its
    rows (a nested section by its Summary) equal the Summary, in every Money column. A
    section whose Summary is a net line ("Net Operating Income", the P&L detail's
    wrappers) nets its parts (income less costs) instead: it is left out."""
    for row in rows:
        label = (row.get("Summary") or {}).get("ColData", [{}])[0].get("value", "")
        netted = label in ("Net Operating Income", "Net Other Income")
        if row.get("type") != "Section" or "Summary" not in row or "Rows" not in row or netted:
            check_sections_add_up(rows_of(row), columns)
            continue
        check_sections_add_up(rows_of(row), columns)
        for n in columns:
            total = amount(row["Header"]["ColData"][n]["value"]) if "Header" in row else Decimal(0)
            for child in rows_of(row):
                cells = child["ColData"] if "ColData" in child else child["Summary"]["ColData"]
                total += amount(cells[n]["value"])
            assert total == summary(row, n), (row["Summary"]["ColData"][0], n)


def check_shape(report: Row) -> None:
    """Every row has one cell per column; every value is text."""
    width = len(report["Columns"]["Column"])
    for row in walk(rows_of(report)):
        for part in (row, row.get("Header"), row.get("Summary")):
            if part and "ColData" in part:
                assert len(part["ColData"]) == width, part
                assert all(isinstance(c["value"], str) for c in part["ColData"])
    options = {o["Name"]: o["Value"] for o in report["Header"]["Option"]}
    assert options["NoReportData"] in ("true", "false")
    assert report["Header"]["Time"]
