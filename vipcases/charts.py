"""Geometry for the dashboards' server-drawn SVG charts: plain Python, no queries.

The templates in templates/dashboard/ draw what these functions return. Every chart
also has a table beside it with the same numbers (the accessible version, and the one
whose numbers link to the case list), so a chart carries a title and a one-sentence
description for screen readers and nothing a table does not.

Colours are CSS classes (static/css/dashboard.css), never inline styles or scripts, so a
strict Content Security Policy can forbid both.
"""

import math
from dataclasses import dataclass, field

WIDTH = 640  # user units of the viewBox; the SVG scales to its column
LABEL_WIDTH = 150  # room for the row labels of a horizontal bar chart
BAR_HEIGHT = 22
BAR_GAP = 10
GROUPED_BAR_HEIGHT = 14
AXIS_HEIGHT = 28
TOP = 8
RIGHT = 56  # room for the value printed after the longest bar


@dataclass(frozen=True)
class Segment:
    """One part of a bar: a value, the series it belongs to (its colour) and where it links."""

    value: float
    series: str  # a CSS modifier, e.g. "new" gives class app-chart__bar--new
    text: str = ""  # what a pointer's tooltip says, e.g. "VIP, new: 12 cases"
    href: str = ""


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    series: str
    text: str
    href: str


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class RowLabel:
    y: float
    text: str
    value_x: float
    value_text: str


@dataclass(frozen=True)
class LegendItem:
    series: str
    label: str


@dataclass
class BarChart:
    title: str
    description: str
    height: float
    rects: list[Rect] = field(default_factory=list)
    labels: list[RowLabel] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)
    legend: list[LegendItem] = field(default_factory=list)
    width: float = WIDTH
    plot_left: float = LABEL_WIDTH
    axis_y: float = 0


def nice_step(value: float, parts: int = 4) -> float:
    """A round step (1, 2, 2.5 or 5 × a power of ten) so that `parts` steps reach `value`."""
    if value <= 0:
        return 1
    raw = value / parts
    power = 10 ** math.floor(math.log10(raw))
    for step in (1, 2, 2.5, 5, 10):
        if raw <= step * power:
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns


def nice_scale(value: float, parts: int = 4) -> tuple[float, list[float]]:
    """The axis maximum (a whole number of round steps, at least `value`) and its ticks."""
    step = nice_step(value, parts)
    if step < 1 and value >= 1:
        step = 1
    count = max(1, math.ceil(value / step - 1e-9))
    return step * count, [step * i for i in range(count + 1)]


def _ticks(ticks: list[float], left: float, scale: float, fmt) -> list[Tick]:
    return [Tick(left + tick * scale, fmt(tick)) for tick in ticks]


def _count(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def bar_chart(
    *,
    title: str,
    description: str,
    rows: list[tuple[str, list[Segment]]],
    legend: list[LegendItem] = (),
    grouped: bool = False,
    fmt=_count,
    maximum: float | None = None,
    width: float = WIDTH,
    label_width: float = LABEL_WIDTH,
) -> BarChart:
    """Horizontal bars, one row per (label, segments). Segments are stacked end to end,
    or with `grouped` drawn as thinner bars one under another inside the row. The value
    printed after a row is its total (stacked) or each bar's value (grouped)."""
    if grouped:
        longest = max((s.value for _, segments in rows for s in segments), default=0)
        row_height = max(1, max((len(s) for _, s in rows), default=1)) * GROUPED_BAR_HEIGHT
    else:
        longest = max((sum(s.value for s in segments) for _, segments in rows), default=0)
        row_height = BAR_HEIGHT
    top, ticks = nice_scale(maximum if maximum is not None else longest)
    scale = (width - label_width - RIGHT) / top
    chart = BarChart(
        title=title,
        description=description,
        height=0,
        legend=list(legend),
        width=width,
        plot_left=label_width,
    )
    y = TOP
    for label, segments in rows:
        if grouped:
            for i, segment in enumerate(segments):
                length = segment.value * scale
                bar_y = y + i * GROUPED_BAR_HEIGHT
                chart.rects.append(
                    Rect(
                        label_width,
                        bar_y + 1,
                        length,
                        GROUPED_BAR_HEIGHT - 2,
                        segment.series,
                        segment.text,
                        segment.href,
                    )
                )
                chart.labels.append(
                    RowLabel(
                        bar_y + GROUPED_BAR_HEIGHT / 2,
                        "",
                        label_width + length + 4,
                        fmt(segment.value),
                    )
                )
            chart.labels.append(RowLabel(y + row_height / 2, label, 0, ""))
        else:
            x = label_width
            for segment in segments:
                length = segment.value * scale
                if length > 0:
                    chart.rects.append(
                        Rect(x, y, length, row_height, segment.series, segment.text, segment.href)
                    )
                x += length
            total = sum(s.value for s in segments)
            chart.labels.append(RowLabel(y + row_height / 2, label, x + 4, fmt(total)))
        y += row_height + BAR_GAP
    chart.axis_y = y
    chart.ticks = _ticks(ticks, label_width, scale, fmt)
    chart.height = y + AXIS_HEIGHT
    return chart


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    text: str


@dataclass
class Line:
    series: str
    label: str
    points: list[Point]

    @property
    def path(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


@dataclass
class LineChart:
    title: str
    description: str
    lines: list[Line]
    x_ticks: list[Tick]
    y_ticks: list[tuple[float, str]]
    height: float
    plot_left: float
    plot_bottom: float
    width: float = WIDTH


LINE_PLOT_LEFT = 48
LINE_PLOT_HEIGHT = 200
LINE_PLOT_RIGHT = 28  # room for the last date under the axis


def line_chart(
    *,
    title: str,
    description: str,
    x_labels: list[str],
    series: list[tuple[str, str, list[float]]],
    every: int = 7,
    width: float = WIDTH,
) -> LineChart:
    """One line per (series, label, values); values share the x positions of `x_labels`,
    of which every `every`-th is printed under the axis (counting back from the last)."""
    count = max(1, len(x_labels))
    top, ticks = nice_scale(max((v for _, _, values in series for v in values), default=0))
    plot_width = width - LINE_PLOT_LEFT - LINE_PLOT_RIGHT
    step = plot_width / max(1, count - 1)
    bottom = TOP + LINE_PLOT_HEIGHT

    def point(i: int, value: float, label: str) -> Point:
        return Point(
            LINE_PLOT_LEFT + i * step,
            bottom - value / top * LINE_PLOT_HEIGHT,
            f"{x_labels[i]}: {_count(value)} {label.lower()}",
        )

    lines = [
        Line(series=name, label=label, points=[point(i, v, label) for i, v in enumerate(values)])
        for name, label, values in series
    ]
    x_ticks = [
        Tick(LINE_PLOT_LEFT + i * step, x_labels[i])
        for i in range(count)
        if (count - 1 - i) % every == 0
    ]
    y_ticks = [(bottom - LINE_PLOT_HEIGHT * tick / top, _count(tick)) for tick in ticks]
    return LineChart(
        title=title,
        description=description,
        lines=lines,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        height=bottom + AXIS_HEIGHT,
        plot_left=LINE_PLOT_LEFT,
        plot_bottom=bottom,
        width=width,
    )
