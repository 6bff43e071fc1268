"""`{% govuk_form_group %}` writes exactly what includes/govuk_form_group.html writes.

Every kind of field the case page's Actions area shows (checkbox, radios, select,
textarea, text input), unbound and bound, valid and with errors, with and without
the include's options, is rendered both ways and compared character for character.
"""

import pytest
from django import forms
from django.template import Context, Engine, engines
from django.utils.safestring import mark_safe

from triage.forms import ScoreOverrideForm
from vipcases.codes import Queue, Status
from vipcases.forms import AssignForm, ChaserForm, ClaimForm, HandOverForm, NoteForm, StatusForm

pytestmark = pytest.mark.django_db

OPTIONS = [
    {},
    {"show_errors": True},
    {"width": "govuk-input--width-3"},
    {"inline": True, "width": "govuk-input--width-30", "show_errors": True},
    {"numeric": True, "show_errors": True},
]


def the_engine() -> Engine:
    return engines["django"].engine


def by_include(field, options: dict, context: dict | None = None) -> str:
    arguments = "".join(f" {name}={name}" for name in options)
    template = the_engine().from_string(
        '{% include "includes/govuk_form_group.html" with field=field' + arguments + " %}"
    )
    return template.render(Context({**(context or {}), "field": field, **options}))


def by_tag(field, options: dict, context: dict | None = None, *, autoescape=True) -> str:
    arguments = "".join(f" {name}={name}" for name in options)
    template = the_engine().from_string(
        "{% load form_tags %}{% govuk_form_group field" + arguments + " %}"
    )
    context = Context({**(context or {}), "field": field, **options}, autoescape=autoescape)
    return template.render(context)


def page_forms(data=None) -> list[forms.Form]:
    """The Actions area's forms as vipcases.action_views.case_actions_context builds
    them (or bound to `data`)."""
    bound = {"data": data} if data is not None else {}
    note_without_restricted = NoteForm(auto_id="note_%s", **bound)
    del note_without_restricted.fields["restricted"]
    return [
        ClaimForm(initial={"version": 3}, auto_id="claim_%s", **bound),
        StatusForm(
            initial={"version": 3},
            next_statuses=(Status.IN_PROGRESS, Status.NEW),
            auto_id="status_%s",
            **bound,
        ),
        StatusForm(
            initial={"version": 3, "to_status": Status.CLOSED},
            closing=True,
            outcomes=("rejected", "contract_awarded"),
            auto_id="close_%s",
            **bound,
        ),
        AssignForm(initial={"version": 3}, auto_id="assign_%s", **bound),
        ScoreOverrideForm(initial={"version": 3}, auto_id="override_%s", **bound),
        NoteForm(auto_id="note_%s", **bound),
        note_without_restricted,
        HandOverForm(
            initial={"version": 3, "to_queue": Queue.MP_INBOX}, auto_id="handover_%s", **bound
        ),
        ChaserForm(auto_id="chaser_%s", **bound),
    ]


FILLED = {
    "version": "3",
    "no_conflict": "on",
    "to_status": Status.IN_PROGRESS,
    "outcome": "rejected",
    "owner": "",
    "rationale": 'Because "the supplier" <said> so & more',
    "total": "55",
    "text": "A note\nover two lines",
    "restricted": "on",
    "who": "Minister's office",
    "how": "email",
}


def fields_of(form_list):
    return [(form, field) for form in form_list for field in form.visible_fields()]


def assert_same(field, options, context=None):
    expected = by_include(field, options, context)
    assert by_tag(field, options, context) == expected, (field.html_name, options)


@pytest.mark.parametrize("options", OPTIONS)
def test_it_matches_the_include_for_unbound_forms(caseworker, options):
    for _, field in fields_of(page_forms()):
        assert_same(field, options)


@pytest.mark.parametrize("options", OPTIONS)
def test_it_matches_the_include_for_forms_with_errors(caseworker, options):
    pairs = fields_of(page_forms(data={}))
    assert any(field.errors for _, field in pairs)
    for _, field in pairs:
        assert_same(field, options)


@pytest.mark.parametrize("options", OPTIONS)
def test_it_matches_the_include_for_filled_in_forms(caseworker, options):
    data = {**FILLED, "owner": str(caseworker.pk)}
    pairs = fields_of(page_forms(data=data))
    for _, field in pairs:
        assert_same(field, options)
    assert any("selected>" in by_tag(field, options) for _, field in pairs)


def test_it_writes_the_error_message_and_describes_the_field():
    form = ChaserForm(data={"how": "pigeon"}, auto_id="chaser_%s")
    html = by_tag(form["who"], {"show_errors": True})
    assert "govuk-form-group--error" in html
    assert 'id="chaser_who-error"' in html
    assert 'aria-describedby="chaser_who-hint"' in html
    assert "Say who chased the case." in html
    assert_same(form["how"], {"show_errors": True})


def test_it_takes_options_from_the_surrounding_context_as_the_include_does():
    form = ChaserForm(data={}, auto_id="chaser_%s")
    context = {"show_errors": True, "width": "govuk-input--width-5", "numeric": True}
    for field in form.visible_fields():
        assert_same(field, {}, context)
    assert "govuk-input--width-5" in by_tag(form["who"], {}, context)


class OddForm(forms.Form):
    email = forms.EmailField(label="Email <address>", help_text=mark_safe("<b>work</b> address"))
    count = forms.IntegerField(label="Count", initial=7)
    grouped = forms.ChoiceField(
        choices=[("Group", [("a", "A"), ("b", "B")]), ("c", "C & D")], label="Grouped"
    )
    agree = forms.BooleanField(label="Agree", required=True, help_text="Tick it")
    rows = forms.CharField(widget=forms.Textarea(attrs={"rows": 0}), label="No rows")


@pytest.mark.parametrize("data", [None, {}, {"email": 'x"@y', "count": "x", "grouped": "b"}])
def test_it_matches_the_include_for_other_widgets_and_escaping(data):
    form = OddForm(data=data) if data is not None else OddForm()
    for field in form.visible_fields():
        for options in OPTIONS:
            assert_same(field, options)


def test_it_falls_back_to_the_include_when_autoescape_is_off():
    template = the_engine().from_string(
        '{% autoescape off %}{% include "includes/govuk_form_group.html" %}{% endautoescape %}'
    )
    for field in OddForm().visible_fields():
        unescaped = template.render(Context({"field": field}))
        assert by_tag(field, {}, autoescape=False) == unescaped
    assert "Email <address>" in by_tag(OddForm()["email"], {}, autoescape=False)
