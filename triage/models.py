"""Clinical need per product category and the stored triage assessments.

An assessment keeps a snapshot of every input to the pure scoring function, so
any score can be replayed and compared later (triage/services.py).
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from vipcases.codes import Category, Criticality


class ClinicalNeed(models.Model):
    category = models.CharField(max_length=20, choices=Category.choices, unique=True)
    criticality = models.CharField(max_length=10, choices=Criticality.choices)
    unmet_demand = models.PositiveBigIntegerField(
        help_text="units needed over the planning horizon minus stock and pipeline"
    )
    required_standards = models.JSONField(
        default=list, blank=True, help_text="any one of these standards satisfies the category"
    )
    benchmark_price_gbp = models.DecimalField(
        "benchmark unit price (GBP)", max_digits=12, decimal_places=4, null=True, blank=True
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["category"]

    def __str__(self) -> str:
        return f"{self.get_category_display()}: {self.get_criticality_display()}"


class TriageAssessment(models.Model):
    """One scoring of a case: automatic (from triage/scoring.py) or a human override."""

    case = models.ForeignKey("vipcases.Case", on_delete=models.PROTECT, related_name="assessments")
    total = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    automatic_total = models.PositiveSmallIntegerField(
        help_text="the automatic score, kept beside any override"
    )
    is_override = models.BooleanField(default=False)
    rationale = models.TextField(blank=True, help_text="required for an override")
    components = models.JSONField(default=list)
    flags = models.JSONField(default=list)
    eligible = models.BooleanField()
    ineligible_reasons = models.JSONField(default=list)
    policy_version = models.CharField(max_length=50)
    inputs = models.JSONField(default=dict, help_text="snapshot of every scoring input")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["case", "-created_at"], name="assessment_case_idx")]

    def __str__(self) -> str:
        return f"Case {self.case_id}: {self.total}"


class ClinicalNeedChange(models.Model):
    """The audit trail of the clinical-need table: who changed what, when and why."""

    category = models.CharField(max_length=20, choices=Category.choices)
    before = models.JSONField()
    after = models.JSONField()
    rationale = models.TextField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    changed_at = models.DateTimeField(default=timezone.now)
    rescore_job = models.ForeignKey(
        "vipcases.BackgroundJob", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-changed_at"]

    def __str__(self) -> str:
        return f"{self.category} changed at {self.changed_at:%Y-%m-%d %H:%M}"


class RoutingPolicy(models.Model):
    """A version of the routing rules. Editing makes a new version; exactly one is active.

    The introducer appears here only in the VIP rule (who keeps the introducer
    informed, by personal handling); it never changes a score or the work order.
    """

    version = models.PositiveIntegerField(unique=True)
    rapid_threshold = models.PositiveSmallIntegerField(
        help_text="score at or above which a case goes to Rapid Response, whoever introduced it",
        validators=[MaxValueValidator(100)],
    )
    vip_value_threshold_gbp = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        help_text="offer value at or above which a VIP-introduced offer is handled personally",
    )
    sla_days = models.JSONField(help_text="working days allowed per queue")
    is_active = models.BooleanField(default=False)
    rationale = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"],
                condition=models.Q(is_active=True),
                name="one_active_routing_policy",
            )
        ]

    def __str__(self) -> str:
        return f"Routing policy v{self.version}"
