"""Presentation filters for the case screens: formatting only, no business rules.

Load with `{% load vipcases_tags %}`. `django.contrib.humanize` is not installed, so
the few number and date formats the pages need live here.
"""

from datetime import datetime
from decimal import Decimal, InvalidOperation
from html import escape

from django import forms, template
from django.utils import timezone
from django.utils.safestring import SafeString

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


# The date formats of the case page, written directly: Django's `date` filter looks the
# format up, parses it and translates the month on every call, and the case page has a
# few dozen dates (two for each event of its timeline). English month names, as
# LANGUAGE_CODE is en-gb.
_MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


@register.filter(expects_localtime=True)
def long_date(value) -> str:
    """A date or local datetime as `date:"j F Y"` writes it: "3 December 2026"."""
    if value is None or value == "":
        return ""
    return f"{value.day} {_MONTH_NAMES[value.month - 1]} {value.year:04d}"


@register.filter(expects_localtime=True)
def long_date_time(value) -> str:
    """A local datetime as `date:"j F Y H:i"` writes it: "3 December 2026 14:05"."""
    if value is None or value == "":
        return ""
    return f"{long_date(value)} {value.hour:02d}:{value.minute:02d}"


@register.filter(expects_localtime=True)
def iso_date(value) -> str:
    """A date or local datetime as `date:"c"` writes it (ISO 8601), for <time datetime>."""
    if value is None or value == "":
        return ""
    return value.isoformat()


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


@register.filter
def hidden_input(bound_field) -> SafeString:
    """A hidden field of an unbound form, written as Django's HiddenInput writes it
    (`<input type="hidden" name=… value=… id=…>`) but without a round trip through the
    form renderer's templates, which cost a few hundred calls a field. Anything else
    (a bound form, a disabled field, a widget with attributes) is rendered by Django."""
    widget = bound_field.field.widget
    if (
        type(widget) is not forms.HiddenInput
        or widget.attrs
        or bound_field.form.is_bound
        or bound_field.field.disabled
    ):
        return SafeString(bound_field.as_widget())
    value = widget.format_value(bound_field.value())
    value_attribute = "" if value is None else f' value="{escape(value)}"'
    id_attribute = f' id="{escape(bound_field.auto_id)}"' if bound_field.auto_id else ""
    return SafeString(
        f'<input type="hidden" name="{escape(bound_field.html_name)}"'
        f"{value_attribute}{id_attribute}>"
    )
