"""The report as one self-contained HTML page: inline CSS, inline SVG charts drawn here,
and a little inline script (sortable tables). Nothing is fetched, so the page opens from
an archive on a machine without network.

The first script records any script error into the page itself (`#script-errors`), and
the last one marks the page ready with the number of charts and marks it found, so a
headless browser can prove the page works from its DOM alone.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from html import escape
from importlib import resources

from qbo_backfill.figures import ChunkRow
from qbo_backfill.load.syncruns import SyncRecord
from qbo_backfill.report import charts
from qbo_backfill.report.model import CheckStatus, Report, RunReport
from qbo_backfill.report.money import MONEY_CSV_COLUMNS, MoneyCheck
from qbo_backfill.report.reportcopies import ReportCopy

__all__ = ["render_html"]


def _asset(name: str) -> str:
    return (resources.files("qbo_backfill.report") / "assets" / name).read_text(encoding="utf-8")


def render_html(report: Report) -> str:
    """The whole page."""
    counts = report.check_counts()
    verdict = "all checks pass" if report.ok else "ATTENTION: a run failed or a check failed"
    body = [
        f"<h1>qbo-backfill report</h1><p class='meta'>{escape(report.selection.describe())}"
        f" &middot; generated {_ts(report.generated_at)} &middot; {escape(report.database)}"
        f" &middot; schema <code>{escape(report.schema)}</code></p>",
        f"<p class='verdict {'ok' if report.ok else 'bad'}'>{escape(verdict)} "
        f"({counts['pass']} pass, {counts['warn']} warn, {counts['fail']} fail, "
        f"{counts['not checked']} not checked)</p>",
        _rate_section(report),
        *(_run_section(run) for run in report.runs),
        _sync_section(report.syncs),
        _webhooks_section(report),
        _reports_section(report),
        *(_money_section(check) for check in report.money),
        _views_section(report),
        *(
            f"<p class='verdict bad'>company {escape(realm)} needs re-authorization: "
            f"{escape(why)}</p>"
            for realm, why in report.needs_reauthorization.items()
        ),
    ]
    return _asset("page.html").format(
        css=_asset("report.css"),
        head_script=_asset("head.js"),
        body="\n".join(body),
        script=_asset("report.js"),
    )


def _run_section(run: RunReport) -> str:
    r, totals = run.run, run.totals
    title = (
        f"{escape(run.entity)} &middot; run {run.run_id} &middot; realm "
        f"{escape(str(r['realm_id']))} &middot; {escape(str(run.window))}"
    )
    status = str(r.get("status"))
    cards = [
        ("status", status),
        ("chunks", f"{totals['chunks_done']}/{totals['chunks']}"),
        ("rows extracted", f"{totals['rows_extracted']:,}"),
        ("source count", f"{totals['source_count_after']:,}"),
        ("in table", f"{totals['rows_in_table']:,}"),
        (
            "inserted / updated / unchanged",
            " / ".join(
                f"{totals[k]:,}" for k in ("rows_inserted", "rows_updated", "rows_unchanged")
            ),
        ),
        ("API calls", f"{totals['api_calls']:,}"),
        ("429s", str(totals["throttled"])),
        ("wall time", _seconds(totals["wall_seconds"])),
    ]
    card_html = "".join(_card(k, v, k == "status" and v != "done") for k, v in cards)
    return (
        f"<section class='run'><h2>{title}</h2><div class='cards'>{card_html}</div>"
        f"{_checks_table(run)}"
        f"<div class='charts'>{charts.rows_chart(run)}{charts.source_chart(run)}</div>"
        f"{_chunks_table(run)}</section>"
    )


def _card(label: str, value: str, bad: bool) -> str:
    return (
        f"<div class='card{' bad' if bad else ''}'><div class='label'>{escape(label)}</div>"
        f"<div class='value'>{escape(value)}</div></div>"
    )


def _checks_table(run: RunReport) -> str:
    rows = "".join(
        f"<tr><td>{escape(c.name)}</td><td><span class='badge {_badge(c.status)}'>"
        f"{escape(c.status.value)}</span></td><td>{escape(c.detail)}</td></tr>"
        for c in run.checks
    )
    return (
        "<table class='checks'><thead><tr><th>check</th><th>result</th><th>detail</th></tr>"
        f"</thead><tbody>{rows}</tbody></table>"
    )


def _badge(status: CheckStatus) -> str:
    return {"pass": "pass", "warn": "warn", "fail": "fail"}.get(status.value, "none")


_CHUNK_COLUMNS = (
    ("window", None),
    ("status", "status"),
    ("pages", "pages"),
    ("extracted", "rows_extracted"),
    ("inserted", "rows_inserted"),
    ("updated", "rows_updated"),
    ("unchanged", "rows_unchanged"),
    ("source", "source_count_after"),
    ("in table", "rows_in_table"),
    ("match", "matched"),
    ("attempts", "attempts"),
    ("API calls", "api_calls"),
    ("429s", "throttled"),
    ("duration (s)", "duration_ms"),
    ("last error", "last_error"),
)


def _chunks_table(run: RunReport) -> str:
    head = "".join(f"<th>{escape(name)}</th>" for name, _ in _CHUNK_COLUMNS)
    body = "".join(_chunk_row(c) for c in run.chunks)
    totals = run.totals
    foot = (
        f"<tr><th>total</th><th></th><th>{totals['pages']}</th><th>{totals['rows_extracted']}"
        f"</th><th>{totals['rows_inserted']}</th><th>{totals['rows_updated']}</th>"
        f"<th>{totals['rows_unchanged']}</th><th>{totals['source_count_after']}</th>"
        f"<th>{totals['rows_in_table']}</th><th>{totals['mismatches']} off</th>"
        f"<th>{totals['attempts']}</th><th>{totals['api_calls']}</th><th>{totals['throttled']}"
        f"</th><th>{totals['duration_ms'] / 1000:.1f}</th><th></th></tr>"
    )
    return (
        "<details open><summary>chunk windows</summary><div class='scroll'>"
        "<table class='chunks sortable'>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody><tfoot>{foot}</tfoot></table>"
        "</div></details>"
    )


def _chunk_row(chunk: ChunkRow) -> str:
    cells = []
    flat = chunk.as_dict()
    for _, key in _CHUNK_COLUMNS:
        if key is None:
            cells.append(f"<td>{escape(str(chunk.window))}</td>")
            continue
        value = flat[key]
        if key == "matched":
            text = {True: "yes", False: "NO", None: "-"}[value]
            cells.append(f"<td class='{'bad' if value is False else ''}'>{text}</td>")
        elif key == "duration_ms":
            cells.append(f"<td>{'' if value is None else f'{value / 1000:.2f}'}</td>")
        else:
            cells.append(f"<td>{'' if value is None else escape(str(value))}</td>")
    return f"<tr class='{'' if chunk.ok else 'bad'}'>{''.join(cells)}</tr>"


def _rate_section(report: Report) -> str:
    how = (
        "Requests per minute, as sent"
        if report.rate_measured
        else "Requests per minute, estimated by spreading each chunk's API calls over its "
        "duration and drawn no higher than the configured limit (the run recorded no "
        "per-minute counts)"
    )
    title = "Request rate against the limit" + ("" if report.rate_measured else " (estimated)")
    chart = charts.rate_chart(report.rate, report.limit_per_minute, report.configured_per_minute)
    return (
        f"<section><h2>{title}</h2><p class='meta'>{how}; Intuit allows "
        f"{report.limit_per_minute} per minute per company, this tool was configured for "
        f"{report.configured_per_minute}.</p>{chart}</section>"
    )


_SYNC_COLUMNS = (
    "entity", "path", "status", "inserted", "updated", "deleted", "reactivated",
    "cursor after", "behind", "API calls",
)  # fmt: skip


def _sync_section(syncs: list[SyncRecord]) -> str:
    """The newest syncs: per entity what changed, the path taken, the cursor, the lag."""
    if not syncs:
        return ""
    head = "".join(f"<th>{name}</th>" for name in _SYNC_COLUMNS)
    body = "".join(_sync_row(s) for s in syncs)
    return (
        "<section><h2>Syncs</h2><p class='meta'>Newest first: what each sync changed in the "
        "raw tables, the path it took, the cursor it left and how far behind the source the "
        "copy was when it began.</p><div class='scroll'><table class='syncs sortable'>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div></section>"
    )


def _webhooks_section(report: Report) -> str:
    """Webhook activity: events, why some were ignored, syncs, the lag to the copy."""
    hooks = report.webhooks
    if not hooks.received:
        return ""
    rows = [
        ("events received", f"{hooks.received:,}"),
        *((f"ignored: {why}", f"{n:,}") for why, n in sorted(hooks.ignored.items())),
        ("syncs triggered", f"{hooks.syncs_triggered:,}"),
        ("awaiting a sync", f"{hooks.awaiting_sync:,}"),
        ("lag to the copy, p50", _seconds(hooks.lag_p50_seconds)),
        ("lag to the copy, p95", _seconds(hooks.lag_p95_seconds)),
        ("lag to the copy, max", _seconds(hooks.lag_max_seconds)),
    ]
    body = "".join(f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in rows)
    return (
        f"<section><h2>Webhooks</h2><p class='meta'>The last {hooks.hours} hours of Intuit's "
        "change notifications (docs/webhooks.md); the lag runs from an event's time to the "
        "end of the first sync that copied it.</p><table class='webhooks'>"
        f"<tbody>{body}</tbody></table></section>"
    )


def _views_section(report: Report) -> str:
    """The typed views and their rows."""
    if not report.views:
        return ""
    body = "".join(
        f"<tr><td>{escape(name)}</td><td>{rows:,}</td></tr>" for name, rows in report.views
    )
    return (
        f"<section><h2>Typed views</h2><p class='meta'>Schema <code>"
        f"{escape(report.views_schema)}</code>: Fivetran's QuickBooks tables over the raw "
        "tables (docs/typed-views.md), rows counted now.</p><div class='scroll'>"
        "<table class='views sortable'><thead><tr><th>view</th><th>rows</th></tr></thead>"
        f"<tbody>{body}</tbody></table></div></section>"
    )


def _sync_row(sync: SyncRecord) -> str:
    f = sync.figures
    cells = (
        sync.entity,
        sync.path,
        sync.status if sync.error is None else f"{sync.status}: {sync.error}",
        f.inserted,
        f.updated,
        f.deleted,
        f.reactivated,
        _ts(sync.cursor_after),
        _seconds(sync.lag_seconds),
        f.api_calls,
    )
    bad = " class='bad'" if sync.status != "done" else ""
    return f"<tr{bad}>" + "".join(f"<td>{escape(str(c))}</td>" for c in cells) + "</tr>"


_REPORT_COLUMNS = (
    "realm", "report", "basis", "days", "periods", "empty months", "cut short", "504",
    "API calls", "changed",
)  # fmt: skip


def _reports_section(report: Report) -> str:
    """Copied reports: per company, report and basis; then closed periods that changed."""
    if not report.reports:
        return ""
    head = "".join(f"<th>{name}</th>" for name in _REPORT_COLUMNS)
    rows = "".join(_report_row(r) for r in report.reports)
    changes = "".join(
        f"<li class='bad'>{escape(c.report_name)} {escape(c.accounting_method)} "
        f"{c.period_start}..{c.period_end}, found {_ts(c.detected_at_utc)}: "
        f"{escape(', '.join(f'{k} {v}' for k, v in c.difference.items()))}</li>"
        for c in report.report_changes
    )
    return (
        "<section><h2>Copied reports</h2><p class='meta'>Intuit's reports as served, month "
        "by month (docs/reports.md): periods stored, months shown empty, answers split.</p>"
        f"<div class='scroll'><table class='sortable'><thead><tr>{head}</tr></thead>"
        f"<tbody>{rows}</tbody></table></div>"
        + (f"<h3>Closed periods that changed</h3><ul>{changes}</ul>" if changes else "")
        + "</section>"
    )


def _report_row(r: ReportCopy) -> str:
    cells = (
        r.realm_id, r.report_name, r.accounting_method, f"{r.first_day}..{r.last_day}",
        r.periods, r.months_empty, r.truncations_split, r.dense_split, r.calls, r.changes,
    )  # fmt: skip
    return "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in cells) + "</tr>"


def _money_section(check: MoneyCheck) -> str:
    """A money check: the monthly chart, the months that disagree, what was named."""
    verdict = "every month agrees" if check.ok else "DIFFERENCES FOUND"
    named = "".join(
        f"<li class='bad'>{escape(d['kind'])}: {escape(d['type'])} {escape(d['id'])} "
        f"(number {escape(d['number'] or '-')}): source {escape(d['source_date'] or '-')} "
        f"{escape(d['source_amount'] or '-')}, copy {escape(d['copy_date'] or '-')} "
        f"{escape(d['copy_amount'] or '-')}</li>"
        for d in check.differences
    )
    others = "".join(
        f"<li class='bad'>{escape(name.replace('_', ' '))}: {escape(str(row))}</li>"
        for name, rows in check.checks.items()
        for row in rows
    )
    bad = [m for m in check.months if not m.agreed]
    head = "".join(f"<th>{escape(c.replace('_', ' '))}</th>" for c in MONEY_CSV_COLUMNS)
    rows = "".join(
        "<tr>"
        + "".join(f"<td>{escape(str(getattr(m, c)))}</td>" for c in MONEY_CSV_COLUMNS)
        + "</tr>"
        for m in check.months
    )
    residue = sum((m.residue for m in check.months), Decimal(0))
    return (
        f"<section><h2>Money: realm {escape(check.realm_id)}, "
        f"{escape(check.accounting_method.lower())} basis</h2>"
        f"<p class='verdict {'ok' if check.ok else 'bad'}'>{verdict}: "
        f"{len(check.months) - len(bad)} of {len(check.months)} months agree; residue "
        f"{residue}; {check.calls} calls; checked {_ts(check.checked_at_utc)}</p>"
        + charts.money_chart(check)
        + (f"<h3>Differences</h3><ul>{named}{others}</ul>" if named or others else "")
        + f"<details><summary>Months</summary><div class='scroll'><table class='sortable'>"
        f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div></details>"
        "</section>"
    )


def _ts(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"
