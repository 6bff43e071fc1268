"""Keep on each case the two facts the fairness report and the dashboard group by: the
most senior introducer's role, and the queue the latest routing decision chose.
Existing cases are filled in from their introductions and `routed` events."""

from django.db import migrations, models

SENIORITY = ("minister", "peer", "senior_official", "mp", "other")
_RANK = " ".join(f"WHEN '{role}' THEN {rank}" for rank, role in enumerate(SENIORITY))

FILL_LEAD_ROLE = f"""
UPDATE vipcases_case SET lead_introducer_role = COALESCE((
    SELECT ir.role FROM offers_introduction it
    JOIN offers_introducer ir ON ir.id = it.introducer_id
    WHERE it.offer_id = vipcases_case.offer_id
    ORDER BY CASE ir.role {_RANK} ELSE 99 END
    LIMIT 1
), '')
"""  # noqa: S608 - constants only
FILL_ROUTED_QUEUE = """
UPDATE vipcases_case SET routed_queue = COALESCE((
    SELECT e.to_value FROM vipcases_caseevent e
    WHERE e.case_id = vipcases_case.id AND e.kind = 'routed'
    ORDER BY e.created_at DESC, e.id DESC
    LIMIT 1
), '')
"""


class Migration(migrations.Migration):
    dependencies = [
        ("offers", "0002_intake_api_and_import"),
        ("vipcases", "0006_event_chain"),
    ]

    operations = [
        migrations.AddField(
            model_name="case",
            name="lead_introducer_role",
            field=models.CharField(
                blank=True,
                choices=[
                    ("minister", "Minister"),
                    ("mp", "MP"),
                    ("peer", "Peer"),
                    ("senior_official", "Senior official"),
                    ("other", "Other"),
                ],
                editable=False,
                max_length=20,
            ),
        ),
        migrations.AddField(
            model_name="case",
            name="routed_queue",
            field=models.CharField(
                blank=True,
                choices=[
                    ("triage", "Triage"),
                    ("vip", "VIP"),
                    ("rapid_response", "Rapid Response"),
                    ("mp_inbox", "MP inbox"),
                    ("closed", "Closed"),
                ],
                editable=False,
                max_length=20,
            ),
        ),
        migrations.RunSQL(FILL_LEAD_ROLE, migrations.RunSQL.noop),
        migrations.RunSQL(FILL_ROUTED_QUEUE, migrations.RunSQL.noop),
    ]
