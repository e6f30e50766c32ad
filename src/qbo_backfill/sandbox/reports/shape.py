"""The JSON pieces every report is made of, in QBO's shapes: the Header, Columns with their
MetaData, Data rows, Sections (Header, Rows, Summary, group) and amounts printed as text.

QBO prints an amount with two decimals and a minus sign ("-15025.00"); a cell with no
amount is `""`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from qbo_backfill.sandbox import clock
from qbo_backfill.sandbox.books.model import Basis
from qbo_backfill.sandbox.reports.params import Period

__all__ = [
    "ZERO",
    "ReportFrame",
    "Row",
    "cells",
    "column",
    "data_row",
    "money",
    "money_or_blank",
    "period_columns",
    "report",
    "section",
]

ZERO = Decimal(0)
Row = dict[str, Any]


def money(value: Decimal) -> str:
    """An amount as QBO prints it: two decimals, `-` for negatives."""
    return f"{value:.2f}"


def money_or_blank(value: Decimal) -> str:
    """A data cell's amount: blank when there is none."""
    return "" if value == 0 else money(value)


def cells(first: str, values: Sequence[str], ref: int | str | None = None) -> list[dict[str, str]]:
    """A ColData list: the label (with its `id` when it names a record) then the values."""
    head = {"value": first} if ref is None else {"value": first, "id": str(ref)}
    return [head, *({"value": v} for v in values)]


def data_row(
    first: str, values: Sequence[str], ref: int | str | None = None, *, typed: bool = True
) -> Row:
    """`{"ColData": [...], "type": "Data"}`; without `type` where Intuit's samples of the
    report have none (TrialBalance, the aging reports)."""
    row: Row = {"ColData": cells(first, values, ref)}
    if typed:
        row["type"] = "Data"
    return row


def section(
    *,
    group: str | None = None,
    header: list[dict[str, str]] | None = None,
    rows: list[Row] | None = None,
    summary: list[dict[str, str]] | None = None,
) -> Row:
    """A Section; a computed line has only a Summary; nested account sections no group."""
    out: Row = {}
    if header is not None:
        out["Header"] = {"ColData": header}
    if rows is not None:
        out["Rows"] = {"Row": rows}
    if summary is not None:
        out["Summary"] = {"ColData": summary}
    out["type"] = "Section"
    if group is not None:
        out["group"] = group
    return out


def column(title: str, kind: str, key: str, period: Period | None = None) -> dict[str, Any]:
    """A Column with its ColKey (and StartDate/EndDate for a period column)."""
    meta = []
    if period is not None:
        meta = [
            {"Name": "StartDate", "Value": period.start.isoformat()},
            {"Name": "EndDate", "Value": period.end.isoformat()},
        ]
    meta.append({"Name": "ColKey", "Value": key})
    return {"ColTitle": title, "ColType": kind, "MetaData": meta}


def period_columns(periods: Sequence[Period], *, total: bool = True) -> list[dict[str, Any]]:
    """The account column, one Money column per period, and (when `total`) a Total."""
    out = [column("", "Account", "account")]
    out += [column(p.title, "Money", str(n), p) for n, p in enumerate(periods)]
    if total or not periods:
        out.append(column("Total", "Money", "total"))
    return out


@dataclass(frozen=True)
class ReportFrame:
    """What a report's Header says about the request it answers."""

    name: str
    basis: Basis | None
    start: date | None
    end: date | None
    summarize: str | None = None
    macro: str | None = None
    options: tuple[tuple[str, str], ...] = ()


def report(
    frame: ReportFrame, columns: list[dict[str, Any]], rows: list[Row], has_data: bool
) -> Row:
    """The whole answer: Header (with `NoReportData`; `Time` to the second, Pacific, as
    Intuit's samples print it), Columns, Rows."""
    header: Row = {"Time": clock.format_local(int(clock.now_epoch())), "ReportName": frame.name}
    if frame.macro:
        header["DateMacro"] = frame.macro.lower()
    if frame.basis is not None:
        header["ReportBasis"] = frame.basis.value
    if frame.start is not None:
        header["StartPeriod"] = frame.start.isoformat()
    if frame.end is not None:
        header["EndPeriod"] = frame.end.isoformat()
    if frame.summarize is not None:
        header["SummarizeColumnsBy"] = frame.summarize
    header["Currency"] = "USD"
    options = [{"Name": k, "Value": v} for k, v in frame.options]
    options.append({"Name": "NoReportData", "Value": "false" if has_data else "true"})
    header["Option"] = options
    return {"Header": header, "Columns": {"Column": columns}, "Rows": {"Row": rows}}
