"""Presentation filters for the dashboards: formatting only.

Load with `{% load dashboard_tags %}`.
"""

from django import template

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
