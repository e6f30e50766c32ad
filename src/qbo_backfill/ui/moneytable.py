"""`verify --money` in the terminal: the months' table, the first differing transactions
named, the residue lines, the report checks that failed."""

from __future__ import annotations

from decimal import Decimal

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from qbo_backfill.load.moneyrecord import MoneyResult
from qbo_backfill.load.moneytxns import shown
from qbo_backfill.report.money import MoneyCheck

__all__ = ["NAMED", "money_check_lines", "money_lines", "money_summary"]

NAMED = 20  # differing transactions named in the terminal (all are recorded per month)
_MONTH_COLUMNS = (
    "month",
    "source",
    "copy",
    "missing",
    "extra",
    "amounts",
    "dates",
    "source total",
    "copy total",
    "residue",
    "agrees",
)


def money_lines(result: MoneyResult) -> RenderableType:
    """Everything the check found, months first."""
    parts: list[RenderableType] = [_months(result)]
    if result.differences:
        parts.append(_differences(result))
    if result.residue:
        parts.append(_residue(result))
    for row in result.not_adding_up:
        parts.append(Text(f"does not add up: {_plain(row)}"))
    for row in result.open_balances:
        parts.append(
            Text(
                f"open balances differ: {row['report']} as of {row['as_of']}: "
                f"source {row['source_total']}, copy {row['copy_total']}"
            )
        )
    for line in result.reports_failed:
        parts.append(Text(f"report not copied: {line}"))
    if result.not_copied:
        parts.append(
            Text(f"not compared (no raw table, never copied): {', '.join(result.not_copied)}")
        )
    return Group(*parts)


def _months(result: MoneyResult) -> Table:
    table = Table(
        title=f"money, {result.basis.lower()} basis (realm {result.realm_id})", title_justify="left"
    )
    for header in _MONTH_COLUMNS:
        table.add_column(header, justify="left" if header == "month" else "right")
    for m in result.months:
        table.add_row(
            m.month.strftime("%Y-%m"),
            str(m.source_count),
            str(m.copy_count),
            str(m.missing),
            str(m.extra),
            str(m.amounts_differing),
            str(m.dates_differing),
            str(m.source_total),
            str(m.copy_total),
            str(m.residue) if m.residue else "",
            "yes" if m.agreed else "NO",
        )
    return table


def _differences(result: MoneyResult) -> Table:
    named = result.differences[:NAMED]
    title = f"differing transactions ({len(named)} of {len(result.differences)})"
    table = Table(title=title, title_justify="left")
    for header in ("kind", "type", "Id", "number", "source date", "copy date", "source", "copy"):
        table.add_column(header)
    for d in named:
        table.add_row(
            d.kind,
            d.entity,
            d.txn_id,
            d.doc_number or "",
            str(d.source_date or "-"),
            str(d.copy_date or "-"),
            shown(d.source_amount) or "-",
            shown(d.copy_amount) or "-",
        )
    return table


def _residue(result: MoneyResult) -> Table:
    table = Table(title="residue: postings no copied entity carries", title_justify="left")
    for header in ("month", "shown by", "account", "amount", "lines"):
        table.add_column(header, justify="right" if header in ("amount", "lines") else "left")
    for r in result.residue:
        table.add_row(r.month.strftime("%Y-%m"), r.source, r.account, str(r.amount), str(r.lines))
    return table


def _plain(row: dict[str, object]) -> str:
    return ", ".join(f"{k} {v}" for k, v in row.items())


def money_summary(result: MoneyResult) -> str:
    """The closing line: months agreeing, transactions differing, residue, calls."""
    agreeing = sum(1 for m in result.months if m.agreed)
    residue = sum((r.amount for r in result.residue if not r.counterpart), start=Decimal(0))
    return (
        f"money: {agreeing} of {len(result.months)} months agree, "
        f"{len(result.differences)} transactions differ, "
        f"{len(result.not_adding_up)} report lines do not add up, "
        f"{len(result.open_balances)} open balances differ; residue {residue} "
        f"({len(result.residue)} lines); {result.calls} calls"
    )


def money_check_lines(check: MoneyCheck) -> RenderableType:
    """`report`: the newest money check of a company and basis, as recorded."""
    table = Table(
        title=f"money, {check.accounting_method.lower()} basis (realm {check.realm_id}, "
        f"checked {check.checked_at_utc:%Y-%m-%d %H:%M}Z, {check.calls} calls)",
        title_justify="left",
    )
    for header in _MONTH_COLUMNS:
        table.add_column(header, justify="left" if header == "month" else "right")
    for m in check.months:
        table.add_row(
            m.month.strftime("%Y-%m"),
            *(
                str(v)
                for v in (
                    m.source_count,
                    m.copy_count,
                    m.missing,
                    m.extra,
                    m.amounts_differing,
                    m.dates_differing,
                    m.source_total,
                    m.copy_total,
                )
            ),
            str(m.residue) if m.residue else "",
            "yes" if m.agreed else "NO",
        )
    parts: list[RenderableType] = [table]
    for d in check.differences[:NAMED]:
        parts.append(
            Text(
                f"{d['kind']}: {d['type']} {d['id']} (number {d['number'] or '-'}): "
                f"source {d['source_date'] or '-'} {d['source_amount'] or '-'}, "
                f"copy {d['copy_date'] or '-'} {d['copy_amount'] or '-'}",
                "red",
            )
        )
    for name, rows in check.checks.items():
        for row in rows:
            parts.append(Text(f"{name.replace('_', ' ')}: {row}", "red"))
    return Group(*parts)
