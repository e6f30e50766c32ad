"""`report`: the evidence of runs as a table, JSON, CSV or a self-contained HTML page."""

from __future__ import annotations

import io
from pathlib import Path

import click
from rich.console import Console

from qbo_backfill import report
from qbo_backfill.errors import EXIT_OK, EXIT_RUN_FAILED
from qbo_backfill.ui import render
from qbo_backfill.ui.cli.shared import console, load_settings


@click.command("report", short_help="Per chunk window figures, totals and checks of runs.")
@click.option("--run", "run_ids", type=int, multiple=True, help="A run id (repeatable).")
@click.option("--last", is_flag=True, help="The runs of the newest session (the default).")
@click.option("--entity", help="Every run of this entity, e.g. Invoice.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv", "money-csv", "html"]),
    default="table",
    show_default=True,
    help="What to print (csv: one row per chunk window; money-csv: one row per month of "
    "the newest money check).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write every format into this folder (report.txt, .json, -chunks.csv, "
    "-checks.csv, -views.csv, -money.csv, .html) as evidence.",
)
def report_command(
    run_ids: tuple[int, ...], last: bool, entity: str | None, fmt: str, out: Path | None
) -> int:
    """Per chunk window: pages, rows, source count, match, attempts, 429s, duration; totals
    and validation checks. Exit 1 if a run failed or a check failed."""
    from qbo_backfill.report.html import render_html

    settings = load_settings()
    evidence = report.build_report(settings, report.Selection(run_ids, last, entity))
    if out is not None:
        buffer = io.StringIO()
        Console(file=buffer, width=200, color_system=None).print(
            *render.report_renderables(evidence)
        )
        for path in report.write_all(evidence, out, buffer.getvalue(), render_html(evidence)):
            click.echo(f"wrote {path}")
    if fmt == "table":
        # Piped or redirected, the table keeps its columns instead of a terminal's 80.
        shown = console if console.is_terminal else Console(width=200)
        shown.print(*render.report_renderables(evidence))
    elif out is None:
        renderers = {
            "json": report.to_json,
            "csv": report.chunks_csv,
            "money-csv": report.money_csv,
            "html": render_html,
        }
        rendered = renderers[fmt](evidence)
        click.echo(rendered, nl=not rendered.endswith("\n"))
    return EXIT_OK if evidence.ok else EXIT_RUN_FAILED
