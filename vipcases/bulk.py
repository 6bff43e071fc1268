"""Bulk writes that stay cheap.

update_in_groups: Django's bulk_update builds a CASE WHEN per row and field, which cost
most of the time of re-scoring and routing in batches (measured by seed_demo --cases).
Rows getting the same values are grouped into one plain UPDATE; on PostgreSQL, many
distinct values (a score per case) go in one UPDATE … FROM unnest(arrays).

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
from django.db.models.sql.subqueries import UpdateQuery

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


# More distinct value sets than this, for rows setting the same fields, and PostgreSQL
# sets them in one UPDATE … FROM unnest(…) instead of one UPDATE per set.
GROUPS_BEFORE_UNNEST = 3


def update_in_groups(model, rows: Iterable[tuple[int, dict]], **common) -> int:
    """Set each row's `values` (plus `common`, e.g. version=F("version") + 1) by primary key.

    Rows getting the same values are one `UPDATE … WHERE pk IN (…)`. Where rows set the
    same fields to many different values (scores: a hundred distinct priorities in a
    batch of 500), PostgreSQL sets them all with one `UPDATE … FROM unnest(arrays)`
    instead of one statement per distinct value (fields that are relations keep the
    grouped UPDATEs, which take model instances as .update() does)."""
    rows = list(rows)
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        return _update_grouped(model, rows, common)
    by_fields: dict[tuple, list] = defaultdict(list)
    for pk, values in rows:
        by_fields[tuple(sorted(values))].append((pk, values))
    changed = 0
    plain = not any(model._meta.get_field(name).is_relation for name in common)
    for fields, members in by_fields.items():
        distinct = {tuple(values[name] for name in fields) for _, values in members}
        if (
            plain
            and fields
            and len(distinct) > GROUPS_BEFORE_UNNEST
            and not any(model._meta.get_field(name).is_relation for name in fields)
        ):
            changed += _update_from_arrays(connection, model, fields, members, common)
        else:
            changed += _update_grouped(model, members, common)
    return changed


def _update_grouped(model, rows: list[tuple[int, dict]], common: dict) -> int:
    groups: dict[tuple, list[int]] = defaultdict(list)
    for pk, values in rows:
        groups[tuple(sorted(values.items()))].append(pk)
    changed = 0
    for values, pks in groups.items():
        changed += model.objects.filter(pk__in=pks).update(**dict(values), **common)
    return changed


def _update_from_arrays(connection, model, fields: tuple, members: list, common: dict) -> int:
    """One UPDATE setting each row's `fields` from arrays joined on the primary key, and
    `common` (values or expressions, compiled by Django as .update() would) on every row."""
    meta = model._meta
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    query = UpdateQuery(model)
    query.get_initial_alias()
    compiler = query.get_compiler(connection=connection)
    targets = [meta.pk] + [meta.get_field(name) for name in fields]
    sets, set_params = [], []
    for field in targets[1:]:
        sets.append(f"{quote(field.column)} = v.{quote(field.column)}")
    for name, value in common.items():
        field = meta.get_field(name)
        if hasattr(value, "resolve_expression"):
            resolved = value.resolve_expression(query, allow_joins=False, for_save=True)
            sql, params = compiler.compile(resolved)
        else:
            sql, params = "%s", [field.get_db_prep_save(value, connection)]
        sets.append(f"{quote(field.column)} = {sql}")
        set_params += list(params)
    arrays = [[meta.pk.get_db_prep_save(pk, connection) for pk, _ in members]]
    arrays += [
        [field.get_db_prep_save(values[name], connection) for _, values in members]
        for name, field in zip(fields, targets[1:], strict=True)
    ]
    unnest = ", ".join(f"%s::{field.db_type(connection)}[]" for field in targets)
    names = ", ".join(quote(field.column) for field in targets)
    pk = quote(meta.pk.column)
    statement = (
        f"UPDATE {table} SET {', '.join(sets)} FROM unnest({unnest}) AS v({names}) "  # noqa: S608 - names from the model
        f"WHERE {table}.{pk} = v.{pk}"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, [*set_params, *arrays])
        return cursor.rowcount


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
