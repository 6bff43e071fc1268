"""The case list at scale: indexes for its filters and sort orders, and saved filters.

- Three partial indexes over open cases, in the list's orders (work order, age, SLA
  due). Most cases are closed once the work is done, and the oldest ones first, so an
  index over every case would make "open cases, oldest first" read past all of them.
- On PostgreSQL, a trigram index on the supplier's name (pg_trgm), so the text search
  (`name ILIKE '%…%'`, which Django writes as UPPER(name) LIKE UPPER(…)) does not read
  every supplier. It is created here, with the rest of the list's indexes, rather than
  on offers.Supplier, because it only exists on PostgreSQL; where the extension cannot
  be installed the search still works, without the index.
- SavedFilter: a manager's named list URL.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import DatabaseError, migrations, models, transaction

SUPPLIER_NAME_TRGM_INDEX = "supplier_name_trgm_idx"


def supplier_name_trigram_index_create(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        installed = cursor.fetchone() is not None
    if not installed:
        try:
            with transaction.atomic(using=connection.alias):
                schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except DatabaseError as exc:
            print(f"\n  pg_trgm not installed ({exc}); supplier search runs without its index")
            return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {SUPPLIER_NAME_TRGM_INDEX} "
        "ON offers_supplier USING gin ((UPPER(name::text)) gin_trgm_ops)"
    )


def supplier_name_trigram_index_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {SUPPLIER_NAME_TRGM_INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("offers", "0001_initial"),
        ("vipcases", "0003_job_heartbeat"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="case",
            index=models.Index(
                condition=models.Q(("status", "closed"), _negated=True),
                fields=["-priority", "opened_at", "id"],
                name="case_open_work_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="case",
            index=models.Index(
                condition=models.Q(("status", "closed"), _negated=True),
                fields=["opened_at", "id"],
                name="case_open_age_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="case",
            index=models.Index(
                condition=models.Q(("status", "closed"), _negated=True),
                fields=["sla_due_at", "id"],
                name="case_open_sla_idx",
            ),
        ),
        migrations.RunPython(
            supplier_name_trigram_index_create, supplier_name_trigram_index_drop, elidable=False
        ),
        migrations.CreateModel(
            name="SavedFilter",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=100)),
                (
                    "query",
                    models.CharField(
                        blank=True,
                        help_text='URL parameters, e.g. "tab=vip&status=new"',
                        max_length=2000,
                    ),
                ),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "owner",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="saved_case_filters",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["name", "id"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("owner", "name"), name="savedfilter_owner_name_unique"
                    )
                ],
            },
        ),
    ]
