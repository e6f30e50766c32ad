"""The report as one self-contained HTML page: inline CSS, inline SVG charts drawn here,
and a little inline script (sortable tables). Nothing is fetched, so the page opens from
an archive on a machine without network.

The first script records any script error into the page itself (`#script-errors`), and
the last one marks the page ready with the number of charts and marks it found, so a
headless browser can prove the page works from its DOM alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from html import escape
from typing import Any

from qbo_backfill.report.model import CheckStatus, RatePoint, Report, RunReport
from qbo_backfill.report.wording import plural

__all__ = ["render_html"]

WIDTH, HEIGHT = 900, 240
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 64, 16, 16, 40
MAX_BAR = 80.0
COLORS = {"rows": "#3b6ea8", "source": "#8a9bb0", "loaded": "#2e8b57", "bad": "#c0392b"}


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
    ]
    return _PAGE.format(css=_CSS, head_script=_HEAD_SCRIPT, body="\n".join(body), script=_SCRIPT)


def _run_section(run: RunReport) -> str:
    r, totals = run.run, run.totals
    title = (
        f"{escape(run.entity)} &middot; run {run.run_id} &middot; realm "
        f"{escape(str(r['realm_id']))} &middot; {_range(r['window_start'], r['window_end'])}"
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
        f"<div class='charts'>{_rows_chart(run)}{_source_chart(run)}</div>"
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


def _chunk_row(chunk: dict[str, Any]) -> str:
    cells = []
    for _, key in _CHUNK_COLUMNS:
        if key is None:
            cells.append(f"<td>{_range(chunk['window_start'], chunk['window_end'])}</td>")
            continue
        value = chunk.get(key)
        if key == "matched":
            text = {True: "yes", False: "NO", None: "-"}[value]
            cells.append(f"<td class='{'bad' if value is False else ''}'>{text}</td>")
        elif key == "duration_ms":
            cells.append(f"<td>{'' if value is None else f'{value / 1000:.2f}'}</td>")
        else:
            cells.append(f"<td>{'' if value is None else escape(str(value))}</td>")
    bad = chunk["status"] != "done" or chunk.get("matched") is False
    return f"<tr class='{'bad' if bad else ''}'>{''.join(cells)}</tr>"


def _rate_section(report: Report) -> str:
    how = (
        "Requests per minute, as sent"
        if report.rate_measured
        else "Requests per minute, estimated by spreading each chunk's API calls over its "
        "duration and drawn no higher than the configured limit (the run recorded no "
        "per-minute counts)"
    )
    title = "Request rate against the limit" + ("" if report.rate_measured else " (estimated)")
    return (
        f"<section><h2>{title}</h2><p class='meta'>{how}; Intuit allows "
        f"{report.limit_per_minute} per minute per company, this tool was configured for "
        f"{report.configured_per_minute}.</p>"
        f"{_rate_chart(report.rate, report.limit_per_minute, report.configured_per_minute)}"
        "</section>"
    )


# ---- charts --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Frame:
    """Scales from data to the SVG's plot area."""

    count: int
    top: float

    @property
    def plot_width(self) -> float:
        return WIDTH - PAD_LEFT - PAD_RIGHT

    @property
    def plot_height(self) -> float:
        return HEIGHT - PAD_TOP - PAD_BOTTOM

    def x(self, index: float) -> float:
        return PAD_LEFT + self.plot_width * index / max(self.count, 1)

    def y(self, value: float) -> float:
        return PAD_TOP + self.plot_height * (1 - value / self.top if self.top else 1)


def _svg(
    name: str,
    label: str,
    frame: _Frame,
    marks: list[str],
    x_labels: Sequence[str],
    decorations: Sequence[str] = (),
) -> str:
    """A chart: axes, ticks, `decorations` (legend, limit lines) and data `marks`."""
    axes = [
        f"<line class='axis' x1='{PAD_LEFT}' y1='{frame.y(0):.1f}' x2='{WIDTH - PAD_RIGHT}' "
        f"y2='{frame.y(0):.1f}'/>"
    ]
    for fraction in (0.0, 0.5, 1.0):
        value = frame.top * fraction
        y = frame.y(value)
        axes.append(
            f"<line class='grid' x1='{PAD_LEFT}' y1='{y:.1f}' x2='{WIDTH - PAD_RIGHT}' "
            f"y2='{y:.1f}'/><text class='tick' x='{PAD_LEFT - 6}' y='{y + 4:.1f}' "
            f"text-anchor='end'>{_short_number(value)}</text>"
        )
    positions = [(0, "start"), (len(x_labels) // 2, "middle"), (len(x_labels) - 1, "end")]
    if len(x_labels) == 1:
        positions = [(0, "middle")]
    seen = set()
    for index, anchor in positions:
        if 0 <= index < len(x_labels) and index not in seen:
            seen.add(index)
            x = (
                frame.x(index + 0.5)
                if anchor == "middle"
                else frame.x(index if anchor == "start" else index + 1)
            )
            axes.append(
                f"<text class='tick' x='{x:.1f}' y='{HEIGHT - PAD_BOTTOM + 18}' "
                f"text-anchor='{anchor}'>{escape(x_labels[index])}</text>"
            )
    return (
        f"<figure><figcaption>{escape(label)}</figcaption>"
        f"<svg class='chart' data-chart='{name}' data-points='{len(marks)}' role='img' "
        f"aria-label='{escape(label)}' viewBox='0 0 {WIDTH} {HEIGHT}' "
        f"xmlns='http://www.w3.org/2000/svg'>{''.join(axes)}{''.join(decorations)}"
        f"{''.join(marks)}</svg></figure>"
    )


def _window_labels(run: RunReport) -> list[str]:
    return [
        "all" if c["window_start"].year == 1900 else c["window_start"].isoformat()
        for c in run.chunks
    ]


def _rows_chart(run: RunReport) -> str:
    values = [int(c["rows_extracted"] or 0) for c in run.chunks]
    frame = _Frame(len(values), _nice_top(max(values, default=0)))
    width, left = _group(frame)
    marks = [
        _bar(
            frame,
            i,
            v,
            width,
            left,
            COLORS["rows"],
            f"{_window_label(c)}: {plural(v, 'row')} extracted in {plural(c['pages'], 'page')}",
        )
        for i, (c, v) in enumerate(zip(run.chunks, values, strict=True))
    ]
    return _svg("rows-per-window", "Rows extracted per window", frame, marks, _window_labels(run))


def _source_chart(run: RunReport) -> str:
    pairs = [
        (int(c["source_count_after"] or 0), int(c["rows_in_table"] or 0), c) for c in run.chunks
    ]
    frame = _Frame(len(pairs), _nice_top(max((max(s, t) for s, t, _ in pairs), default=0)))
    width, left = _group(frame)
    marks = []
    for i, (source, loaded, chunk) in enumerate(pairs):
        bad = chunk.get("matched") is False or source != loaded
        label = f"{_window_label(chunk)}: source {source}, in table {loaded}"
        marks.append(_bar(frame, i, source, width / 2, left, COLORS["source"], label))
        color = COLORS["bad"] if bad else COLORS["loaded"]
        marks.append(_bar(frame, i, loaded, width / 2, left + width / 2, color, label))
    legend = (
        f"<g class='legend'><rect x='{PAD_LEFT}' y='2' width='10' height='10' "
        f"fill='{COLORS['source']}'/><text x='{PAD_LEFT + 14}' y='11'>source COUNT(*)</text>"
        f"<rect x='{PAD_LEFT + 130}' y='2' width='10' height='10' fill='{COLORS['loaded']}'/>"
        f"<text x='{PAD_LEFT + 144}' y='11'>rows in table</text>"
        f"<rect x='{PAD_LEFT + 250}' y='2' width='10' height='10' fill='{COLORS['bad']}'/>"
        f"<text x='{PAD_LEFT + 264}' y='11'>mismatch</text></g>"
    )
    return _svg(
        "source-vs-loaded",
        "Source count vs rows loaded, per window",
        frame,
        marks,
        _window_labels(run),
        [legend],
    )


def _rate_chart(points: list[RatePoint], limit: int, configured: int) -> str:
    top = _nice_top(max([p.per_minute for p in points] + [limit, configured]) * 1.1)
    frame = _Frame(max(len(points) - 1, 1), top)
    marks, lines = [], []
    if points:
        coords = " ".join(
            f"{frame.x(i):.1f},{frame.y(p.per_minute):.1f}" for i, p in enumerate(points)
        )
        marks.append(f"<polyline class='mark rate' points='{coords}'/>")
        marks += [
            f"<circle class='mark dot' cx='{frame.x(i):.1f}' "
            f"cy='{frame.y(p.per_minute):.1f}' r='2'>"
            f"<title>{_ts(p.at)}: {p.per_minute:.0f} requests/min</title></circle>"
            for i, p in enumerate(points)
        ]
    # The two limits are often close (500 and 490): one label above its line, one below.
    for value, css, text, dy in (
        (limit, "limit", "Intuit limit", -4),
        (configured, "configured", "configured", 12),
    ):
        y = frame.y(value)
        lines.append(
            f"<line class='{css}' x1='{PAD_LEFT}' y1='{y:.1f}' x2='{WIDTH - PAD_RIGHT}' "
            f"y2='{y:.1f}'/>"
            f"<text class='tick' x='{WIDTH - PAD_RIGHT}' y='{y + dy:.1f}' text-anchor='end'>"
            f"{text} {value}/min</text>"
        )
    labels = [p.at.strftime("%H:%M:%S") for p in points] or [""]
    if len(labels) > 1:
        labels = labels[:-1]  # x() spans count - 1 intervals: label the interval starts
    return _svg("request-rate", "Requests per minute over time", frame, marks, labels, lines)


def _group(frame: _Frame) -> tuple[float, float]:
    """Width of one window's bars and their offset in its slot: 80% of the slot, but never
    wider than MAX_BAR, so a single window (a list entity) does not fill the chart."""
    slot = frame.plot_width / max(frame.count, 1)
    width = min(slot * 0.8, MAX_BAR)
    return width, (slot - width) / 2


def _bar(
    frame: _Frame, index: int, value: int, width: float, offset: float, color: str, title: str
) -> str:
    x = frame.x(index) + offset
    y = frame.y(value)
    height = frame.y(0) - y
    return (
        f"<rect class='mark' x='{x:.1f}' y='{y:.1f}' width='{max(width, 0.5):.1f}' "
        f"height='{max(height, 0):.1f}' fill='{color}'><title>{escape(title)}</title></rect>"
    )


def _window_label(chunk: dict[str, Any]) -> str:
    return _plain_range(chunk["window_start"], chunk["window_end"])


def _nice_top(value: float) -> float:
    """A round axis maximum at or above `value` (1, 2 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return float(step * magnitude)
    return float(10 * magnitude)


def _short_number(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if value >= 1000:
        return f"{value / 1000:g}k"
    return f"{value:g}"


def _range(start: date, end: date) -> str:
    return escape(_plain_range(start, end))


def _plain_range(start: date, end: date) -> str:
    return "all time" if start.year == 1900 else f"[{start}, {end})"


def _ts(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>qbo-backfill report</title>
<script>{head_script}</script>
<style>{css}</style></head>
<body>
<ul id="script-errors" hidden></ul>
{body}
<script>{script}</script>
</body></html>
"""

# Runs first: every later script error, and any resource that fails to load, is written
# into #script-errors (the page must never need one).
_HEAD_SCRIPT = """
window.reportErrors = [];
function recordReportError(text) {
  window.reportErrors.push(text);
  var add = function () {
    var list = document.getElementById('script-errors');
    var item = document.createElement('li');
    item.textContent = text;
    list.appendChild(item);
    list.hidden = false;
    document.body.setAttribute('data-script-errors', String(window.reportErrors.length));
  };
  if (document.body) { add(); } else { document.addEventListener('DOMContentLoaded', add); }
}
window.addEventListener('error', function (event) {
  if (event.target && event.target !== window) {
    var target = event.target;
    recordReportError('resource failed: ' + (target.src || target.href || target.tagName));
  } else {
    recordReportError(String(event.message) + ' at ' + event.filename + ':' + event.lineno);
  }
}, true);
window.addEventListener('unhandledrejection', function (event) {
  recordReportError('unhandled rejection: ' + String(event.reason));
});
"""

_SCRIPT = """
(function () {
  function cellValue(row, index) {
    var text = row.cells[index].textContent.trim();
    var number = Number(text.replace(/,/g, ''));
    return text !== '' && !isNaN(number) ? number : text;
  }
  document.querySelectorAll('table.sortable').forEach(function (table) {
    table.querySelectorAll('thead th').forEach(function (header, index) {
      header.title = 'sort';
      header.addEventListener('click', function () {
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        var descending = header.getAttribute('data-sorted') === 'asc';
        rows.sort(function (a, b) {
          var x = cellValue(a, index), y = cellValue(b, index);
          var order = x < y ? -1 : x > y ? 1 : 0;
          return descending ? -order : order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
        table.querySelectorAll('thead th').forEach(function (h) {
          h.removeAttribute('data-sorted');
        });
        header.setAttribute('data-sorted', descending ? 'desc' : 'asc');
      });
    });
  });
  var charts = document.querySelectorAll('svg.chart');
  var marks = document.querySelectorAll('svg.chart .mark');
  document.body.setAttribute('data-charts', String(charts.length));
  document.body.setAttribute('data-marks', String(marks.length));
  document.body.setAttribute('data-ready', 'yes');
})();
"""

_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 24px auto;
       max-width: 1200px; padding: 0 16px; color: #1d2733; background: #fbfcfd; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
.meta { color: #5a6776; margin: 0 0 8px; }
.verdict { font-weight: 600; padding: 8px 12px; border-radius: 6px; display: inline-block; }
.verdict.ok { background: #e3f4e8; color: #1e6b3a; }
.verdict.bad { background: #fbe4e1; color: #8e2418; }
#script-errors { background: #fbe4e1; color: #8e2418; padding: 8px 24px; }
section.run { border-top: 1px solid #d8dee6; margin-top: 24px; }
.cards { display: flex; flex-wrap: wrap; gap: 8px; margin: 8px 0 12px; }
.card { background: #fff; border: 1px solid #d8dee6; border-radius: 6px; padding: 6px 10px;
        min-width: 96px; }
.card.bad { border-color: #c0392b; }
.card .label { color: #5a6776; font-size: 12px; }
.card .value { font-size: 16px; font-weight: 600; }
table { border-collapse: collapse; margin: 8px 0; background: #fff; }
th, td { border: 1px solid #d8dee6; padding: 3px 8px; text-align: right; white-space: nowrap; }
th:first-child, td:first-child, table.checks th, table.checks td { text-align: left; }
.scroll { overflow-x: auto; }
table.checks td:last-child { white-space: normal; }
table.sortable thead th { cursor: pointer; background: #eef2f6; }
tr.bad td, td.bad { background: #fbe4e1; }
.badge { padding: 1px 8px; border-radius: 10px; font-weight: 600; font-size: 12px; }
.badge.pass { background: #e3f4e8; color: #1e6b3a; }
.badge.warn { background: #fff3cd; color: #7a5b00; }
.badge.fail { background: #fbe4e1; color: #8e2418; }
.badge.none { background: #eef2f6; color: #5a6776; }
.charts { display: grid; grid-template-columns: 1fr; gap: 4px; }
figure { margin: 8px 0; } figcaption { font-weight: 600; margin-bottom: 2px; }
svg.chart { width: 100%; height: auto; background: #fff; border: 1px solid #d8dee6;
            border-radius: 6px; }
svg .axis { stroke: #5a6776; } svg .grid { stroke: #e6eaef; }
svg .tick, svg .legend text { font-size: 11px; fill: #5a6776; }
svg .rate { fill: none; stroke: #3b6ea8; stroke-width: 2; } svg .dot { fill: #3b6ea8; }
svg .limit { stroke: #c0392b; stroke-dasharray: 6 4; }
svg .configured { stroke: #e08e0b; stroke-dasharray: 2 3; }
details summary { cursor: pointer; color: #3b6ea8; margin-top: 8px; }
"""
