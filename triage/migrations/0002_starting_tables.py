"""The starting clinical-need table (late April 2020; managers change it on
/settings/clinical-need/) and routing policy version 1.

Values are written out here rather than imported, so this migration keeps meaning
what it meant when it was written; tests/triage/test_starting_tables.py checks that
they agree with triage.scoring.DEFAULT_NEED.
"""

from decimal import Decimal

from django.db import migrations

CLINICAL_NEED = [
    # category, criticality, unmet demand (units), required standards (any one), benchmark GBP
    ("ffp3_respirator", "critical", 12_000_000, ["EN 149 FFP3"], "2.50"),
    ("ffp2_respirator", "high", 5_000_000, ["EN 149 FFP2"], "1.20"),
    ("iir_mask", "high", 150_000_000, ["EN 14683 Type IIR"], "0.30"),
    ("gown", "critical", 25_000_000, ["EN 13795", "EN 14126"], "4.50"),
    ("gloves", "high", 500_000_000, ["EN 455"], "0.08"),
    ("apron", "low", 50_000_000, [], "0.05"),
    ("eye_protection", "medium", 10_000_000, ["EN 166"], "1.50"),
    ("hand_sanitiser", "low", 2_000_000, ["EN 1500", "EN 14476"], "3.00"),
    ("body_bag", "medium", 100_000, [], "12.00"),
    ("other", "none", 0, [], None),
]

ROUTING_POLICY_V1 = {
    "version": 1,
    "rapid_threshold": 70,
    "vip_value_threshold_gbp": Decimal("250000"),
    "sla_days": {"triage": 1, "rapid_response": 2, "vip": 5, "mp_inbox": 10},
    "is_active": True,
    "rationale": "Starting policy: Rapid Response for the strongest offers on clinical need.",
}


def create(apps, schema_editor):
    ClinicalNeed = apps.get_model("triage", "ClinicalNeed")
    for category, criticality, unmet, standards, benchmark in CLINICAL_NEED:
        ClinicalNeed.objects.update_or_create(
            category=category,
            defaults={
                "criticality": criticality,
                "unmet_demand": unmet,
                "required_standards": standards,
                "benchmark_price_gbp": Decimal(benchmark) if benchmark else None,
            },
        )
    RoutingPolicy = apps.get_model("triage", "RoutingPolicy")
    if not RoutingPolicy.objects.exists():
        RoutingPolicy.objects.create(**ROUTING_POLICY_V1)


def remove(apps, schema_editor):
    apps.get_model("triage", "ClinicalNeed").objects.all().delete()
    apps.get_model("triage", "RoutingPolicy").objects.filter(version=1).delete()


class Migration(migrations.Migration):
    dependencies = [("triage", "0001_initial")]

    operations = [migrations.RunPython(create, remove)]
