"""The dashboards' figures and charts, written in Python (vipcases/templatetags/
dashboard_tags.py), against the templates they replace: the same markup, up to the
white space between elements, for the charts of a real dashboard and for awkward values."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.template import Context, Template

from tests.vipcases.dashboard_data import make_case, now_fixed
from vipcases import charts, dashboards, fairness
from vipcases.codes import Outcome, Queue, Status
from vipcases.dashboard_views import backlog_charts, conversion_chart
from vipcases.dashboards import Figure
from vipcases.templatetags.dashboard_tags import bar_chart, figure, line_chart

pytestmark = pytest.mark.django_db

BETWEEN_TAGS = re.compile(r">\s+<")

# The templates the tags replace (templates/dashboard/_figure.html, _bar_chart.html and
# _line_chart.html as they were at commit 258c1fe).
FIGURE = '{% load vipcases_tags %}<a class="govuk-link" href="{{ figure.href }}">{{ figure.value|thousands }}{% if label %}<span class="govuk-visually-hidden"> {{ label }}</span>{% endif %}</a>{% if not figure.exact %}<span class="app-nearest" aria-hidden="true">*</span>{% endif %}\n'
BAR_CHART = """\
<figure class="app-chart">
  <svg class="app-chart__svg" viewBox="0 0 {{ chart.width }} {{ chart.height|floatformat:0 }}" role="img" aria-labelledby="{{ id }}-title {{ id }}-desc" focusable="false">
    <title id="{{ id }}-title">{{ chart.title }}</title>
    <desc id="{{ id }}-desc">{{ chart.description }}</desc>
    {% for tick in chart.ticks %}
    <line class="app-chart__grid" x1="{{ tick.x|floatformat:1 }}" x2="{{ tick.x|floatformat:1 }}" y1="0" y2="{{ chart.axis_y|floatformat:1 }}"></line>
    <text class="app-chart__tick" x="{{ tick.x|floatformat:1 }}" y="{{ chart.axis_y|add:16|floatformat:1 }}" text-anchor="middle">{{ tick.label }}</text>
    {% endfor %}
    {% for rect in chart.rects %}
    {% if rect.href %}<a href="{{ rect.href }}" aria-hidden="true" tabindex="-1">{% endif %}<rect class="app-chart__bar app-chart__bar--{{ rect.series }}" x="{{ rect.x|floatformat:1 }}" y="{{ rect.y|floatformat:1 }}" width="{{ rect.width|floatformat:1 }}" height="{{ rect.height|floatformat:1 }}"><title>{{ rect.text }}</title></rect>{% if rect.href %}</a>{% endif %}
    {% endfor %}
    {% for label in chart.labels %}
    {% if label.text %}<text class="app-chart__label" x="{{ chart.plot_left|add:-6 }}" y="{{ label.y|floatformat:1 }}" text-anchor="end" dominant-baseline="middle">{{ label.text|truncatechars:28 }}</text>{% endif %}
    <text class="app-chart__value" x="{{ label.value_x|floatformat:1 }}" y="{{ label.y|floatformat:1 }}" dominant-baseline="middle">{{ label.value_text }}</text>
    {% endfor %}
  </svg>
  {% if chart.legend %}
  <figcaption class="app-chart__legend" aria-hidden="true">
    {% for item in chart.legend %}<span class="app-chart__key"><svg class="app-chart__swatch" viewBox="0 0 10 10" focusable="false"><rect class="app-chart__bar--{{ item.series }}" width="10" height="10"></rect></svg>{{ item.label }}</span>{% endfor %}
  </figcaption>
  {% endif %}
</figure>
"""
LINE_CHART = """\
<figure class="app-chart">
  <svg class="app-chart__svg" viewBox="0 0 {{ chart.width }} {{ chart.height|floatformat:0 }}" role="img" aria-labelledby="{{ id }}-title {{ id }}-desc" focusable="false">
    <title id="{{ id }}-title">{{ chart.title }}</title>
    <desc id="{{ id }}-desc">{{ chart.description }}</desc>
    {% for y, label in chart.y_ticks %}
    <line class="app-chart__grid" x1="{{ chart.plot_left }}" x2="{{ chart.width|add:-16 }}" y1="{{ y|floatformat:1 }}" y2="{{ y|floatformat:1 }}"></line>
    <text class="app-chart__tick" x="{{ chart.plot_left|add:-6 }}" y="{{ y|floatformat:1 }}" text-anchor="end" dominant-baseline="middle">{{ label }}</text>
    {% endfor %}
    {% for tick in chart.x_ticks %}
    <text class="app-chart__tick" x="{{ tick.x|floatformat:1 }}" y="{{ chart.plot_bottom|add:18 }}" text-anchor="middle">{{ tick.label }}</text>
    {% endfor %}
    {% for line in chart.lines %}
    <polyline class="app-chart__line app-chart__line--{{ line.series }}" points="{{ line.path }}"></polyline>
    {% for point in line.points %}<circle class="app-chart__point app-chart__point--{{ line.series }}" cx="{{ point.x|floatformat:1 }}" cy="{{ point.y|floatformat:1 }}" r="3"><title>{{ point.text }}</title></circle>{% endfor %}
    {% endfor %}
  </svg>
  <figcaption class="app-chart__legend" aria-hidden="true">
    {% for line in chart.lines %}<span class="app-chart__key"><svg class="app-chart__swatch" viewBox="0 0 10 10" focusable="false"><rect class="app-chart__bar--{{ line.series }}" width="10" height="10"></rect></svg>{{ line.label }}</span>{% endfor %}
  </figcaption>
</figure>
"""


def _template(source: str, **context) -> str:
    return Template(source).render(Context(context))


def _same(ours: str, theirs: str) -> None:
    assert BETWEEN_TAGS.sub("><", ours.strip()) == BETWEEN_TAGS.sub("><", theirs.strip())


LABELS = ["", "VIP", "A label longer than twenty-eight characters", "<&>"]
AWKWARD = [0, 0.05, 0.15, 0.25, 0.35, 2.45, -0.04, -0.05, 12.349999, 1e-7, 470.5, 999.95, 7]


def _awkward_bar() -> charts.BarChart:
    return charts.BarChart(
        title='Ticks & "quotes" <b>',
        description="Cases' bars",
        height=123.45,
        rects=[
            charts.Rect(x, x + 0.05, x * 2, 0.25, "new", f"{x} <cases>", "/?a=1&b=2" * (i % 2))
            for i, x in enumerate(AWKWARD)
        ],
        labels=[
            charts.RowLabel(x, text, x + 1, f"{x}%")
            for x, text in zip(AWKWARD, LABELS * 4, strict=False)
        ],
        ticks=[charts.Tick(x, f"{x:,}") for x in AWKWARD],
        legend=[charts.LegendItem("vip", "V & I <P>")],
        width=470,
        plot_left=120.7,
        axis_y=80.5,
    )


def _awkward_line() -> charts.LineChart:
    # Decimals too: floatformat takes them, so the tags must.
    values = [*AWKWARD, Decimal("2.45"), Decimal("-0.05"), Decimal("7")]
    points = [charts.Point(x, x / 3, f"day {i} & <n>") for i, x in enumerate(values)]
    return charts.LineChart(
        title="Flow <&>",
        description='"Received" against cleared',
        lines=[charts.Line("received", "Received", points), charts.Line("cleared", "C&C", [])],
        x_ticks=[charts.Tick(x, "1 Dec") for x in values],
        y_ticks=[(x, f"{x}") for x in values],
        height=228.0,
        plot_left=48,
        plot_bottom=200.5,
        width=960,
    )


@pytest.mark.parametrize("value", [0, 7, 1234567, None])
@pytest.mark.parametrize("label", ["", "open cases", "<past & due>"])
@pytest.mark.parametrize("exact", [True, False])
def test_a_figure_is_written_as_the_include_wrote_it(value, label, exact):
    fig = Figure(value, "/cases/?queue=vip&status=new", exact=exact)
    theirs = _template(FIGURE, figure=fig, label=label)
    assert figure(fig, label) == theirs.rstrip("\n")  # the file's last line break


def test_awkward_charts_are_written_as_the_templates_wrote_them():
    bar, line = _awkward_bar(), _awkward_line()
    _same(bar_chart(bar, "c-1"), _template(BAR_CHART, chart=bar, id="c-1"))
    bar.legend = []
    _same(bar_chart(bar, "c-1"), _template(BAR_CHART, chart=bar, id="c-1"))
    _same(line_chart(line, "c-2"), _template(LINE_CHART, chart=line, id="c-2"))


def test_a_dashboards_charts_are_written_as_the_templates_wrote_them(manager):
    now = now_fixed()
    for days in range(1, 12):
        make_case(
            now=now,
            queue=Queue.VIP,
            status=Status.IN_PROGRESS,
            owner=manager,
            opened=timedelta(days=days * 3),
            sla_due=timedelta(days=1 - days),
        )
        make_case(
            now=now,
            opened=timedelta(days=days + 2),
            closed=timedelta(days=days),
            outcome=Outcome.REJECTED,
            routed_to=Queue.RAPID_RESPONSE,
        )
    drawn = backlog_charts(dashboards.backlog(now=now, owners=[manager]))
    assert set(drawn) == {"queue_status", "ageing", "flow", "sla", "owners", "decisions"}
    for name, chart in drawn.items():
        if isinstance(chart, charts.LineChart):
            _same(line_chart(chart, name), _template(LINE_CHART, chart=chart, id=name))
        else:
            _same(bar_chart(chart, name), _template(BAR_CHART, chart=chart, id=name))
    conversion = conversion_chart(fairness.report(now=now))
    _same(bar_chart(conversion, "c"), _template(BAR_CHART, chart=conversion, id="c"))
