"""Bulk writes that stay cheap.

update_in_groups: Django's bulk_update builds a CASE WHEN per row and field, which cost
most of the time of re-scoring and routing in batches (measured by seed_demo --cases).
Batches here set few distinct values (a queue, a score), so grouping rows by their new
values needs a handful of plain UPDATEs instead.

insert_all: bulk_create's rows, copied in with COPY on PostgreSQL.

execute_prepared: a statement run as a server-side prepared statement on PostgreSQL,
for the few hot statements whose planning cost as much as running them.
"""

import functools
import time
from collections import defaultdict
from collections.abc import Iterable

import psycopg
from django.db import connections, router, transaction

# Fields whose Python value PostgreSQL's COPY takes as it is (psycopg converts it); any
# other goes through the field's pre_save and get_db_prep_save (JSON, auto_now_add).
_PLAIN = {
    "BigAutoField",
    "AutoField",
    "BigIntegerField",
    "BooleanField",
    "CharField",
    "DecimalField",
    "ForeignKey",
    "IntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "SmallIntegerField",
    "TextField",
}


# `count` new ids from the sequence of a table's primary key (params: table, column,
# count), ascending. The sequence's name is looked up once, not once per id (five times
# slower). Used by insert_all, the import's COPY (offers/intake_copy.py) and events.
NEXTVALS = (
    "WITH q AS MATERIALIZED (SELECT pg_get_serial_sequence(%s, %s)::regclass AS s) "
    "SELECT nextval(q.s) FROM q, generate_series(1, %s)"
)


@functools.lru_cache(maxsize=64)
def _numbered(statement: str) -> str:
    """The statement with PostgreSQL's $1, $2… for its %s placeholders."""
    parts = statement.split("%s")
    return "".join(f"{part}${n}" for n, part in enumerate(parts[:-1], 1)) + parts[-1]


def execute_prepared(connection, statement: str, params) -> list[tuple]:
    """Run `statement` (%s placeholders) on a PostgreSQL connection as a prepared
    statement with server-side parameters, in the caller's transaction; its rows.

    Django's cursors bind parameters on the client and never prepare, so PostgreSQL
    parses and plans every statement afresh. For a statement run on every request
    that costs as much as running it. Prepared, it is planned once per connection and
    kept (the connection settings in vipcases/settings.py: psycopg's prepare_threshold,
    and plan_cache_mode = force_generic_plan). Use it only where the generic plan is
    the plan: parameters that are values to insert or keys to look up. A pooler in
    front of PostgreSQL must keep prepared statements per client (docs/adr/0007).

    Errors are Django's (IntegrityError…), as from Django's cursor, and the statement
    is in Django's query log when that is kept (DEBUG, CaptureQueriesContext), with
    its parameters bound into it as Django's own cursor would show them."""
    connection.ensure_connection()
    start = time.monotonic()
    with connection.wrap_database_errors, psycopg.RawCursor(connection.connection) as cursor:
        cursor.execute(_numbered(statement), params, prepare=True)
        rows = cursor.fetchall()
    if connection.queries_logged:
        connection.queries_log.append(
            {
                "sql": connection.ops.compose_sql(statement, params),
                "time": f"{time.monotonic() - start:.3f}",
            }
        )
    return rows


def _plain(field) -> bool:
    kind = field.get_internal_type()
    if kind in ("DateTimeField", "DateField"):
        return not (field.auto_now or field.auto_now_add)
    return kind in _PLAIN


def update_in_groups(model, rows: Iterable[tuple[int, dict]], **common) -> int:
    """Set each row's `values` (plus `common`, e.g. version=F("version") + 1) by primary key."""
    groups: dict[tuple, list[int]] = defaultdict(list)
    for pk, values in rows:
        groups[tuple(sorted(values.items()))].append(pk)
    changed = 0
    for values, pks in groups.items():
        changed += model.objects.filter(pk__in=pks).update(**dict(values), **common)
    return changed


def insert_all(model, objs: list, *, batch_size: int = 1_000) -> list:
    """Save new model instances, as `bulk_create` does, and give them their ids.

    On PostgreSQL the ids are taken from the table's sequence first (one query) and the
    rows copied in with COPY, whose values psycopg converts in C: bulk_create's per-value
    preparation and SQL building cost most of the time of writing a million demo cases.
    The rows are the ones bulk_create writes: fields' pre_save (auto_now_add) runs, and
    ids follow list order. Elsewhere (SQLite) it is bulk_create."""
    if not objs:
        return objs
    alias = router.db_for_write(model)
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return model.objects.bulk_create(objs, batch_size=batch_size)
    meta = model._meta
    fields = meta.concrete_fields
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    convert = [f.attname if _plain(f) else f for f in fields]
    for obj in objs:
        # As bulk_create: a foreign key to an object saved since takes that object's id.
        obj._prepare_related_fields_for_save(operation_name="insert_all")
    with transaction.atomic(using=alias, savepoint=False), connection.cursor() as cursor:
        missing = [obj for obj in objs if obj.pk is None]
        if missing:
            cursor.execute(NEXTVALS, [meta.db_table, meta.pk.column, len(missing)])
            for obj, pk in zip(missing, sorted(pk for (pk,) in cursor.fetchall()), strict=True):
                obj.pk = pk
        # The psycopg cursor under Django's wrapper; its errors become Django's, as a
        # query's do (IntegrityError, not psycopg's UniqueViolation).
        with (
            connection.wrap_database_errors,
            cursor.cursor.copy(
                f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN"  # noqa: S608 - names from the model
            ) as copy,
        ):
            for obj in objs:
                copy.write_row(
                    [
                        getattr(obj, how)
                        if isinstance(how, str)
                        else how.get_db_prep_save(how.pre_save(obj, True), connection)
                        for how in convert
                    ]
                )
    for obj in objs:
        obj._state.adding = False
        obj._state.db = alias
    return objs
