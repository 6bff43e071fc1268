from decimal import Decimal

from django import forms

from vipcases.codes import Criticality


class ClinicalNeedForm(forms.Form):
    criticality = forms.ChoiceField(choices=Criticality.choices, label="How critical is it now?")
    unmet_demand = forms.IntegerField(
        min_value=0,
        label="Unmet demand (units)",
        help_text="Units needed over the planning horizon minus stock and pipeline.",
    )
    required_standards = forms.CharField(
        required=False,
        label="Required standards",
        help_text="One per line; meeting any one of them is enough. Leave empty if none is required.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    benchmark_price_gbp = forms.DecimalField(
        required=False,
        min_value=Decimal("0"),
        max_digits=12,
        decimal_places=4,
        label="Benchmark unit price (GBP)",
    )
    rationale = forms.CharField(
        label="Why are you changing it?",
        help_text="Recorded in the audit trail with your name.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def clean_required_standards(self) -> list[str]:
        lines = self.cleaned_data["required_standards"].splitlines()
        return [line.strip() for line in lines if line.strip()]


class ScoreOverrideForm(forms.Form):
    total = forms.IntegerField(min_value=0, max_value=100, label="New score (0 to 100)")
    rationale = forms.CharField(
        label="Rationale",
        help_text="Why the automatic score is wrong for this offer. Both scores stay on the record.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
