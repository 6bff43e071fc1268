"""Forms of the case list: bulk changes to the selected cases, and saving a filter.

They check the shape of the input; the rules (managers only, open cases, a rationale
for a move) are the services' (vipcases/services.py), which raise CaseError.
"""

from django import forms

from vipcases.codes import Queue

BULK_QUEUES = [
    (q, Queue(q).label) for q in (Queue.TRIAGE, Queue.VIP, Queue.RAPID_RESPONSE, Queue.MP_INBOX)
]


class CaseIdsField(forms.Field):
    """The ids of the cases ticked in the list (`cases=12&cases=15`)."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {
        "required": "Select at least one case",
        "invalid": "Select cases from the list",
    }

    def to_python(self, value):
        if not value:
            return []
        try:
            ids = [int(v) for v in value]
        except (TypeError, ValueError) as exc:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from exc
        if any(i < 1 for i in ids):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return list(dict.fromkeys(ids))


class CaseBulkForm(forms.Form):
    """Assign the selected cases to a caseworker, or move them to a queue with one
    rationale. The button pressed (`action`) says which."""

    cases = CaseIdsField()
    action = forms.ChoiceField(
        choices=[("assign", "Assign"), ("move", "Move")],
        error_messages={"required": "Choose to assign or to move the selected cases"},
    )
    owner = forms.ChoiceField(label="Assign to", required=False)
    to_queue = forms.ChoiceField(
        label="Move to",
        required=False,
        choices=[("", "Choose a queue"), *BULK_QUEUES],
        error_messages={"invalid_choice": "Choose a queue from the list"},
    )
    rationale = forms.CharField(
        label="Rationale",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required for a move. It is recorded on each case's timeline.",
    )

    # The ticked boxes are in the table; an error about them links there.
    error_anchors = {"cases": "case-table"}

    def __init__(self, *args, owners=(), **kwargs):
        kwargs.setdefault("auto_id", "bulk-%s")
        super().__init__(*args, **kwargs)
        self.owners = {str(person.pk): person for person in owners}
        self.fields["owner"].choices = [("", "Choose a caseworker")] + [
            (pk, person.get_full_name() or person.get_username())
            for pk, person in self.owners.items()
        ]
        self.fields["owner"].error_messages["invalid_choice"] = "Choose a caseworker from the list"

    def clean(self):
        data = super().clean()
        action = data.get("action")
        if action == "assign" and not data.get("owner"):
            self.add_error("owner", "Choose who to assign the selected cases to")
        if action == "move":
            if not data.get("to_queue"):
                self.add_error("to_queue", "Choose the queue to move the selected cases to")
            if not (data.get("rationale") or "").strip():
                self.add_error("rationale", "Give a rationale for moving the cases")
        return data

    @property
    def owner_user(self):
        return self.owners.get(self.cleaned_data.get("owner") or "")


class SavedFilterForm(forms.Form):
    name = forms.CharField(
        label="Name this filter",
        max_length=100,
        error_messages={
            "required": "Enter a name for the filter",
            "max_length": "The name must be 100 characters or fewer",
        },
    )
    query = forms.CharField(required=False, max_length=2000, widget=forms.HiddenInput)
