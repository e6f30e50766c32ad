"""What QBO does to a report answer that is too large or too dense.

Intuit pages no report. An answer past its cell cap (reported near 400,000 cells) still
comes back as HTTP 200: it stops where the cap falls, the sections open at that point end
without their Summary, and the last row is a Data row whose first cell reads
`TRUNCATION_NOTICE` (its other cells blank). A request made too dense answers HTTP 504 with
Fault code 6002 (`message=GatewayTimeout; errorCode=006002; statusCode=504`).

A line of a report is a row that shows: a Data row, a section's Header, a section's
Summary. Its cells are the report's column count; the answer's cells are lines x columns.
"""

from __future__ import annotations

from typing import Any

from qbo_backfill.sandbox.responses import ApiFault, now_stamp

__all__ = [
    "TRUNCATION_NOTICE",
    "cap_cells",
    "count_data_rows",
    "count_lines",
    "gateway_timeout",
]

TRUNCATION_NOTICE = "Unable to display more data. Please reduce the date range."


def count_data_rows(rows: list[dict[str, Any]]) -> int:
    """Data rows at any depth of a report's `Rows.Row`."""
    total = 0
    for row in rows:
        if row.get("type") == "Section" or "Rows" in row:
            total += count_data_rows(_children(row))
        elif "ColData" in row:
            total += 1
    return total


def count_lines(rows: list[dict[str, Any]]) -> int:
    """Lines at any depth: Data rows, section Headers and section Summaries."""
    total = 0
    for row in rows:
        if "ColData" in row:
            total += 1
            continue
        total += ("Header" in row) + ("Summary" in row) + count_lines(_children(row))
    return total


def cap_cells(report: dict[str, Any], cap: int) -> bool:
    """Cut `report` in place at `cap` cells, as QBO does; True when it was cut.

    Lines are kept in reading order while they and the notice row still fit under the cap.
    """
    width = max(1, len(report.get("Columns", {}).get("Column", [])))
    rows: list[dict[str, Any]] = report.get("Rows", {}).get("Row", [])
    if count_lines(rows) * width <= cap:
        return False
    budget = max(0, cap // width - 1)  # lines left once the notice row is counted
    kept, _ = _cut(rows, budget)
    notice = [{"value": TRUNCATION_NOTICE}, *({"value": ""} for _ in range(width - 1))]
    kept.append({"ColData": notice, "type": "Data"})
    report.setdefault("Rows", {})["Row"] = kept
    return True


def gateway_timeout() -> ApiFault:
    """The 504 QBO answers a report request too dense to compute in time."""
    error = {
        "Message": "message=GatewayTimeout; errorCode=006002; statusCode=504",
        "Detail": "The report took too long to run. Please reduce the date range.",
        "code": "6002",
    }
    return ApiFault(504, {"Fault": {"Error": [error], "type": "SERVICE"}, "time": now_stamp()})


def _children(row: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = (row.get("Rows") or {}).get("Row") or []
    return rows


def _cut(rows: list[dict[str, Any]], budget: int) -> tuple[list[dict[str, Any]], int]:
    """The rows that fit in `budget` lines (a section cut inside keeps no Summary), and the
    budget left; a budget left of -1 says the cut happened."""
    kept: list[dict[str, Any]] = []
    for row in rows:
        if budget <= 0:
            return kept, -1
        if "ColData" in row:
            kept.append(row)
            budget -= 1
            continue
        section = {k: v for k, v in row.items() if k not in ("Rows", "Summary")}
        budget -= "Header" in row
        inner, budget = _cut(_children(row), budget)
        if "Rows" in row:
            section["Rows"] = {**row["Rows"], "Row": inner}
        if budget < 0 or ("Summary" in row and budget == 0):
            kept.append(_ordered(section, row))
            return kept, -1
        if "Summary" in row:
            section["Summary"] = row["Summary"]
            budget -= 1
        kept.append(_ordered(section, row))
    return kept, budget


def _ordered(section: dict[str, Any], like: dict[str, Any]) -> dict[str, Any]:
    """`section`'s keys in the order of the row it was cut from (readers diff payloads)."""
    return {k: section[k] for k in like if k in section}
