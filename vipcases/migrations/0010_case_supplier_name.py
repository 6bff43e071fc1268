"""The supplier's name on the case, kept there by the database, for the case list's search.

Searching open cases for a supplier's name ("kestrel") had to find every supplier whose
name matched, then all their offers, then which of those were open cases: at a million
cases "kestrel" matched 3,897 suppliers and 11,600 offers for 531 open cases, and the
list page's two queries took 190 ms whichever plan PostgreSQL chose. With the name on
the case, a trigram index over open cases finds those 531 directly; another over every
case serves the Closed tab.

The copy is the database's own business: triggers set it when a case is written (so
every writer, the ORM, COPY and the intake API's SQL alike, gets it for nothing), and
carry a supplier's new name, or an offer's new supplier, to the cases. A value written
to the column from outside is replaced by the supplier's name. On SQLite the same
triggers keep it (a later migration that makes SQLite rebuild vipcases_case drops them,
as it drops those of 0006: recreate them there). The trigram indexes are PostgreSQL's,
and made only where pg_trgm is installed (migration 0004 installs it when it can).
"""

from django.db import migrations, models

POSTGRESQL_CREATE = [
    """
    UPDATE vipcases_case c SET supplier_name = s.name
    FROM offers_offer o JOIN offers_supplier s ON s.id = o.supplier_id
    WHERE o.id = c.offer_id
    """,
    """
    CREATE FUNCTION vipcases_case_supplier_name() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        NEW.supplier_name := COALESCE((
            SELECT s.name FROM offers_offer o JOIN offers_supplier s ON s.id = o.supplier_id
            WHERE o.id = NEW.offer_id
        ), '');
        RETURN NEW;
    END;
    $$
    """,
    """
    CREATE TRIGGER case_supplier_name_insert BEFORE INSERT ON vipcases_case
    FOR EACH ROW EXECUTE FUNCTION vipcases_case_supplier_name()
    """,
    """
    CREATE TRIGGER case_supplier_name_update BEFORE UPDATE OF offer_id, supplier_name
    ON vipcases_case FOR EACH ROW
    WHEN (NEW.offer_id IS DISTINCT FROM OLD.offer_id
          OR NEW.supplier_name IS DISTINCT FROM OLD.supplier_name)
    EXECUTE FUNCTION vipcases_case_supplier_name()
    """,
    """
    CREATE FUNCTION offers_supplier_name_to_cases() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE vipcases_case c SET supplier_name = NEW.name
        FROM offers_offer o WHERE o.supplier_id = NEW.id AND c.offer_id = o.id;
        RETURN NULL;
    END;
    $$
    """,
    """
    CREATE TRIGGER supplier_name_to_cases AFTER UPDATE OF name ON offers_supplier
    FOR EACH ROW WHEN (NEW.name IS DISTINCT FROM OLD.name)
    EXECUTE FUNCTION offers_supplier_name_to_cases()
    """,
    """
    CREATE FUNCTION offers_offer_supplier_to_case() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE vipcases_case SET supplier_name = '' WHERE offer_id = NEW.id;
        RETURN NULL;
    END;
    $$
    """,
    # The case's own trigger looks the new supplier's name up (any value it is given
    # that is not that name is replaced).
    """
    CREATE TRIGGER offer_supplier_to_case AFTER UPDATE OF supplier_id ON offers_offer
    FOR EACH ROW WHEN (NEW.supplier_id IS DISTINCT FROM OLD.supplier_id)
    EXECUTE FUNCTION offers_offer_supplier_to_case()
    """,
]
POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS offer_supplier_to_case ON offers_offer",
    "DROP FUNCTION IF EXISTS offers_offer_supplier_to_case()",
    "DROP TRIGGER IF EXISTS supplier_name_to_cases ON offers_supplier",
    "DROP FUNCTION IF EXISTS offers_supplier_name_to_cases()",
    "DROP TRIGGER IF EXISTS case_supplier_name_update ON vipcases_case",
    "DROP TRIGGER IF EXISTS case_supplier_name_insert ON vipcases_case",
    "DROP FUNCTION IF EXISTS vipcases_case_supplier_name()",
]
# Django writes icontains as UPPER("supplier_name"::text) LIKE UPPER(%s): the indexes
# are on that expression, as supplier_name_trgm_idx is on the supplier's (0004).
TRIGRAM_INDEXES = [
    """
    CREATE INDEX IF NOT EXISTS case_supplier_name_trgm_idx ON vipcases_case
    USING gin ((UPPER(supplier_name::text)) gin_trgm_ops)
    """,
    """
    CREATE INDEX IF NOT EXISTS case_open_supplier_name_trgm_idx ON vipcases_case
    USING gin ((UPPER(supplier_name::text)) gin_trgm_ops) WHERE NOT (status = 'closed')
    """,
]
TRIGRAM_INDEXES_DROP = [
    "DROP INDEX IF EXISTS case_open_supplier_name_trgm_idx",
    "DROP INDEX IF EXISTS case_supplier_name_trgm_idx",
]

SQLITE_CREATE = [
    """
    UPDATE vipcases_case SET supplier_name = COALESCE((
        SELECT s.name FROM offers_offer o JOIN offers_supplier s ON s.id = o.supplier_id
        WHERE o.id = vipcases_case.offer_id
    ), '')
    """,
    """
    CREATE TRIGGER case_supplier_name_insert AFTER INSERT ON vipcases_case
    BEGIN
        UPDATE vipcases_case SET supplier_name = COALESCE((
            SELECT s.name FROM offers_offer o JOIN offers_supplier s ON s.id = o.supplier_id
            WHERE o.id = NEW.offer_id
        ), '') WHERE id = NEW.id;
    END
    """,
    """
    CREATE TRIGGER case_supplier_name_update AFTER UPDATE OF offer_id, supplier_name
    ON vipcases_case WHEN NEW.supplier_name IS NOT COALESCE((
        SELECT s.name FROM offers_offer o JOIN offers_supplier s ON s.id = o.supplier_id
        WHERE o.id = NEW.offer_id
    ), '')
    BEGIN
        UPDATE vipcases_case SET supplier_name = COALESCE((
            SELECT s.name FROM offers_offer o JOIN offers_supplier s ON s.id = o.supplier_id
            WHERE o.id = NEW.offer_id
        ), '') WHERE id = NEW.id;
    END
    """,
    """
    CREATE TRIGGER supplier_name_to_cases AFTER UPDATE OF name ON offers_supplier
    WHEN NEW.name IS NOT OLD.name
    BEGIN
        UPDATE vipcases_case SET supplier_name = NEW.name
        WHERE offer_id IN (SELECT id FROM offers_offer WHERE supplier_id = NEW.id);
    END
    """,
    """
    CREATE TRIGGER offer_supplier_to_case AFTER UPDATE OF supplier_id ON offers_offer
    WHEN NEW.supplier_id IS NOT OLD.supplier_id
    BEGIN
        UPDATE vipcases_case
        SET supplier_name = COALESCE((SELECT name FROM offers_supplier
                                      WHERE id = NEW.supplier_id), '')
        WHERE offer_id = NEW.id;
    END
    """,
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS offer_supplier_to_case",
    "DROP TRIGGER IF EXISTS supplier_name_to_cases",
    "DROP TRIGGER IF EXISTS case_supplier_name_update",
    "DROP TRIGGER IF EXISTS case_supplier_name_insert",
]


def run_statements(connection, statements_by_vendor: dict) -> None:
    with connection.cursor() as cursor:
        for sql in statements_by_vendor.get(connection.vendor, []):
            cursor.execute(sql)  # no parameters: '%' in the SQL is literal


def _pg_trgm_installed(connection) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        return cursor.fetchone() is not None


def forwards(apps, schema_editor):
    connection = schema_editor.connection
    run_statements(connection, {"postgresql": POSTGRESQL_CREATE, "sqlite": SQLITE_CREATE})
    if connection.vendor == "postgresql" and _pg_trgm_installed(connection):
        run_statements(connection, {"postgresql": TRIGRAM_INDEXES})


def backwards(apps, schema_editor):
    run_statements(
        schema_editor.connection,
        {"postgresql": TRIGRAM_INDEXES_DROP + POSTGRESQL_DROP, "sqlite": SQLITE_DROP},
    )


class Migration(migrations.Migration):
    dependencies = [
        ("offers", "0003_offer_supplier_idx"),
        ("vipcases", "0009_caseevent_chain_order_idx"),
    ]

    operations = [
        migrations.AddField(
            model_name="case",
            name="supplier_name",
            field=models.CharField(
                blank=True,
                default="",
                editable=False,
                help_text=(
                    "the supplier's name, kept by database triggers (migration 0010) for "
                    "the case list's search; never written by the application"
                ),
                max_length=200,
            ),
        ),
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
