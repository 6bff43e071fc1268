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
