"""Exports and dashboards (issue 6).

- ExportRecord: who exported which list, when, with which filter and how many rows.
- A partial index over open cases holding every column the backlog dashboard's
  open-case figures read (queue, status, owner, opened_at, sla_due_at, id), so that
  PostgreSQL answers each of them with an index-only scan. Plain key columns rather than
  INCLUDE, which SQLite does not support.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("vipcases", "0004_case_list_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ExportRecord",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("exported_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("case_list_csv", "Case list (CSV)"),
                            ("case_list_xlsx", "Case list (XLSX)"),
                            ("register_csv", "Transparency register (CSV)"),
                            ("ocds_json", "Awarded contracts (OCDS JSON)"),
                        ],
                        max_length=20,
                    ),
                ),
                (
                    "query",
                    models.CharField(
                        blank=True,
                        help_text="the filter that chose the rows, as URL parameters",
                        max_length=2000,
                    ),
                ),
                ("row_count", models.PositiveIntegerField()),
            ],
            options={
                "ordering": ["-exported_at", "-id"],
            },
        ),
        migrations.AddIndex(
            model_name="case",
            index=models.Index(
                condition=models.Q(("status", "closed"), _negated=True),
                fields=["queue", "status", "owner", "opened_at", "sla_due_at", "id"],
                name="case_open_dashboard_idx",
            ),
        ),
        migrations.AddField(
            model_name="exportrecord",
            name="exported_by",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddIndex(
            model_name="exportrecord",
            index=models.Index(fields=["-exported_at"], name="exportrecord_recent_idx"),
        ),
    ]
