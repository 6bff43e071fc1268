"""offers.intake_sql (the API's one-statement write) writes what intakes_write writes.

Each case starts from the same database state twice: once the offer goes through the
API, once through offers_import_bulk (intakes_write), each rolled back after its rows
are read, so the two must match column for column (ids, timestamps and the token
apart)."""

import io

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test import TestCase
from django.utils import timezone

from offers.intake import intake_validate
from offers.models import Introducer, Introduction, Offer, OfferLine, Supplier
from offers.services import offers_import_bulk
from tests.offers.conftest import offer_body
from vipcases.codes import EventKind
from vipcases.models import Case, CaseEvent

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the SQL path is PostgreSQL's"),
]

# Given by the database or the clock, or naming the sender: not compared.
UNCOMPARED = {"id", "created_at", "updated_at", "hash", "prev_hash", "api_token_id"}


class Rollback(Exception):
    pass


def _row(model, **filters) -> dict:
    fields = [f.attname for f in model._meta.concrete_fields if f.attname not in UNCOMPARED]
    return list(model.objects.filter(**filters).order_by("pk").values(*fields))


def _written(case_id: int) -> dict:
    """Every row the offer of `case_id` wrote, with foreign keys to its own new rows
    replaced by what they point to."""
    case = Case.objects.select_related("offer").get(pk=case_id)
    offer = case.offer
    introductions = _row(Introduction, offer_id=offer.pk)
    for row in introductions:
        row["introducer_id"] = _row(Introducer, pk=row["introducer_id"])
        row["offer_id"] = "this offer"
    lines = _row(OfferLine, offer_id=offer.pk)
    for row in lines:
        row["offer_id"] = "this offer"
    offer_row = _row(Offer, pk=offer.pk)[0]
    offer_row["supplier_id"] = _row(Supplier, pk=offer.supplier_id)
    offer_row.pop("external_ref")
    case_row = _row(Case, pk=case_id)[0]
    case_row["offer_id"] = "this offer"
    events = _row(CaseEvent, case_id=case_id)
    for row in events:
        row["case_id"] = "this case"
    return {
        "offer": offer_row,
        "lines": lines,
        "introductions": introductions,
        "case": case_row,
        "events": events,
        "suppliers": Supplier.objects.count(),
        "introducers": Introducer.objects.count(),
    }


def _through_api(api, body) -> dict:
    try:
        with transaction.atomic():
            response = api.post_offer(body)
            assert response.status_code == 201, response.content
            call_command("verify_events", stdout=io.StringIO())  # raises if a chain broke
            written = _written(response.json()["case_id"])
            raise Rollback
    except Rollback:
        return written


def _through_import(user, body) -> dict:
    intake, errors = intake_validate(body, now=timezone.now())
    assert not errors
    try:
        with transaction.atomic():
            outcome = offers_import_bulk(acting_user=user, intakes=[intake])
            written = _written(outcome.created_case_ids[0])
            raise Rollback
    except Rollback:
        return written


def _line(category: str, **changes) -> dict:
    line = offer_body()["lines"][0] | {"category": category}
    return line | changes


BODIES = {
    "the contract's example": {},
    "no introducer, a supplier known by name only": {
        "introducer": None,
        "supplier": {"name": "Northwind Gloves", "country": "FR"},
    },
    "several lines, one without a price": {
        "lines": [
            _line("ffp3_respirator"),
            _line("gloves", unit_price=None, standards=[], strap_type=None),
            _line("gown", currency="EUR", unit_price=3, sterile=True),
        ],
        "summary": "Three products, one priced on request.",
    },
    "another introducer": {
        "introducer": {"name": "B. Sample", "role": "peer", "introduced_at": "2020-04-20T09:00:00Z"}
    },
}


@pytest.mark.parametrize("changes", BODIES.values(), ids=BODIES.keys())
@pytest.mark.parametrize("earlier_offer", [False, True], ids=["new supplier", "known supplier"])
def test_the_api_writes_what_the_import_writes(api, caseworker, changes, earlier_offer):
    if earlier_offer:
        # The supplier and introducer exist, and an open case of theirs is a duplicate.
        earlier, _ = intake_validate(offer_body(**changes), now=timezone.now())
        offers_import_bulk(acting_user=caseworker, intakes=[earlier])
    body = offer_body(**changes)
    with TestCase.captureOnCommitCallbacks():
        through_api = _through_api(api, body)
    through_import = _through_import(None, body)
    assert through_api == through_import
    assert len(through_api["events"]) == (2 if earlier_offer else 1)


def test_a_repeated_external_ref_writes_nothing(api):
    body = offer_body()
    assert api.post_offer(body).status_code == 201
    counts = [model.objects.count() for model in (Supplier, Introducer, Offer, Case, CaseEvent)]
    assert api.post_offer(body).status_code == 200
    assert [model.objects.count() for model in (Supplier, Introducer, Offer, Case, CaseEvent)] == (
        counts
    )


def _lines_read() -> int:
    """Rows of the offer-line table read so far in this transaction, by any scan."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) "
            "FROM pg_stat_xact_user_tables WHERE relname = %s",
            [OfferLine._meta.db_table],
        )
        return cursor.fetchone()[0]


def _intakes(count: int, category: str, supplier=None) -> list:
    bodies = (
        offer_body(
            lines=[_line(category)],
            **({"supplier": supplier or {"name": f"Other {n}", "company_number": f"OS{n:06d}"}}),
        )
        for n in range(count)
    )
    return [intake_validate(body, now=timezone.now())[0] for body in bodies]


def test_the_duplicate_look_up_reads_the_suppliers_offers_not_the_category(api, caseworker):
    # Statistics that mislead: gathered when the supplier sent most offers and the
    # category was rare. Then 400 offers of the category arrive from other suppliers
    # before the next ANALYZE, as on a new database or in a burst of intake.
    supplier = offer_body()["supplier"]
    offers_import_bulk(acting_user=caseworker, intakes=_intakes(40, "gown", supplier))
    offers_import_bulk(acting_user=caseworker, intakes=_intakes(1, "ffp3_respirator"))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE offers_offer, offers_offerline, vipcases_case")
    offers_import_bulk(acting_user=caseworker, intakes=_intakes(400, "ffp3_respirator"))
    first = api.post_offer(offer_body())
    assert first.status_code == 201

    before = _lines_read()
    with TestCase.captureOnCommitCallbacks():
        second = api.post_offer(offer_body())
    assert second.status_code == 201
    # At most a line per offer of the supplier's (42), never every line of the category.
    assert _lines_read() - before <= 42
    case = Case.objects.get(pk=second.json()["case_id"])
    link = CaseEvent.objects.get(case=case, kind=EventKind.DUPLICATE_LINKED)
    assert link.data["possible_duplicates"] == [first.json()["case_id"]]


def test_the_write_is_prepared_once_and_keeps_its_plan(api):
    # Planned afresh, the statement cost more to plan than to run. Django leaves
    # psycopg's prepared statements off unless the settings turn them on.
    for _ in range(8):
        with TestCase.captureOnCommitCallbacks():
            assert api.post_offer(offer_body()).status_code == 201
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE 'WITH supplier_found AS%%'"
        )
        plans = cursor.fetchall()
    assert plans == [(8, 0)]
