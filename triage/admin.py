from django.contrib import admin

from triage.models import ClinicalNeed, TriageAssessment
from vipcases.admin import ReadOnlyAdmin


@admin.register(ClinicalNeed)
class ClinicalNeedAdmin(ReadOnlyAdmin):
    """Edited on /settings/clinical-need/ so that every change is audited and re-scores."""

    list_display = ["category", "criticality", "unmet_demand", "benchmark_price_gbp", "updated_at"]


@admin.register(TriageAssessment)
class TriageAssessmentAdmin(ReadOnlyAdmin):
    list_display = [
        "case",
        "total",
        "automatic_total",
        "is_override",
        "policy_version",
        "created_at",
    ]
    list_filter = ["is_override", "policy_version"]
    raw_id_fields = ["case", "created_by"]
    show_full_result_count = False
