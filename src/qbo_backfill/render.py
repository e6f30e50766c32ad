"""Terminal renderings of results: the per-chunk table and per-entity totals."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.table import Table

CHUNK_COLUMNS = (
    ("window", "window"),
    ("status", "status"),
    ("pages", "pages"),
    ("rows_extracted", "extracted"),
    ("rows_inserted", "inserted"),
    ("rows_updated", "updated"),
    ("rows_unchanged", "unchanged"),
    ("source_count_after", "source"),
    ("rows_in_table", "in table"),
    ("matched", "match"),
    ("attempts", "attempts"),
    ("api_calls", "calls"),
)


def chunk_table(entity: str, run_id: int, chunks: Iterable[dict[str, Any]]) -> Table:
    """One row per chunk window with its volumetry and whether it reconciles."""
    table = Table(title=f"{entity} (run {run_id})", title_justify="left")
    for _, header in CHUNK_COLUMNS:
        table.add_column(header, justify="left" if header in ("window", "status") else "right")
    for chunk in chunks:
        table.add_row(*(_cell(key, chunk) for key, _ in CHUNK_COLUMNS))
    return table


def _cell(key: str, chunk: dict[str, Any]) -> str:
    if key == "window":
        start, end = chunk["window_start"], chunk["window_end"]
        return "all" if start.year == 1900 else f"{start} .. {end}"
    value = chunk.get(key)
    if key == "matched":
        return {True: "yes", False: "NO", None: "-"}[value]
    return "-" if value is None else str(value)


def print_tables(console: Console, tables: Iterable[Table]) -> None:
    for table in tables:
        console.print(table)


def check_table(checks: Iterable[Any]) -> Table:
    """`verify` figures: one row per window."""
    table = Table(title="reconciliation", title_justify="left")
    for header in ("entity", "window", "source", "in table", "loaded", "match"):
        table.add_column(header)
    for check in checks:
        row = check.as_dict()
        table.add_row(
            row["entity"],
            row["window"],
            str(row["source_count"]),
            str(row["rows_in_table"]),
            "-" if row["rows_loaded"] is None else str(row["rows_loaded"]),
            "yes" if row["matched"] else "NO",
        )
    return table


def token_table(statuses: Iterable[Any]) -> Table:
    """`auth status`: dates only, never a token."""
    table = Table(title="stored tokens", title_justify="left")
    for header in (
        "realm",
        "environment",
        "access expires",
        "refresh expires",
        "refresh hard expiry",
        "last rotated",
        "last refreshed",
    ):
        table.add_column(header)
    for s in statuses:
        table.add_row(
            s.realm_id,
            s.environment,
            *(
                _when(v)
                for v in (
                    s.access_expires_at,
                    s.refresh_expires_at,
                    s.refresh_hard_expires_at,
                    s.rotated_at,
                    s.refreshed_at,
                )
            ),
        )
    return table


def _when(value: Any) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")
