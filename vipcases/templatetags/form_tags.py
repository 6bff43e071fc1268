"""`{% govuk_form_group field %}`: one GOV.UK form field, written in Python.

Load with `{% load form_tags %}`. It writes exactly what
`{% include "includes/govuk_form_group.html" with field=… %}` writes (the include
stays the reference, and tests/vipcases/test_form_group_tag.py compares the two),
for about a tenth of the calls: the case page's Actions area has about twenty form
fields, and rendering the include for each was a third of the page's render time.

Options as the include takes them: `show_errors`, `width`, `inline`, `numeric`. One
not given is read from the surrounding context, as the include would. Anything this
tag does not cover (autoescape off, an option that is a callable) is rendered by the
include itself.
"""

from html import escape

from django import template
from django.forms import BoundField
from django.template.base import render_value_in_context
from django.template.defaultfilters import stringformat
from django.utils.safestring import SafeString

from vipcases.templatetags.vipcases_tags import widget_kind

register = template.Library()

INCLUDE = "includes/govuk_form_group.html"
_OPTIONS = ("show_errors", "width", "inline", "numeric")
_MISSING = object()


@register.simple_tag(takes_context=True)
def govuk_form_group(context, field, **options) -> SafeString:
    """The include's markup for `field`: label, hint, errors when `show_errors`, and
    the input, select, textarea, checkbox or radios, with aria-describedby."""
    values = {}
    for name in _OPTIONS:
        value = options.get(name, _MISSING)
        if value is _MISSING:
            value = context.get(name)
        if callable(value):
            return _render_include(context, field, options)
        values[name] = value
    if not context.autoescape or not isinstance(field, BoundField):
        return _render_include(context, field, options)
    return SafeString(_FormGroup(context, field, **values).html())


def _render_include(context, field, options: dict) -> SafeString:
    include = context.template.engine.get_template(INCLUDE)
    with context.push(field=field, **options):
        return include.render(context)


class _FormGroup:
    """The include's template, line for line; each `out()` is one `{{ … }}`."""

    def __init__(self, context, field, *, show_errors, width, inline, numeric):
        self.context = context
        self.field = field
        self.show_errors = show_errors
        self.width = width
        self.inline = inline
        self.numeric = numeric

    def out(self, value) -> str:
        """`{{ value }}` with autoescape on; plain strings (the usual case) directly."""
        if type(value) is str:
            return escape(value)
        return render_value_in_context(value, self.context)

    def errors(self, indent: str, error_id: str = "") -> str:
        line = ""
        if self.show_errors:
            id_attribute = f' id="{error_id}-error"' if error_id else ""
            for error in self.field.errors:
                line += (
                    f'<p class="govuk-error-message"{id_attribute}>'
                    f'<span class="govuk-visually-hidden">Error:</span> {self.out(error)}</p>'
                )
        return f"{indent}{line}\n"

    def html(self) -> str:
        field = self.field
        kind = widget_kind(field)
        has_errors = bool(self.show_errors and field.errors)
        group_error = " govuk-form-group--error" if has_errors else ""
        if kind == "radio":
            body = self.radios(group_error)
        elif kind == "checkbox":
            body = self.checkbox(group_error)
        else:
            body = self.single(kind, group_error, has_errors)
        return f"\n\n\n{body}\n\n"

    def hint(self, field_id: str, extra_class: str = "") -> tuple[str, str]:
        """The input's aria-describedby attribute and the hint's markup ("" for both
        when the field has no help text)."""
        help_text = self.field.help_text
        if not help_text:
            return "", ""
        return (
            f' aria-describedby="{field_id}-hint"',
            f'<div class="govuk-hint{extra_class}" id="{field_id}-hint">'
            f"{self.out(help_text)}</div>",
        )

    def radios(self, group_error: str) -> str:
        field = self.field
        out = self.out
        auto_id = out(field.auto_id)
        described_by, hint = self.hint(auto_id)
        inline = " govuk-radios--inline" if self.inline else ""
        name = out(field.html_name)
        items = ""
        for radio in field:
            radio_id = out(radio.id_for_label)
            checked = " checked" if radio.data["selected"] else ""
            items += (
                '\n      <div class="govuk-radios__item">\n'
                f'        <input class="govuk-radios__input" id="{radio_id}" name="{name}"'
                f' type="radio" value="{out(radio.data["value"])}"{checked}>\n'
                f'        <label class="govuk-label govuk-radios__label" for="{radio_id}">'
                f"{out(radio.choice_label)}</label>\n"
                "      </div>\n      "
            )
        return (
            f'<div class="govuk-form-group{group_error}">\n'
            f'  <fieldset class="govuk-fieldset"{described_by}>\n'
            '    <legend class="govuk-fieldset__legend govuk-fieldset__legend--s">'
            f"{out(field.label)}</legend>\n"
            f"    {hint}\n"
            f"{self.errors('    ')}"
            f'    <div class="govuk-radios govuk-radios--small{inline}"'
            ' data-module="govuk-radios">\n'
            f"      {items}\n"
            "    </div>\n"
            "  </fieldset>\n"
            "</div>\n"
        )

    def checkbox(self, group_error: str) -> str:
        field = self.field
        out = self.out
        field_id = out(field.id_for_label)
        described_by, hint = self.hint(field_id, " govuk-checkboxes__hint")
        checked = " checked" if field.value() else ""
        return (
            f'<div class="govuk-form-group{group_error}">\n'
            '  <div class="govuk-checkboxes govuk-checkboxes--small"'
            ' data-module="govuk-checkboxes">\n'
            '    <div class="govuk-checkboxes__item">\n'
            f'      <input class="govuk-checkboxes__input" id="{field_id}"'
            f' name="{out(field.html_name)}" type="checkbox" value="on"{checked}{described_by}>\n'
            f'      <label class="govuk-label govuk-checkboxes__label" for="{field_id}">'
            f"{out(field.label)}</label>\n"
            f"      {hint}\n"
            f"{self.errors('      ')}"
            "    </div>\n"
            "  </div>\n"
            "</div>\n"
        )

    def single(self, kind: str, group_error: str, has_errors: bool) -> str:
        field = self.field
        out = self.out
        field_id = out(field.id_for_label)
        described_by, hint = self.hint(field_id)
        name = out(field.html_name)
        value = field.value()
        if kind == "select":
            control = self.select(field_id, name, value, described_by, has_errors)
        elif kind == "textarea":
            rows = field.field.widget.attrs.get("rows") or 4
            error_class = " govuk-textarea--error" if has_errors else ""
            control = (
                f'<textarea class="govuk-textarea{error_class}" id="{field_id}" name="{name}"'
                f' rows="{out(rows)}"{described_by}>'
                f"{out('' if value is None else value)}</textarea>"
            )
        else:
            error_class = " govuk-input--error" if has_errors else ""
            email = getattr(field.field.widget, "input_type", None) == "email"
            input_type = "email" if email else "text"
            inputmode = ' inputmode="numeric"' if self.numeric else ""
            control = (
                f'<input class="govuk-input {out(self.width or "govuk-input--width-20")}'
                f'{error_class}" id="{field_id}" name="{name}" type="{input_type}"{inputmode}'
                f' value="{out("" if value is None else value)}"{described_by}>'
            )
        return (
            f'<div class="govuk-form-group{group_error}">\n'
            f'  <label class="govuk-label govuk-label--s" for="{field_id}">'
            f"{out(field.label)}</label>\n"
            f"  {hint}\n"
            f"{self.errors('  ', field_id)}"
            f"  \n  {control}\n  \n"
            "</div>\n"
        )

    def select(self, field_id: str, name: str, value, described_by: str, has_errors) -> str:
        out = self.out
        selected_value = stringformat(value, "s")
        options = ""
        for option_value, label in self.field.field.choices:
            if type(option_value) is str:
                selected = option_value == selected_value
            else:
                selected = stringformat(option_value, "s") == selected_value
            options += (
                f'<option value="{out(option_value)}"{" selected" if selected else ""}>'
                f"{out(label)}</option>"
            )
        error_class = " govuk-select--error" if has_errors else ""
        return (
            f'<select class="govuk-select{error_class}" id="{field_id}" name="{name}"'
            f"{described_by}>\n"
            f"    {options}\n"
            "  </select>"
        )
