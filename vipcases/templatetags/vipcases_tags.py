"""Presentation filters for the case screens: formatting only, no business rules.

Load with `{% load vipcases_tags %}`. `django.contrib.humanize` is not installed, so
the few number and date formats the pages need live here.
"""

from datetime import datetime
from decimal import Decimal, InvalidOperation

from django import template
from django.utils import timezone

from vipcases.codes import Outcome, Queue, Status

register = template.Library()

# MOJ Frontend badge colour per queue: urgent work stands out, closed work recedes.
QUEUE_BADGE_CLASSES = {
    Queue.TRIAGE: "moj-badge--grey",
    Queue.VIP: "moj-badge--purple",
    Queue.RAPID_RESPONSE: "moj-badge--red",
    Queue.MP_INBOX: "moj-badge--blue",
    Queue.CLOSED: "moj-badge--black",
}

# Headings for the six score components of triage/scoring.py (COMPONENTS).
COMPONENT_LABELS = {
    "need": "Clinical need",
    "coverage": "Coverage of unmet demand",
    "compliance": "Standards and certification",
    "deliverability": "Deliverability",
    "value": "Value for money",
    "credibility": "Supplier credibility",
}

# Case events store queue, status and outcome codes in from_value / to_value.
_CODE_LABELS = {**dict(Outcome.choices), **dict(Status.choices), **dict(Queue.choices)}


@register.filter
def thousands(value) -> str:
    """2000000 -> "2,000,000"; blank for None or anything that is not a number."""
    if value is None or value == "":
        return ""
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return str(value)


@register.filter
def price(value) -> str:
    """A unit price with thousands separators, at least 2 and at most 4 decimal places:
    Decimal("1.8500") -> "1.85", Decimal("0.0525") -> "0.0525", 1200 -> "1,200.00"."""
    if value is None or value == "":
        return ""
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    places = max(2, min(4, -amount.normalize().as_tuple().exponent))
    return f"{amount:,.{places}f}"


@register.filter
def age_days(value: datetime | None) -> int | str:
    """Whole days from `value` until now (0 on the day itself); blank for None."""
    if value is None or value == "":
        return ""
    return max(0, (timezone.now() - value).days)


@register.filter
def is_past(value: datetime | None) -> bool:
    """True if `value` is before now (e.g. an SLA due date that has passed)."""
    return value is not None and value != "" and value < timezone.now()


@register.filter
def queue_badge_class(queue: str) -> str:
    """The MOJ badge modifier class for a queue code, e.g. "moj-badge--red"."""
    return QUEUE_BADGE_CLASSES.get(queue, "moj-badge--grey")


@register.filter
def code_label(value: str) -> str:
    """A queue, status or outcome code as people read it ("rapid_response" -> "Rapid
    Response"); anything else (a username, a score) unchanged."""
    return _CODE_LABELS.get(value, value)


@register.filter
def component_label(name: str) -> str:
    """The heading for a score component name ("need" -> "Clinical need")."""
    return COMPONENT_LABELS.get(name, str(name).replace("_", " ").capitalize())


@register.filter
def widget_kind(bound_field) -> str:
    """Which GOV.UK component renders a form field: select, textarea, checkbox or input."""
    widget = bound_field.field.widget
    input_type = getattr(widget, "input_type", None)
    if input_type in ("select", "checkbox", "radio"):
        return input_type
    if widget.__class__.__name__ == "Textarea":
        return "textarea"
    return "input"
