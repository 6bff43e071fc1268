"""The managers' pages: the backlog dashboard and the fairness report.

Thin views: the figures come from vipcases/dashboards.py and vipcases/fairness.py
(aggregate queries only); here they are arranged into charts (vipcases/charts.py) and
handed to the templates.

Three parts of these pages read every case ever received (the fairness report), every
case decided in the last 30 days (the dashboard's median time to decision per queue) or
every case received or closed in the days of the window before today (the dashboard's
received against cleared): at a million cases they take from a tenth of a second to
two seconds, so they are kept in the cache and worked out again in the background every
few minutes (vipcases/report_cache.py); the page says when they were worked out, and
"Work out again now" (`?refresh=1`) recalculates them. Every other figure on the
dashboard, today's intake and clearances included, is counted afresh on every request.
"""

from django.shortcuts import render
from django.utils import timezone

from vipcases import charts, dashboards, fairness
from vipcases.access import MANAGER, role_required
from vipcases.report_cache import (
    DECISION_TIMES,
    FAIRNESS,
    PAST_DAYS,
    REPORT_REFRESH_SECONDS,
    cached_figures,
)


def _refresh(request) -> bool:
    return request.GET.get("refresh") == "1"


@role_required(MANAGER)
def backlog(request):
    now = timezone.now()
    decisions_at, decisions = cached_figures(DECISION_TIMES, refresh=_refresh(request))
    past_days_at, past_days = cached_figures(PAST_DAYS, refresh=_refresh(request))
    figures = dashboards.backlog(now=now, decisions=decisions, past_days=past_days)
    return render(
        request,
        "dashboard/backlog.html",
        {
            "figures": figures,
            "decisions_at": decisions_at,
            "past_days_at": past_days_at,
            "refresh_minutes": REPORT_REFRESH_SECONDS // 60,
            "charts": backlog_charts(figures),
            "window_days": dashboards.WINDOW_DAYS,
        },
    )


@role_required(MANAGER)
def fairness_report(request):
    worked_out_at, report = cached_figures(FAIRNESS, refresh=_refresh(request))
    return render(
        request,
        "dashboard/fairness.html",
        {
            "report": report,
            "worked_out_at": worked_out_at,
            "refresh_minutes": REPORT_REFRESH_SECONDS // 60,
            "conversion_chart": conversion_chart(report),
            "significance": fairness.SIGNIFICANCE,
        },
    )


# --- charts ----------------------------------------------------------------------------------


# viewBox sizes in user units close to the columns' CSS pixels, so chart text reads at
# the size the stylesheet gives it.
HALF = {"width": 470, "label_width": 120}
FULL = {"width": 960, "label_width": 150}


def _days(value: float) -> str:
    return f"{value:.1f}"


def backlog_charts(figures: dashboards.Backlog) -> dict:
    table = figures.queue_status
    queue_status = charts.bar_chart(
        title="Open cases by queue and status",
        description=(f"{table.total.value:,} open cases; each bar is a queue, divided by status."),
        rows=[
            (
                row.label,
                [
                    charts.Segment(
                        cell.value,
                        status,
                        f"{row.label}, {label.lower()}: {cell.value:,}",
                        cell.href,
                    )
                    for (status, label), cell in zip(table.statuses, row.cells, strict=True)
                ],
            )
            for row in table.rows
        ],
        legend=[charts.LegendItem(status, label) for status, label in table.statuses],
        **FULL,
    )
    ageing = figures.ageing
    band_series = ["age-0", "age-1", "age-2", "age-3"]
    ageing_chart = charts.bar_chart(
        title="Open cases by age",
        description="Open cases in each queue, divided by age in days.",
        rows=[
            (
                row.label,
                [
                    charts.Segment(
                        f.value,
                        band_series[i],
                        f"{row.label}, {ageing.bands[i][1]}: {f.value:,}",
                        f.href,
                    )
                    for i, f in enumerate(row.bands)
                ],
            )
            for row in ageing.rows
        ],
        legend=[
            charts.LegendItem(band_series[i], label) for i, (_, label) in enumerate(ageing.bands)
        ],
        **HALF,
    )
    flow = figures.flow
    flow_chart = charts.line_chart(
        title=f"Cases received and cleared each day, last {len(flow.days)} days",
        description=(
            f"{flow.intake:,} received and {flow.cleared:,} cleared: the backlog is "
            f"{'shrinking' if flow.shrinking else 'not shrinking'}."
        ),
        x_labels=[f"{d.day:%d %b}" for d in flow.days],
        series=[
            ("intake", "Received", [d.intake.value for d in flow.days]),
            ("cleared", "Cleared", [d.cleared.value for d in flow.days]),
        ],
        width=HALF["width"],
    )
    sla_chart = charts.bar_chart(
        title="Open cases past their SLA, by queue",
        description=f"{figures.sla.breached.value:,} of {figures.sla.open.value:,} open cases are past their SLA.",
        rows=[
            (
                row.label,
                [
                    charts.Segment(
                        row.breached.value,
                        "breached",
                        f"{row.label}: {row.breached.value:,} past SLA",
                        row.breached.href,
                    ),
                    charts.Segment(
                        row.open.value - row.breached.value,
                        "within",
                        f"{row.label}: {row.open.value - row.breached.value:,} within SLA",
                        row.open.href,
                    ),
                ],
            )
            for row in figures.sla.rows
        ],
        legend=[
            charts.LegendItem("breached", "Past SLA"),
            charts.LegendItem("within", "Within SLA"),
        ],
        **HALF,
    )
    owners_chart = charts.bar_chart(
        title="Open cases per caseworker",
        description="Open cases each caseworker owns, and those past their SLA.",
        rows=[
            (
                row.name,
                [
                    charts.Segment(
                        row.breached.value,
                        "breached",
                        f"{row.name}: {row.breached.value:,} past SLA",
                        row.breached.href,
                    ),
                    charts.Segment(
                        row.open.value - row.breached.value,
                        "within",
                        f"{row.name}: {row.open.value - row.breached.value:,} within SLA",
                        row.open.href,
                    ),
                ],
            )
            for row in figures.caseworkers
        ],
        legend=[
            charts.LegendItem("breached", "Past SLA"),
            charts.LegendItem("within", "Within SLA"),
        ],
        width=HALF["width"],
        label_width=165,
    )
    decisions_chart = charts.bar_chart(
        title="Median time to decision by queue, in days",
        description="Median days from opening to closing of the cases decided in the window.",
        rows=[
            (
                row.label,
                [
                    charts.Segment(
                        row.median_days or 0,
                        "median",
                        f"{row.label}: {row.median_days or 0:.1f} days",
                        row.decided.href,
                    )
                ],
            )
            for row in figures.decisions
        ],
        fmt=_days,
        width=HALF["width"],
        label_width=175,
    )
    return {
        "queue_status": queue_status,
        "ageing": ageing_chart,
        "flow": flow_chart,
        "sla": sla_chart,
        "owners": owners_chart,
        "decisions": decisions_chart,
    }


def conversion_chart(report: fairness.FairnessReport) -> charts.BarChart:
    """Conversion (awarded ÷ decided) per score band, not introduced against introduced."""
    rows = []
    for band in report.bands:
        not_introduced, introduced = band.rows[0], band.rows[1]
        rows.append(
            (
                f"Score {band.label}",
                [
                    charts.Segment(
                        100 * (row.conversion or 0),
                        series,
                        f"Score {band.label}, {row.label.lower()}: {100 * (row.conversion or 0):.0f}%",
                        row.decided.href,
                    )
                    for row, series in (
                        (not_introduced, "not-introduced"),
                        (introduced, "introduced"),
                    )
                ],
            )
        )
    return charts.bar_chart(
        title="Contracts awarded per decided case, by score band",
        description=(
            "For each score band, the share of decided cases that won a contract: offers "
            "nobody introduced against introduced offers."
        ),
        rows=rows,
        grouped=True,
        legend=[
            charts.LegendItem("not-introduced", "Not introduced"),
            charts.LegendItem("introduced", "Introduced (any role)"),
        ],
        fmt=lambda v: f"{v:.0f}%",
        maximum=100,
        **FULL,
    )
