"""Case events: append-only and chained by hash (issue 8).

1. `prev_hash` and `hash` on every event.
2. The events already recorded are chained, case by case in id order (the order in
   which they were appended, and the order vipcases.events checks), in batches of
   cases so that a large table is never held in memory.
3. A unique constraint on (case, prev_hash), so a forked chain is refused, and a check
   that every event has its hash.
4. Last, triggers that refuse UPDATE and DELETE on the events table: they come after
   the backfill, which updates every row. PostgreSQL: one plpgsql row trigger raising
   an integrity error. SQLite: a BEFORE UPDATE and a BEFORE DELETE trigger, each
   RAISE(ABORT). TRUNCATE (PostgreSQL) is not refused: the test framework empties
   tables with it, and it needs the table's owner, which the application's role should
   not be in production (README, "Audit trail").

The hash is computed by vipcases.events.event_hash, imported rather than copied: it is
the definition every event is checked against, and a copy could drift from it. A later
change to it must keep the old events verifiable (a version marker), so this import
stays valid.

Any later migration that rewrites rows of this table must drop the triggers first and
put them back after. On SQLite, a migration that remakes the table (most AlterField
and constraint changes) drops its triggers: it must create them again
(`verify_events` reports them missing).
"""

import django.db.models.functions.text
import django.db.models.lookups
from django.db import migrations, models

from vipcases.events import HASHED_FIELDS, event_hash

CASES_PER_BATCH = 1_000

TABLE = "vipcases_caseevent"

POSTGRESQL_CREATE = [
    """
    CREATE FUNCTION vipcases_caseevent_refuse_change() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'case events are append-only: % of event % refused', TG_OP, OLD.id
            USING ERRCODE = 'integrity_constraint_violation',
                  HINT = 'Record a new event instead (vipcases.events.event_append).';
    END;
    $$
    """,
    f"""
    CREATE TRIGGER caseevent_append_only
    BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION vipcases_caseevent_refuse_change()
    """,
]
POSTGRESQL_DROP = [
    f"DROP TRIGGER IF EXISTS caseevent_append_only ON {TABLE}",
    "DROP FUNCTION IF EXISTS vipcases_caseevent_refuse_change()",
]

SQLITE_CREATE = [
    f"""
    CREATE TRIGGER caseevent_no_update BEFORE UPDATE ON {TABLE}
    BEGIN
        SELECT RAISE(ABORT, 'case events are append-only: UPDATE refused');
    END
    """,
    f"""
    CREATE TRIGGER caseevent_no_delete BEFORE DELETE ON {TABLE}
    BEGIN
        SELECT RAISE(ABORT, 'case events are append-only: DELETE refused');
    END
    """,
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS caseevent_no_update",
    "DROP TRIGGER IF EXISTS caseevent_no_delete",
]


def chain_existing_events(apps, schema_editor):
    Case = apps.get_model("vipcases", "Case")
    CaseEvent = apps.get_model("vipcases", "CaseEvent")
    db = schema_editor.connection.alias
    last_case_id = 0
    while True:
        case_ids = list(
            Case.objects.using(db)
            .filter(pk__gt=last_case_id)
            .order_by("pk")
            .values_list("pk", flat=True)[:CASES_PER_BATCH]
        )
        if not case_ids:
            return
        last_case_id = case_ids[-1]
        rows = (
            CaseEvent.objects.using(db)
            .filter(case_id__in=case_ids)
            .order_by("case_id", "id")
            .values("id", *HASHED_FIELDS)
        )
        changes, chain_case, prev = [], None, ""
        for row in rows:
            if row["case_id"] != chain_case:
                chain_case, prev = row["case_id"], ""
            digest = event_hash(**{name: row[name] for name in HASHED_FIELDS}, prev_hash=prev)
            changes.append((prev, digest, row["id"]))
            prev = digest
        if changes:
            with schema_editor.connection.cursor() as cursor:
                cursor.executemany(
                    f"UPDATE {TABLE} SET prev_hash = %s, hash = %s WHERE id = %s",  # noqa: S608 - constant table name
                    changes,
                )


def _run(schema_editor, statements_by_vendor: dict) -> None:
    statements = statements_by_vendor.get(schema_editor.connection.vendor, [])
    with schema_editor.connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)  # no parameters: '%' in the plpgsql is literal


def triggers_create(apps, schema_editor):
    _run(schema_editor, {"postgresql": POSTGRESQL_CREATE, "sqlite": SQLITE_CREATE})


def triggers_drop(apps, schema_editor):
    _run(schema_editor, {"postgresql": POSTGRESQL_DROP, "sqlite": SQLITE_DROP})


class Migration(migrations.Migration):
    dependencies = [
        ("vipcases", "0005_exports_and_dashboard_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="caseevent",
            name="prev_hash",
            field=models.CharField(
                blank=True,
                default="",
                editable=False,
                help_text="hash of the event before this one on the same case; empty for the first",
                max_length=64,
            ),
        ),
        migrations.AddField(
            model_name="caseevent",
            name="hash",
            field=models.CharField(
                default="",
                editable=False,
                help_text="SHA-256 of this event's content and prev_hash",
                max_length=64,
            ),
            preserve_default=False,
        ),
        migrations.RunPython(chain_existing_events, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="caseevent",
            constraint=models.UniqueConstraint(
                fields=("case", "prev_hash"), name="caseevent_chain_unique"
            ),
        ),
        migrations.AddConstraint(
            model_name="caseevent",
            constraint=models.CheckConstraint(
                condition=django.db.models.lookups.Exact(
                    django.db.models.functions.text.Length("hash"), 64
                ),
                name="caseevent_hash_present",
            ),
        ),
        migrations.RunPython(triggers_create, triggers_drop),
    ]
