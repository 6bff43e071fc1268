"""Forms for the case page's actions and the MP inbox.

Forms check the shape of the input only; the rules (who may, in which status, is a
rationale needed) are the services' in vipcases/services.py, which raise CaseError.
Forms that change the case carry the `version` the user saw, which the service
compares with the case's current one (optimistic concurrency).
"""

import re
from datetime import date, datetime, time

from django import forms
from django.utils import timezone

from vipcases.codes import Outcome, Queue, Status
from vipcases.selectors import caseworkers


def field_anchor(bound_field) -> str:
    """The id an error summary links to: the field's input, or a radio group's first radio."""
    if isinstance(bound_field.field.widget, forms.RadioSelect):
        return f"{bound_field.auto_id}_0"
    return bound_field.id_for_label


def error_summary(*forms_or_formsets, formset_label: str = "Line") -> list[dict]:
    """Every error of the given forms and formsets as GOV.UK error summary items
    ({"href", "text"}), in page order. A formset's rows are named "Line 1", "Line 2"…;
    errors that belong to no field link to nothing (href is empty)."""
    items = []

    def add_form(form, prefix: str = "") -> None:
        for error in form.non_field_errors():
            items.append({"href": "", "text": f"{prefix}{error}"})
        for bound_field in form:
            for error in bound_field.errors:
                items.append({"href": f"#{field_anchor(bound_field)}", "text": f"{prefix}{error}"})

    for item in forms_or_formsets:
        if isinstance(item, forms.BaseFormSet):
            for error in item.non_form_errors():
                items.append({"href": f"#{item.prefix}", "text": str(error)})
            for number, form in enumerate(item.forms, start=1):
                if item.can_delete and getattr(form, "cleaned_data", {}).get("DELETE"):
                    continue  # a removed row's errors do not count
                add_form(form, prefix=f"{formset_label} {number}: ")
        else:
            add_form(item)
    return items


CLAIM_DECLARATION = (
    "I have no conflict of interest with the supplier or any introducer of this offer"
)


class VersionedForm(forms.Form):
    """The case version the user saw: a second person's stale save is refused."""

    version = forms.IntegerField(
        min_value=1,
        widget=forms.HiddenInput,
        error_messages={
            "required": "The form was out of date. Nothing was saved: reload the page and try again.",
            "invalid": "The form was out of date. Nothing was saved: reload the page and try again.",
        },
    )


class ClaimForm(VersionedForm):
    no_conflict = forms.BooleanField(
        label=CLAIM_DECLARATION,
        error_messages={
            "required": "Declare that you have no conflict of interest with the supplier "
            "or any introducer before claiming the case."
        },
    )


class AssignForm(VersionedForm):
    owner = forms.ModelChoiceField(
        queryset=None,
        required=False,
        empty_label="Nobody (unassign the case)",
        label="Assign to",
        error_messages={"invalid_choice": "Choose a caseworker from the list."},
    )
    rationale = forms.CharField(
        required=False,
        label="Reason (optional)",
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = caseworkers()
        self.fields["owner"].label_from_instance = lambda user: (
            user.get_full_name() or user.get_username()
        )


class StatusForm(VersionedForm):
    """Both "move to another stage" and "close with an outcome" post here.

    On the page, `next_statuses` limits the stages offered and `outcomes` the outcomes
    (with `closing`, the status is fixed to closed); a posted form accepts any status
    and outcome and leaves the workflow check to the service.
    """

    to_status = forms.ChoiceField(
        choices=Status.choices,
        label="New status",
        error_messages={"required": "Choose the status to move the case to."},
    )
    outcome = forms.ChoiceField(
        choices=[("", "Choose an outcome"), *Outcome.choices], required=False, label="Outcome"
    )
    rationale = forms.CharField(
        required=False, label="Rationale", widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(
        self,
        *args,
        next_statuses: tuple[str, ...] = (),
        outcomes: tuple[str, ...] = (),
        closing: bool = False,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        fields = self.fields
        if closing:
            fields["to_status"].widget = forms.HiddenInput()
            fields["outcome"].required = True
            if outcomes:
                fields["outcome"].choices = [
                    ("", "Choose an outcome"),
                    *((o, Outcome(o).label) for o in outcomes),
                ]
            fields["rationale"].help_text = "Why this outcome. Recorded on the timeline."
        elif next_statuses:
            choices = [(s, Status(s).label) for s in next_statuses]
            fields["to_status"].choices = choices
            fields["to_status"].widget = forms.RadioSelect(choices=choices)
            fields["to_status"].label = "Move the case to"
            fields["rationale"].label = "Rationale (needed to move the case back a stage)"
            del fields["outcome"]

    def clean(self):
        data = super().clean()
        data.setdefault("outcome", "")
        if data.get("to_status") == Status.CLOSED:
            if not data.get("outcome"):
                self.add_error("outcome", "Choose an outcome to close the case.")
            if not (data.get("rationale") or "").strip():
                self.add_error("rationale", "Give a rationale for closing the case.")
        return data


class NoteForm(forms.Form):
    # Notes only add to the timeline, so they carry no version: a note written while
    # someone else changed the case overwrites nothing and is not refused.
    text = forms.CharField(
        label="Note",
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": "Write the note before saving it."},
    )
    restricted = forms.BooleanField(
        required=False,
        label="Restricted (commercial)",
        help_text="Hidden from the MP-inbox team, e.g. prices and negotiating positions.",
    )


class HandOverForm(VersionedForm):
    to_queue = forms.ChoiceField(
        choices=[(Queue.MP_INBOX, "MP inbox"), (Queue.TRIAGE, "Triage")],
        widget=forms.HiddenInput,
    )
    reason = forms.CharField(
        label="Reason for the handover",
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Give a reason for the handover."},
    )


class ChaserForm(forms.Form):
    # Like notes, chasers only add to the timeline: no version.
    HOW_CHOICES = [
        ("phone", "Phone"),
        ("email", "Email"),
        ("letter", "Letter"),
        ("in_person", "In person"),
    ]
    who = forms.CharField(
        label="Who chased?",
        max_length=200,
        help_text="For example, the office of the minister who introduced the offer.",
        error_messages={"required": "Say who chased the case."},
    )
    how = forms.ChoiceField(
        choices=HOW_CHOICES,
        label="How?",
        widget=forms.RadioSelect,
        error_messages={
            "required": "Say how they chased: phone, email, letter or in person.",
            "invalid_choice": "Say how they chased: phone, email, letter or in person.",
        },
    )
    text = forms.CharField(
        required=False, label="What did they ask?", widget=forms.Textarea(attrs={"rows": 3})
    )


# --- the MP inbox ---------------------------------------------------------------------

REFERENCE_PATTERN = re.compile(r"^\s*(?:PPE-?)?0*(\d{1,12})\s*$", re.IGNORECASE)


def parse_case_reference(reference: str) -> int | None:
    """ "PPE-000123", "ppe-123" or "123" -> 123; None if it is not a case reference."""
    found = REFERENCE_PATTERN.match(reference or "")
    return int(found.group(1)) if found else None


class EnquiryForm(forms.Form):
    case_reference = forms.CharField(
        label="Which case is it about?",
        help_text="The case reference, for example PPE-000123.",
        max_length=20,
    )
    mp_name = forms.CharField(label="MP's name", max_length=200)
    constituency = forms.CharField(label="Constituency", max_length=200, required=False)
    received_day = forms.IntegerField(label="Day", required=False)
    received_month = forms.IntegerField(label="Month", required=False)
    received_year = forms.IntegerField(label="Year", required=False)
    question = forms.CharField(
        label="What did the MP ask?", widget=forms.Textarea(attrs={"rows": 4})
    )

    def clean_case_reference(self) -> int:
        case_id = parse_case_reference(self.cleaned_data["case_reference"])
        if case_id is None:
            raise forms.ValidationError("Enter a case reference like PPE-000123.")
        return case_id

    def clean(self):
        data = super().clean()
        parts = [data.get(f"received_{part}") for part in ("day", "month", "year")]
        if all(part is None for part in parts):
            self.add_error("received_day", "Enter the date the enquiry was received.")
            return data
        try:
            received = date(parts[2], parts[1], parts[0])
            if received.year < 2000:
                raise ValueError("not a plausible year")
        except (TypeError, ValueError):
            self.add_error("received_day", "The date received must be a real date.")
            return data
        if received > timezone.localdate():
            self.add_error("received_day", "The date received must be today or in the past.")
            return data
        # The day is what matters. Today's enquiry is stamped now; an earlier one at
        # midday, so no time-zone shift moves it to another day.
        if received == timezone.localdate():
            data["received_at"] = timezone.now()
        else:
            data["received_at"] = timezone.make_aware(datetime.combine(received, time(12)))
        return data


class ReplyForm(forms.Form):
    reply = forms.CharField(label="Reply sent to the MP", widget=forms.Textarea(attrs={"rows": 6}))
    close = forms.TypedChoiceField(
        label="Is the enquiry finished?",
        choices=[("no", "No, the MP may need another update"), ("yes", "Yes, close the enquiry")],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
        initial="no",
    )
