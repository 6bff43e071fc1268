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
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    total = forms.IntegerField(min_value=0, max_value=100, label="New score (0 to 100)")
    rationale = forms.CharField(
        label="Rationale",
        help_text="Why the automatic score is wrong for this offer. Both scores stay on the record.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class RoutingPolicyForm(forms.Form):
    rapid_threshold = forms.IntegerField(
        min_value=0,
        max_value=100,
        label="Rapid Response threshold (score)",
        help_text="Offers scoring at least this go to Rapid Response, whoever introduced them.",
    )
    vip_value_threshold_gbp = forms.DecimalField(
        min_value=Decimal("0"),
        max_digits=14,
        decimal_places=2,
        label="VIP value threshold (GBP)",
        help_text="Offers introduced by a minister, peer or senior official and worth at least this are handled personally.",
    )
    sla_rapid_response = forms.IntegerField(
        min_value=1, max_value=90, label="Rapid Response SLA (days)"
    )
    sla_vip = forms.IntegerField(min_value=1, max_value=90, label="VIP SLA (days)")
    sla_mp_inbox = forms.IntegerField(min_value=1, max_value=90, label="MP inbox SLA (days)")
    sla_triage = forms.IntegerField(min_value=1, max_value=90, label="Triage SLA (days)")
    rationale = forms.CharField(label="Why this change?", widget=forms.Textarea(attrs={"rows": 3}))

    SLA_FIELDS = {
        "sla_rapid_response": "rapid_response",
        "sla_vip": "vip",
        "sla_mp_inbox": "mp_inbox",
        "sla_triage": "triage",
    }

    @classmethod
    def initial_from(cls, policy) -> dict:
        initial = {
            "rapid_threshold": policy.rapid_threshold,
            "vip_value_threshold_gbp": policy.vip_value_threshold_gbp,
        }
        for name, queue in cls.SLA_FIELDS.items():
            initial[name] = policy.sla_days.get(queue, 10)
        return initial

    def policy_fields(self) -> dict:
        data = self.cleaned_data
        return {
            "rapid_threshold": data["rapid_threshold"],
            "vip_value_threshold_gbp": data["vip_value_threshold_gbp"],
            "sla_days": {queue: data[name] for name, queue in self.SLA_FIELDS.items()},
            "rationale": data["rationale"],
        }
