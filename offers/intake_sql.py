"""One validated offer written in one SQL statement: the intake API's write on PostgreSQL.

`intakes_write` (offers.services) writes any number of offers with the ORM in about ten
statements; for the API's one offer a request most of its time went into compiling
them. `intake_offer_insert` writes exactly the same rows with one statement of
data-modifying CTEs (supplier and introducer found or created, offer, lines,
introduction, case, and the possible duplicates read back), then the case events
through vipcases.events.events_append, like intakes_write.

The row values come from the same model instances intakes_write saves (the
`intake_*_row` builders in offers.services), turned into column values by each field's
own `pre_save` and `get_db_prep_save`, as bulk_create does: defaults, auto_now_add and
JSON encoding cannot drift apart. tests/offers/test_intake_sql.py compares the two.

Guarantees are intakes_write's: in the caller's transaction, nothing half-saved (one
statement), IntegrityError when external_ref is already recorded (the unique index
decides, even against a request running at the same moment).
"""

import functools

from django.db import connection
from django.utils import timezone

from offers.models import Introducer, Introduction, Offer, OfferLine, Supplier
from offers.services import (
    intake_case_events,
    intake_case_row,
    intake_introduction_row,
    intake_line_rows,
    intake_offer_row,
)
from vipcases.bulk import execute_prepared
from vipcases.codes import Status


def intake_sql_supported(intake) -> bool:
    """Whether intake_offer_insert can write this offer (PostgreSQL, one introduction at
    most, as the API accepts); otherwise use intakes_write."""
    return connection.vendor == "postgresql" and len(intake.introductions) <= 1


@functools.cache
def _columns(model, computed: tuple[str, ...]) -> tuple[list, str, list[str]]:
    """The fields bulk_create would insert that the caller gives values for, the column
    list, and a typed placeholder per given field (typed, since they appear in SELECT
    and VALUES lists where PostgreSQL cannot infer the type)."""
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    given = [f for f in fields if f.column not in computed]
    columns = ", ".join(
        connection.ops.quote_name(f.column)
        for f in given + [f for c in computed for f in fields if f.column == c]
    )
    return given, columns, [f"%s::{f.db_type(connection)}" for f in given]


def _values(fields, obj) -> list:
    return [f.get_db_prep_save(f.pre_save(obj, add=True), connection) for f in fields]


def _insert(model, obj, computed: dict[str, str], *, where: str = "", returning: str = "id"):
    """`INSERT … SELECT` of obj, with the columns in `computed` set by SQL expressions."""
    fields, columns, placeholders = _columns(model, tuple(computed))
    select = ", ".join(placeholders + list(computed.values()))
    sql = (
        f"INSERT INTO {model._meta.db_table} ({columns}) SELECT {select}{where} "
        f"RETURNING {returning}"
    )
    return sql, _values(fields, obj)


def _found_or_created(name: str, model, obj, match: dict) -> tuple[str, list]:
    """CTEs `<name>` (the id): the first row (lowest id) matching `match`, else obj saved."""
    table = model._meta.db_table
    conditions = " AND ".join(f"{connection.ops.quote_name(c)} = %s" for c in match)
    insert, params = _insert(model, obj, {}, where=f" WHERE NOT EXISTS (SELECT FROM {name}_found)")
    sql = (
        f"{name}_found AS (SELECT id FROM {table} WHERE {conditions} ORDER BY id LIMIT 1), "  # noqa: S608
        f"{name}_new AS ({insert}), "
        f"{name} AS (SELECT id FROM {name}_found UNION ALL SELECT id FROM {name}_new)"
    )
    return sql, [*match.values(), *params]


def _lines_insert(lines) -> tuple[str, list]:
    """The lines in one INSERT, in order (their ids follow the order, as bulk_create's)."""
    fields, columns, placeholders = _columns(OfferLine, ("offer_id",))
    names = ", ".join(f"c{i}" for i in range(len(fields)))
    rows = ", ".join(f"({n}, {', '.join(placeholders)})" for n in range(len(lines)))
    sql = (
        f"INSERT INTO {OfferLine._meta.db_table} ({columns}) "  # noqa: S608
        f"SELECT {names}, (SELECT id FROM offer) FROM (VALUES {rows}) AS v(n, {names}) "
        "ORDER BY n RETURNING id"
    )
    return sql, [value for line in lines for value in _values(fields, line)]


def _execute(statement: str, params: list) -> tuple:
    """The statement's one row, run prepared (vipcases.bulk.execute_prepared): planned
    afresh it cost more than it ran (pg_stat_statements under api_bench: 1.0 ms planning
    against 0.9 ms running a call). Every parameter here is a value to insert or a key
    to look up, and the statement fixes the look-ups' order, so the generic plan is the
    plan."""
    return execute_prepared(connection, statement, params)[0]


def intake_offer_insert(*, acting_user, intake, api_token=None):
    """Write one validated offer (an intake.OfferIntake) in the caller's transaction: the
    rows intakes_write([intake]) writes, in one statement plus the events' insert.
    Raises IntegrityError when external_ref is already recorded. Returns the Case
    (with .offer and .duplicates_linked). Triage is the caller's to enqueue."""
    from vipcases.events import events_append
    from vipcases.models import Case

    now = timezone.now()
    ctes, params = [], []

    supplier = Supplier(**vars(intake.supplier))
    if supplier.company_number:
        match = {"company_number": supplier.company_number}
    else:
        match = {"name": supplier.name, "country": supplier.country}
    sql, values = _found_or_created("supplier", Supplier, supplier, match)
    ctes.append(sql)
    params += values

    introduction_input = intake.introductions[0] if intake.introductions else None
    if introduction_input is not None:
        introducer = Introducer(
            name=introduction_input.name,
            role=introduction_input.role,
            office=introduction_input.office,
        )
        match = {"name": introducer.name, "role": introducer.role, "office": introducer.office}
        sql, values = _found_or_created("introducer", Introducer, introducer, match)
        ctes.append(sql)
        params += values

    offer = intake_offer_row(intake, supplier=None, acting_user=acting_user, api_token=api_token)
    sql, values = _insert(
        Offer, offer, {"supplier_id": "(SELECT id FROM supplier)"}, returning="id, supplier_id"
    )
    ctes.append(f"offer AS ({sql})")
    params += values

    sql, values = _lines_insert(intake_line_rows(intake, offer=offer))
    ctes.append(f"line AS ({sql})")
    params += values

    if introduction_input is not None:
        row = intake_introduction_row(
            intake, introduction_input, offer=offer, introducer=None, acting_user=acting_user
        )
        sql, values = _insert(
            Introduction,
            row,
            {"offer_id": "(SELECT id FROM offer)", "introducer_id": "(SELECT id FROM introducer)"},
        )
        ctes.append(f"introduction AS ({sql})")
        params += values

    case = intake_case_row(intake, offer=offer)
    sql, values = _insert(Case, case, {"offer_id": "(SELECT id FROM offer)"})
    ctes.append(f"new_case AS ({sql})")
    params += values

    # The possible duplicates as intakes_write finds them: open cases of the same
    # supplier with a line in one of the same categories, opened before this one. The
    # statement's snapshot does not include the rows it inserts.
    #
    # The supplier's offers drive the look-up, each probed for an open case and a line
    # in the categories. OFFSET 0 keeps the planner from flattening the lateral
    # subquery, so that order holds even when the statistics are stale (a new database,
    # a burst of intake before autovacuum's next ANALYZE): joined freely, the planner
    # once started from every line of the category and took 18 ms at 3,000 offers,
    # growing with each offer, where the supplier's handful of offers take 0.05 ms.
    duplicates = (
        f"ARRAY(SELECT c.id FROM {Offer._meta.db_table} o "  # noqa: S608
        f"CROSS JOIN LATERAL (SELECT c.id FROM {Case._meta.db_table} c "
        "WHERE c.offer_id = o.id AND c.status <> %s AND c.id < (SELECT id FROM new_case) "
        f"AND EXISTS (SELECT FROM {OfferLine._meta.db_table} l "
        "WHERE l.offer_id = o.id AND l.category = ANY(%s)) OFFSET 0) c "
        "WHERE o.supplier_id = (SELECT supplier_id FROM offer) ORDER BY c.id)"
    )
    params += [Status.CLOSED.value, sorted({line.category for line in intake.lines})]
    statement = (
        f"WITH {', '.join(ctes)} SELECT (SELECT id FROM offer), (SELECT supplier_id FROM offer), "  # noqa: S608
        f"(SELECT id FROM new_case), {duplicates}"
    )
    offer.pk, offer.supplier_id, case.pk, earlier = _execute(statement, params)
    case.offer_id = offer.pk
    case.offer = offer
    # The case was created above, in this transaction: no earlier events to chain to.
    events_append(
        intake_case_events(case, set(earlier), acting_user=acting_user, now=now), new_cases=True
    )
    return case
