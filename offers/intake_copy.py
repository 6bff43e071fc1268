"""Many validated offers written with COPY: the spreadsheet import's write on PostgreSQL.

`intakes_write` (offers.services) writes any number of offers with the ORM's
bulk_create; at 100,000 rows most of its time went into building a model instance per
row and preparing every value of every row through its field. `intakes_copy` writes
exactly the same rows (offers_import_bulk uses it on PostgreSQL): the ids of the new
rows are taken from the tables' sequences first (one query), so that every table's rows
go in with one COPY each and nothing needs reading back; the possible duplicates are
found by one query and the case events are chained and appended by
vipcases.events.events_append, as intakes_write does.

Row values: the columns the builders of offers.services (`intake_offer_row`,
`intake_line_rows`, `intake_introduction_row`, `intake_case_row`, `intake_case_events`)
set from each offer are computed here as they compute them; every other column (the
acting user, defaults, auto_now_add) is the same for every row of a batch and is taken
from one instance the builder makes, turned into its database value by the field itself
(pre_save, get_db_prep_save), as bulk_create does. tests/offers/test_intake_copy.py
compares what the two write.

Guarantees are intakes_write's: in the caller's transaction; IntegrityError (Django's)
when an external_ref is already recorded.
"""

import json
import operator
from dataclasses import fields as dataclass_fields

from django.db import connections, router
from django.utils import timezone

from offers.models import Introducer, Introduction, Offer, OfferLine, Supplier
from offers.money import offer_value_gbp
from offers.services import (
    LineInput,
    duplicate_link_data,
    intake_case_events,
    intake_case_row,
    intake_introduction_row,
    intake_line_rows,
    intake_offer_row,
    supplier_key,
)
from vipcases.bulk import NEXTVALS
from vipcases.codes import Status, lead_introducer_role


def intakes_copy_supported() -> bool:
    """Whether the database offers write to is PostgreSQL (else use intakes_write)."""
    return connections[router.db_for_write(Offer)].vendor == "postgresql"


class _Table:
    """COPY of one model's rows: the `given` columns (attnames) from each row, then every
    other concrete column, the same for all rows, from the `template` instance."""

    def __init__(self, connection, model, given: tuple[str, ...], template):
        concrete = model._meta.concrete_fields
        by_attname = {f.attname: f for f in concrete}
        unknown = [name for name in given if name not in by_attname]
        if unknown:
            raise ValueError(f"{model.__name__} has no columns {unknown}")
        rest = [f for f in concrete if f.attname not in given]
        self.constants = tuple(
            f.get_db_prep_save(f.pre_save(template, add=True), connection) for f in rest
        )
        quote = connection.ops.quote_name
        columns = [by_attname[name].column for name in given] + [f.column for f in rest]
        self.sql = "COPY {} ({}) FROM STDIN".format(
            quote(model._meta.db_table), ", ".join(quote(c) for c in columns)
        )

    def copy(self, cursor, rows) -> None:
        constants = self.constants
        with cursor.copy(self.sql) as copy:
            write = copy.write_row
            for row in rows:
                write(row + constants)


def _sequence_ids(cursor, counts: dict) -> dict:
    """model -> that many new ids from its primary key's sequence, ascending."""
    selects, params = [], []
    for model, count in counts.items():
        selects.append(f"ARRAY({NEXTVALS})")
        params += [model._meta.db_table, model._meta.pk.column, count]
    cursor.execute(f"SELECT {', '.join(selects)}", params)
    return {model: sorted(ids) for model, ids in zip(counts, cursor.fetchone(), strict=True)}


def _first_ids(cursor, sql: str, params: list) -> dict:
    """key (all but the last column) -> the id (last column) of the first row."""
    found: dict = {}
    cursor.execute(sql, params)
    for *key, pk in cursor.fetchall():
        found.setdefault(tuple(key), pk)
    return found


# A line's columns as LineInput names them (OfferLine(**vars(line))), the JSON list of
# standards apart: COPY takes it as JSON text.
LINE_COLUMNS = tuple(f.name for f in dataclass_fields(LineInput) if f.name != "standards")
LINE_VALUES = operator.attrgetter(*LINE_COLUMNS)


def intakes_copy(*, acting_user, intakes: list) -> tuple[list[int], int]:
    """Write validated offers (intake.OfferIntake) in the caller's transaction: the rows
    intakes_write writes. Returns the new cases' ids, in order, and how many of them
    were linked to a possible duplicate."""
    from offers.intake import SupplierInput
    from vipcases.events import HASHED_FIELDS, EventValues, events_append_values
    from vipcases.models import Case

    if not intakes:
        return [], 0
    connection = connections[router.db_for_write(Offer)]
    now = timezone.now()
    supplier_fields = tuple(f.name for f in dataclass_fields(SupplierInput))
    first = intakes[0]

    with connection.cursor() as cursor, connection.wrap_database_errors:
        raw = cursor.cursor
        # Suppliers and introducers found, as intakes_write finds them (the lowest id).
        wanted: dict = {}
        for intake in intakes:
            wanted.setdefault(supplier_key(intake.supplier), intake.supplier)
        numbers = [k[1] for k in wanted if k[0] == "number"]
        names = list({k[1] for k in wanted if k[0] == "name"})
        suppliers: dict = {}
        if numbers:
            for (number,), pk in _first_ids(
                raw,
                f"SELECT company_number, id FROM {Supplier._meta.db_table} "  # noqa: S608
                "WHERE company_number = ANY(%s) ORDER BY id",
                [numbers],
            ).items():
                suppliers[("number", number)] = pk
        if names:
            for (name, country), pk in _first_ids(
                raw,
                f"SELECT name, country, id FROM {Supplier._meta.db_table} "  # noqa: S608
                "WHERE name = ANY(%s) ORDER BY id",
                [names],
            ).items():
                if ("name", name, country) in wanted:
                    suppliers[("name", name, country)] = pk
        new_suppliers = [k for k in wanted if k not in suppliers]

        people = {(i.name, i.role, i.office) for intake in intakes for i in intake.introductions}
        introducers: dict = {}
        if people:
            introducers = {
                key: pk
                for key, pk in _first_ids(
                    raw,
                    f"SELECT name, role, office, id FROM {Introducer._meta.db_table} "  # noqa: S608
                    "WHERE name = ANY(%s) ORDER BY id",
                    [list({k[0] for k in people})],
                ).items()
                if key in people
            }
        new_introducers = sorted(k for k in people if k not in introducers)

        line_count = sum(len(intake.lines) for intake in intakes)
        introduction_count = sum(len(intake.introductions) for intake in intakes)
        ids = _sequence_ids(
            raw,
            {
                Supplier: len(new_suppliers),
                Introducer: len(new_introducers),
                Offer: len(intakes),
                OfferLine: line_count,
                Introduction: introduction_count,
                Case: len(intakes),
            },
        )

        if new_suppliers:
            template = Supplier(**vars(wanted[new_suppliers[0]]))
            table = _Table(connection, Supplier, ("id", *supplier_fields), template)
            rows = []
            for key, pk in zip(new_suppliers, ids[Supplier], strict=True):
                supplier = wanted[key]
                suppliers[key] = pk
                rows.append((pk, *[getattr(supplier, name) for name in supplier_fields]))
            table.copy(raw, rows)

        if new_introducers:
            table = _Table(connection, Introducer, ("id", "name", "role", "office"), Introducer())
            rows = []
            for key, pk in zip(new_introducers, ids[Introducer], strict=True):
                introducers[key] = pk
                rows.append((pk, *key))
            table.copy(raw, rows)

        offer_ids = ids[Offer]
        template = intake_offer_row(first, supplier=None, acting_user=acting_user, api_token=None)
        _Table(
            connection,
            Offer,
            ("id", "supplier_id", "channel", "received_at", "external_ref", "summary", "value_gbp"),
            template,
        ).copy(
            raw,
            (
                (
                    pk,
                    suppliers[supplier_key(intake.supplier)],
                    intake.channel,
                    intake.received_at,
                    intake.external_ref,
                    intake.summary,
                    offer_value_gbp(intake.lines),
                )
                for pk, intake in zip(offer_ids, intakes, strict=True)
            ),
        )

        template = intake_line_rows(first, offer=Offer())[0]
        line_ids = iter(ids[OfferLine])
        _Table(
            connection, OfferLine, ("id", "offer_id", *LINE_COLUMNS, "standards"), template
        ).copy(
            raw,
            (
                (next(line_ids), offer_id, *LINE_VALUES(line), json.dumps(line.standards))
                for offer_id, intake in zip(offer_ids, intakes, strict=True)
                for line in intake.lines
            ),
        )

        if introduction_count:
            introduced = next(intake for intake in intakes if intake.introductions)
            template = intake_introduction_row(
                introduced,
                introduced.introductions[0],
                offer=Offer(),
                introducer=Introducer(),
                acting_user=acting_user,
            )
            introduction_ids = iter(ids[Introduction])
            _Table(
                connection,
                Introduction,
                (
                    "id",
                    "offer_id",
                    "introducer_id",
                    "introduced_at",
                    "relationship",
                    "conflict_of_interest_notes",
                ),
                template,
            ).copy(
                raw,
                (
                    (
                        next(introduction_ids),
                        offer_id,
                        introducers[(i.name, i.role, i.office)],
                        i.introduced_at or intake.received_at,
                        i.relationship,
                        i.conflict_of_interest_notes,
                    )
                    for offer_id, intake in zip(offer_ids, intakes, strict=True)
                    for i in intake.introductions
                ),
            )

        case_ids = ids[Case]
        template = intake_case_row(first, offer=Offer(received_at=first.received_at))
        _Table(
            connection, Case, ("id", "offer_id", "opened_at", "lead_introducer_role"), template
        ).copy(
            raw,
            (
                (
                    pk,
                    offer_id,
                    intake.received_at,
                    lead_introducer_role(i.role for i in intake.introductions),
                )
                for pk, offer_id, intake in zip(case_ids, offer_ids, intakes, strict=True)
            ),
        )

        # Possible duplicates, as intakes_write finds them: open cases of the same
        # supplier with a line in the same category (these cases included), then for each
        # case those opened before it.
        raw.execute(
            "SELECT o.supplier_id, l.category, array_agg(c.id) "  # noqa: S608
            f"FROM {Offer._meta.db_table} o "
            f"JOIN {Case._meta.db_table} c ON c.offer_id = o.id "
            f"JOIN {OfferLine._meta.db_table} l ON l.offer_id = o.id "
            "WHERE o.supplier_id = ANY(%s) AND c.status <> %s GROUP BY 1, 2",
            [list(set(suppliers.values())), Status.CLOSED.value],
        )
        open_by_key = {(supplier, category): ids for supplier, category, ids in raw.fetchall()}

    duplicates = {}
    for pk, intake in zip(case_ids, intakes, strict=True):
        supplier = suppliers[supplier_key(intake.supplier)]
        earlier = {
            other
            for line in intake.lines
            for other in open_by_key.get((supplier, line.category), ())
            if other < pk
        }
        if earlier:
            duplicates[pk] = sorted(earlier)

    # The events: a `created` for each case, then a `duplicate_linked` for each case with
    # possible duplicates, with the values intake_case_events gives them.
    templates: dict = {}
    created, linked = [], []
    for pk, intake in zip(case_ids, intakes, strict=True):
        if intake.channel not in templates:
            case = Case(offer=Offer(channel=intake.channel))
            templates[intake.channel] = [
                EventValues(*[getattr(event, name) for name in HASHED_FIELDS])
                for event in intake_case_events(case, {0}, acting_user=acting_user, now=now)
            ]
        first_event, link_event = templates[intake.channel]
        created.append(first_event._replace(case_id=pk))
        earlier = duplicates.get(pk)
        if earlier:
            linked.append(link_event._replace(case_id=pk, data=duplicate_link_data(earlier)))
    # The cases were created above, in this transaction: no earlier events to chain to.
    events_append_values(created + linked, new_cases=True)
    return case_ids, len(linked)
