"""Presentation filters for the dashboards: formatting only.

Load with `{% load dashboard_tags %}`.
"""

from decimal import ROUND_HALF_UP, Decimal

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator

from vipcases.templatetags.vipcases_tags import thousands

register = template.Library()


@register.filter
def percent(value) -> str:
    """0.1234 -> "12%"; under 1% one decimal ("0.4%"); a dash for None."""
    if value is None or value == "":
        return "–"
    value = float(value)
    if 0 < value < 0.01:
        return f"{value:.1%}"
    return f"{value:.0%}"


@register.filter
def days(value) -> str:
    """A number of days with one decimal ("3.4"); a dash for None."""
    if value is None or value == "":
        return "–"
    return f"{float(value):.1f}"


@register.filter
def p_value(value) -> str:
    """A p-value as people read it: "p < 0.001", "p = 0.032"; a dash for None."""
    if value is None or value == "":
        return "–"
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}"


@register.filter
def signed(value) -> str:
    """An integer with its sign: "+12", "−3" (a true minus sign), "0"."""
    value = int(value)
    if value > 0:
        return f"+{value:,}"
    if value < 0:
        return f"−{-value:,}"
    return "0"


@register.filter
def is_caseworker(user) -> bool:
    """True for caseworkers and managers (vipcases.access), e.g. to offer the disclosure pack."""
    from vipcases import access

    return access.is_caseworker(user)


# --- figures and charts, written in Python ---------------------------------------------------
# A dashboard shows about 150 linked figures and five SVG charts of several hundred
# elements: as template includes they were half of the page's CPU time. These tags write
# the same markup (tests/vipcases/test_dashboard_markup.py holds them to the templates
# they replace).

_TENTH = Decimal("0.1")


def _f1(value) -> str:
    """What `|floatformat:1` writes: one decimal place, halves rounded up, no "-0.0"."""
    text = f"{Decimal(str(value)).quantize(_TENTH, ROUND_HALF_UP):f}"
    return "0.0" if text == "-0.0" else text


def _f0(value) -> str:
    """What `|floatformat:0` writes."""
    return f"{Decimal(str(value)).quantize(Decimal(1), ROUND_HALF_UP):f}".replace("-0", "0", 1)


@register.simple_tag
def figure(value, label: str = "") -> SafeString:
    """A figure linked to the case list that shows those cases; a "*" (explained on the
    page) when the link goes to the nearest filter instead."""
    hidden = f'<span class="govuk-visually-hidden"> {escape(label)}</span>' if label else ""
    nearest = "" if value.exact else '<span class="app-nearest" aria-hidden="true">*</span>'
    return mark_safe(  # noqa: S308 - every value is escaped above or here
        f'<a class="govuk-link" href="{escape(value.href)}">{escape(thousands(value.value))}'
        f"{hidden}</a>{nearest}"
    )


def _svg_open(chart, chart_id: str) -> str:
    return (
        f'<svg class="app-chart__svg" viewBox="0 0 {escape(chart.width)} {_f0(chart.height)}" '
        f'role="img" aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" '
        f'focusable="false">\n'
        f'<title id="{escape(chart_id)}-title">{escape(chart.title)}</title>\n'
        f'<desc id="{escape(chart_id)}-desc">{escape(chart.description)}</desc>\n'
    )


def _legend(items) -> str:
    return "".join(
        '<span class="app-chart__key"><svg class="app-chart__swatch" viewBox="0 0 10 10" '
        f'focusable="false"><rect class="app-chart__bar--{escape(item.series)}" width="10" '
        f'height="10"></rect></svg>{escape(item.label)}</span>'
        for item in items
    )


@register.simple_tag
def bar_chart(chart, chart_id: str) -> SafeString:
    """A horizontal bar chart drawn on the server (vipcases/charts.py). The table beside
    it holds the same numbers; the picture has a title and a description for screen
    readers."""
    out = ['<figure class="app-chart">\n', _svg_open(chart, chart_id)]
    bottom = _f1(chart.axis_y)
    below = _f1(int(chart.axis_y) + 16)
    for tick in chart.ticks:
        x = _f1(tick.x)
        out.append(
            f'<line class="app-chart__grid" x1="{x}" x2="{x}" y1="0" y2="{bottom}"></line>\n'
            f'<text class="app-chart__tick" x="{x}" y="{below}" text-anchor="middle">'
            f"{escape(tick.label)}</text>\n"
        )
    for rect in chart.rects:
        bar = (
            f'<rect class="app-chart__bar app-chart__bar--{escape(rect.series)}" '
            f'x="{_f1(rect.x)}" y="{_f1(rect.y)}" width="{_f1(rect.width)}" '
            f'height="{_f1(rect.height)}"><title>{escape(rect.text)}</title></rect>'
        )
        if rect.href:
            bar = f'<a href="{escape(rect.href)}" aria-hidden="true" tabindex="-1">{bar}</a>'
        out.append(bar + "\n")
    label_x = int(chart.plot_left) - 6
    for label in chart.labels:
        y = _f1(label.y)
        if label.text:
            out.append(
                f'<text class="app-chart__label" x="{label_x}" y="{y}" text-anchor="end" '
                f'dominant-baseline="middle">{escape(Truncator(label.text).chars(28))}</text>\n'
            )
        out.append(
            f'<text class="app-chart__value" x="{_f1(label.value_x)}" y="{y}" '
            f'dominant-baseline="middle">{escape(label.value_text)}</text>\n'
        )
    out.append("</svg>\n")
    if chart.legend:
        out.append(
            '<figcaption class="app-chart__legend" aria-hidden="true">'
            f"{_legend(chart.legend)}</figcaption>\n"
        )
    out.append("</figure>")
    return mark_safe("".join(out))  # noqa: S308 - every value is escaped above


@register.simple_tag
def line_chart(chart, chart_id: str) -> SafeString:
    """A line chart drawn on the server (vipcases/charts.py); the table beside it holds
    the numbers."""
    out = ['<figure class="app-chart">\n', _svg_open(chart, chart_id)]
    right = int(chart.width) - 16
    tick_x = int(chart.plot_left) - 6
    for y, label in chart.y_ticks:
        y = _f1(y)
        out.append(
            f'<line class="app-chart__grid" x1="{escape(chart.plot_left)}" x2="{right}" '
            f'y1="{y}" y2="{y}"></line>\n'
            f'<text class="app-chart__tick" x="{tick_x}" y="{y}" text-anchor="end" '
            f'dominant-baseline="middle">{escape(label)}</text>\n'
        )
    under = int(chart.plot_bottom) + 18
    for tick in chart.x_ticks:
        out.append(
            f'<text class="app-chart__tick" x="{_f1(tick.x)}" y="{under}" '
            f'text-anchor="middle">{escape(tick.label)}</text>\n'
        )
    for line in chart.lines:
        series = escape(line.series)
        out.append(
            f'<polyline class="app-chart__line app-chart__line--{series}" '
            f'points="{escape(line.path)}"></polyline>\n'
        )
        out.extend(
            f'<circle class="app-chart__point app-chart__point--{series}" '
            f'cx="{_f1(point.x)}" cy="{_f1(point.y)}" r="3"><title>{escape(point.text)}'
            "</title></circle>"
            for point in line.points
        )
        out.append("\n")
    out.append(
        '</svg>\n<figcaption class="app-chart__legend" aria-hidden="true">'
        f"{_legend(chart.lines)}</figcaption>\n</figure>"
    )
    return mark_safe("".join(out))  # noqa: S308 - every value is escaped above
