"""The case pages' hand-written markup is what Django's own filters and widgets write.

The case list's rows and filter options, the case page's dates and its hidden form
fields are written in Python for speed (vipcases/templatetags); these tests hold them to
the output of the Django code they replace.
"""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django import forms
from django.template import Context, Template

from vipcases.templatetags.case_list_tags import case_list_rows, checkbox_items, select_options


def render(source: str, **context) -> str:
    return Template(source).render(Context(context))


LONDON = ZoneInfo("Europe/London")
MOMENTS = [
    datetime(2026, 12, 3, 9, 5, tzinfo=LONDON),
    datetime(2026, 7, 1, 0, 0, 30, 123456, tzinfo=LONDON),  # summer time, microseconds
    datetime(2020, 3, 29, 1, 30, tzinfo=ZoneInfo("UTC")),  # the hour the clocks go forward
    datetime(987, 1, 9, 23, 59, tzinfo=ZoneInfo("UTC")),
]


@pytest.mark.parametrize("moment", MOMENTS)
def test_it_writes_dates_as_the_date_filter_does(moment):
    ours = render(
        "{% load vipcases_tags %}{{ d|long_date }}|{{ d|long_date_time }}|{{ d|iso_date }}",
        d=moment,
    )
    django = render("""{{ d|date:"j F Y" }}|{{ d|date:"j F Y H:i" }}|{{ d|date:'c' }}""", d=moment)
    assert ours == django


def test_it_writes_plain_dates_and_nothing_for_none():
    ours = render("{% load vipcases_tags %}{{ d|long_date }}|{{ d|iso_date }}", d=date(2026, 5, 4))
    assert ours == render("""{{ d|date:"j F Y" }}|{{ d|date:'c' }}""", d=date(2026, 5, 4))
    assert render("{% load vipcases_tags %}{{ d|long_date }}{{ d|long_date_time }}", d=None) == ""


class Versioned(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
    to_status = forms.CharField(widget=forms.HiddenInput(), required=False)
    flagged = forms.CharField(widget=forms.HiddenInput(attrs={"data-x": "<y>"}), required=False)


@pytest.mark.parametrize(
    "form",
    [
        Versioned(initial={"version": 7, "to_status": 'a "quoted" <value>'}, auto_id="s_%s"),
        Versioned(auto_id=False),
        Versioned({"version": "x"}, auto_id="bound_%s"),
    ],
)
def test_it_writes_hidden_fields_as_the_widget_does(form):
    for name in ("version", "to_status", "flagged"):
        ours = render("{% load vipcases_tags %}{{ field|hidden_input }}", field=form[name])
        assert ours == str(form[name])


def test_the_filter_options_are_escaped():
    options = [
        {"id": "f", "value": "a&b", "label": "<A>", "ticked": True, "selected": False},
        {"id": "f-2", "value": "c", "label": "C's", "ticked": False, "selected": True},
    ]
    boxes = checkbox_items(options, "queue")
    assert 'id="f" name="queue" type="checkbox" value="a&amp;b" checked>' in boxes
    assert 'for="f">&lt;A&gt;</label>' in boxes
    assert 'value="c">' in boxes and "C&#x27;s" in boxes
    assert select_options(options) == (
        '<option value="a&amp;b">&lt;A&gt;</option><option value="c" selected>C&#x27;s</option>'
    )


def test_a_row_escapes_what_suppliers_and_people_typed():
    row = {
        "pk": "5",
        "reference": "PPE-000005",
        "href": "/cases/5/",
        "ticked": True,
        "supplier": "Smith & <Sons>",
        "categories": "Gowns",
        "introduced_by": "nobody",
        "queue": "Triage",
        "badge_class": "moj-badge--grey",
        "status": "New",
        "score": None,
        "owner": 'Pat "O" Neil',
        "age_days": "3",
        "sla_due_iso": None,
        "sla_due": None,
        "overdue": False,
    }
    html = case_list_rows([row], True)
    assert "Smith &amp; &lt;Sons&gt;" in html
    assert "Pat &quot;O&quot; Neil" in html
    assert 'id="select-5" name="cases" value="5" checked>' in html
    assert "Not scored yet" in html and "Not set" in html
    assert "select-5" not in case_list_rows([row], False)
