"""The report's charts as inline SVG, drawn here: rows per window, source against loaded,
and the request rate against the limits. No library and nothing fetched, so the page
opens from an archive on a machine without network."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from qbo_backfill.report.model import RatePoint, RunReport
from qbo_backfill.report.money import MoneyCheck
from qbo_backfill.report.wording import plural

__all__ = ["money_chart", "rate_chart", "rows_chart", "source_chart"]

WIDTH, HEIGHT = 900, 240
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 64, 16, 16, 40
MAX_BAR = 80.0
COLORS = {"rows": "#3b6ea8", "source": "#8a9bb0", "loaded": "#2e8b57", "bad": "#c0392b"}


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
    return ["all" if c.window.is_whole else c.window.start.isoformat() for c in run.chunks]


def rows_chart(run: RunReport) -> str:
    values = [c.figures.rows_extracted for c in run.chunks]
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
            f"{c.window}: {plural(v, 'row')} extracted in {plural(c.figures.pages, 'page')}",
        )
        for i, (c, v) in enumerate(zip(run.chunks, values, strict=True))
    ]
    return _svg("rows-per-window", "Rows extracted per window", frame, marks, _window_labels(run))


def source_chart(run: RunReport) -> str:
    pairs = [
        (c.figures.source_count_after or 0, c.figures.rows_in_table or 0, c) for c in run.chunks
    ]
    frame = _Frame(len(pairs), _nice_top(max((max(s, t) for s, t, _ in pairs), default=0)))
    width, left = _group(frame)
    marks = []
    for i, (source, loaded, chunk) in enumerate(pairs):
        bad = chunk.figures.matched is False or source != loaded
        label = f"{chunk.window}: source {source}, in table {loaded}"
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


def money_chart(check: MoneyCheck) -> str:
    """Transactions per month at the source against the copy (a month that disagrees in
    red); each bar's title carries both totals, as recorded (exact decimals)."""
    months = check.months
    frame = _Frame(
        len(months), _nice_top(max((max(m.source_count, m.copy_count) for m in months), default=0))
    )
    width, left = _group(frame)
    marks = []
    for i, m in enumerate(months):
        label = (
            f"{m.month:%Y-%m}: source {m.source_count} ({m.source_total}), "
            f"copy {m.copy_count} ({m.copy_total}), residue {m.residue}"
        )
        marks.append(_bar(frame, i, m.source_count, width / 2, left, COLORS["source"], label))
        color = COLORS["loaded"] if m.agreed else COLORS["bad"]
        marks.append(_bar(frame, i, m.copy_count, width / 2, left + width / 2, color, label))
    legend = (
        f"<g class='legend'><rect x='{PAD_LEFT}' y='2' width='10' height='10' "
        f"fill='{COLORS['source']}'/><text x='{PAD_LEFT + 14}' y='11'>Intuit's report</text>"
        f"<rect x='{PAD_LEFT + 130}' y='2' width='10' height='10' fill='{COLORS['loaded']}'/>"
        f"<text x='{PAD_LEFT + 144}' y='11'>the copy</text>"
        f"<rect x='{PAD_LEFT + 250}' y='2' width='10' height='10' fill='{COLORS['bad']}'/>"
        f"<text x='{PAD_LEFT + 264}' y='11'>differs</text></g>"
    )
    labels = [f"{m.month:%Y-%m}" for m in months] or [""]
    return _svg(
        f"money-{check.realm_id}-{check.accounting_method.lower()}",
        "Transactions per month, Intuit's report vs the copy",
        frame,
        marks,
        labels,
        [legend],
    )


def rate_chart(points: list[RatePoint], limit: int, configured: int) -> str:
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
            f"<title>{p.at:%Y-%m-%d %H:%M:%S} UTC: {p.per_minute:.0f} requests/min</title></circle>"
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
