import json
from decimal import Decimal
from unittest import mock

import pytest
from django.test import TestCase

from offers.models import IdempotencyRecord, Introduction, Offer, OfferLine, Supplier
from tests import factories
from tests.offers.conftest import offer_body
from vipcases.codes import EventKind
from vipcases.models import Case, CaseEvent

pytestmark = pytest.mark.django_db


def _counts():
    return (
        Offer.objects.count(),
        OfferLine.objects.count(),
        Supplier.objects.count(),
        Case.objects.count(),
        IdempotencyRecord.objects.count(),
    )


def _fields(response) -> set[str]:
    return {error["field"] for error in response.json()["errors"]}


def test_it_creates_the_offer_and_answers_201(api, api_token):
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = api.post_offer(offer_body(external_ref="WF-2020-04-0113"))
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"offer_id", "case_id", "url"}
    assert body["url"] == f"/cases/{body['case_id']}/"
    assert response["Location"] == body["url"]
    case = Case.objects.select_related("offer__supplier").get(pk=body["case_id"])
    offer = case.offer
    assert (offer.pk, offer.external_ref, offer.channel) == (
        body["offer_id"],
        "WF-2020-04-0113",
        "webform",
    )
    assert offer.api_token == api_token
    assert offer.created_by is None
    assert offer.supplier.company_number == "01234567"
    line = offer.lines.get()
    assert (line.quantity, line.unit_price, line.strap_type) == (2_000_000, Decimal("1.85"), "head")
    assert line.sterilisation_validation == ""
    assert Introduction.objects.get(offer=offer).introducer.role == "mp"
    assert offer.value_gbp == Decimal("3700000.00")
    # Triage ran after the commit: scored and routed.
    assert case.assessments.exists()
    assert CaseEvent.objects.filter(case=case, kind=EventKind.ROUTED).exists()


def test_it_accepts_a_body_without_introducer_or_external_ref(api):
    body = offer_body()
    del body["introducer"], body["external_ref"]
    response = api.post_offer(body)
    assert response.status_code == 201
    assert Offer.objects.get().external_ref is None
    assert not Introduction.objects.exists()


def test_it_accepts_a_price_as_a_json_number_exactly(api):
    body = offer_body()
    body["lines"][0]["unit_price"] = 0.1
    assert api.post_offer(body).status_code == 201
    assert OfferLine.objects.get().unit_price == Decimal("0.1000")


def test_it_answers_200_with_the_same_case_for_a_repeated_external_ref(api):
    body = offer_body()
    first = api.post_offer(body)
    again = api.post_offer(body)
    changed = api.post_offer({**body, "summary": "sent again with a note"})
    assert (first.status_code, again.status_code, changed.status_code) == (201, 200, 200)
    assert first.json() == again.json() == changed.json()
    assert Offer.objects.count() == 1


def test_it_finds_an_existing_supplier_by_company_number(api):
    supplier = factories.supplier(company_number="01234567", name="Old Name Ltd")
    assert api.post_offer(offer_body()).status_code == 201
    assert Offer.objects.get().supplier == supplier
    assert Supplier.objects.count() == 1
    supplier.refresh_from_db()
    assert supplier.name == "Old Name Ltd"  # intake never changes a supplier on record


def test_it_finds_a_supplier_without_number_by_exact_name_and_country(api):
    supplier = factories.supplier(company_number="", name="Harbour Protective Ltd", country="GB")
    body = offer_body(supplier={"name": "Harbour Protective Ltd", "country": "GB"})
    assert api.post_offer(body).status_code == 201
    body = offer_body(supplier={"name": "Harbour Protective Ltd", "country": "IE"})
    assert api.post_offer(body).status_code == 201
    assert Offer.objects.order_by("pk").first().supplier == supplier
    assert Supplier.objects.count() == 2


def test_it_links_a_possible_duplicate(api):
    first = factories.case(company_number="01234567")
    response = api.post_offer(offer_body())
    event = CaseEvent.objects.get(
        case_id=response.json()["case_id"], kind=EventKind.DUPLICATE_LINKED
    )
    assert event.data["possible_duplicates"] == [first.pk]


def test_it_refuses_an_external_ref_used_by_someone_else(api, other_api):
    body = offer_body()
    assert other_api.post_offer(body).status_code == 201
    response = api.post_offer(body)
    assert response.status_code == 409
    assert response.json()["error"] == "conflict"
    assert "case_id" not in response.json()
    assert Offer.objects.count() == 1


# --- Idempotency-Key ---------------------------------------------------------------------


def test_it_replays_the_answer_for_the_same_idempotency_key_and_body(api):
    body = offer_body()
    del body["external_ref"]  # only the key protects this retry
    first = api.post_offer(body, **{"Idempotency-Key": "retry-1"})
    again = api.post_offer(body, **{"Idempotency-Key": "retry-1"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Offer.objects.count() == 1


def test_it_refuses_the_same_idempotency_key_with_another_body(api):
    assert api.post_offer(offer_body(), **{"Idempotency-Key": "k"}).status_code == 201
    response = api.post_offer(offer_body(), **{"Idempotency-Key": "k"})
    assert response.status_code == 422
    assert response.json()["error"] == "idempotency_key_reused"
    assert Offer.objects.count() == 1


def test_idempotency_keys_belong_to_one_token(api, other_api):
    assert api.post_offer(offer_body(), **{"Idempotency-Key": "k"}).status_code == 201
    assert other_api.post_offer(offer_body(), **{"Idempotency-Key": "k"}).status_code == 201
    assert Offer.objects.count() == 2


def test_it_keeps_no_key_for_a_refused_request(api):
    body = offer_body(channel="carrier pigeon")
    assert api.post_offer(body, **{"Idempotency-Key": "k"}).status_code == 400
    assert not IdempotencyRecord.objects.exists()
    body["channel"] = "webform"
    assert api.post_offer(body, **{"Idempotency-Key": "k"}).status_code == 201


def test_it_refuses_a_key_that_is_too_long(api):
    response = api.post_offer(offer_body(), **{"Idempotency-Key": "k" * 256})
    assert response.status_code == 400
    assert _fields(response) == {"Idempotency-Key"}


# --- bad input: 400 with the field errors, nothing saved -----------------------------------


def _line(**changes) -> dict:
    line = dict(offer_body()["lines"][0])
    line.update(changes)
    return line


BAD_BODIES = [
    ("wrong type: quantity as text", {"lines": [_line(quantity="2000000")]}, "lines[0].quantity"),
    ("wrong type: supplier as a list", {"supplier": ["Example"]}, "supplier"),
    ("wrong type: lines as an object", {"lines": {"category": "gown"}}, "lines"),
    ("boolean as a quantity", {"lines": [_line(quantity=True)]}, "lines[0].quantity"),
    ("unknown category", {"lines": [_line(category="spacesuit")]}, "lines[0].category"),
    ("unknown stock location", {"lines": [_line(stock_location="moon")]}, "lines[0].stock_location"),
    ("unknown strap type", {"lines": [_line(strap_type="velcro")]}, "lines[0].strap_type"),
    ("unknown channel", {"channel": "fax"}, "channel"),
    ("unknown introducer role", {"introducer": {"name": "A", "role": "king"}}, "introducer.role"),
    ("unknown currency", {"lines": [_line(currency="XYZ")]}, "lines[0].currency"),
    ("negative quantity", {"lines": [_line(quantity=-5)]}, "lines[0].quantity"),
    ("zero quantity", {"lines": [_line(quantity=0)]}, "lines[0].quantity"),
    ("huge quantity", {"lines": [_line(quantity=10**30)]}, "lines[0].quantity"),
    ("fractional lead time", {"lines": [_line(lead_time_days=2.5)]}, "lines[0].lead_time_days"),
    ("negative lead time", {"lines": [_line(lead_time_days=-1)]}, "lines[0].lead_time_days"),
    ("negative price", {"lines": [_line(unit_price="-1.00")]}, "lines[0].unit_price"),
    ("five decimal places", {"lines": [_line(unit_price="1.00001")]}, "lines[0].unit_price"),
    ("price not a number", {"lines": [_line(unit_price="about a pound")]}, "lines[0].unit_price"),
    ("price too large", {"lines": [_line(unit_price="99999999999")]}, "lines[0].unit_price"),
    ("naive received_at", {"received_at": "2020-04-23T10:20:58"}, "received_at"),
    ("received_at not a date", {"received_at": "last Tuesday"}, "received_at"),
    ("received_at in the future", {"received_at": "2999-01-01T00:00:00Z"}, "received_at"),
    ("NUL in a description", {"lines": [_line(description="FFP3\x00")]}, "lines[0].description"),
    ("NUL in a standard", {"lines": [_line(standards=["EN 149\x00"])]}, "lines[0].standards[0]"),
    ("standards as text", {"lines": [_line(standards="EN 149")]}, "lines[0].standards"),
    ("sterilisation as a list", {"lines": [_line(sterilisation_validation=["ISO"])]}, "lines[0].sterilisation_validation"),
    ("sterile as text", {"lines": [_line(sterile="yes")]}, "lines[0].sterile"),
    ("no lines", {"lines": []}, "lines"),
    ("description too long", {"lines": [_line(description="x" * 501)]}, "lines[0].description"),
    ("unknown field", {"colour": "blue"}, "colour"),
    ("unknown line field", {"lines": [_line(colour="blue")]}, "lines[0].colour"),
    ("blank supplier name", {"supplier": {"name": "  "}}, "supplier.name"),
    ("bad email", {"supplier": {"name": "X", "contact_email": "not-an-email"}}, "supplier.contact_email"),
    ("bad country", {"supplier": {"name": "X", "country": "Britain"}}, "supplier.country"),
    ("bad incorporation date", {"supplier": {"name": "X", "incorporated_on": "1 June"}}, "supplier.incorporated_on"),
    ("external_ref too long", {"external_ref": "x" * 101}, "external_ref"),
    ("lone surrogate", {"summary": "\ud800"}, "summary"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "changes", "field"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_it_answers_400_with_the_field_error_and_saves_nothing(api, case, changes, field):
    response = api.post_offer(offer_body(**changes))
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid"
    assert field in _fields(response)
    assert _counts() == (0, 0, 0, 0, 0)


def test_it_reports_every_field_error_at_once(api):
    body = offer_body(channel="fax", lines=[_line(quantity=0, category="x"), _line(currency="ZZZ")])
    del body["received_at"]
    response = api.post_offer(body)
    assert _fields(response) == {
        "channel",
        "received_at",
        "lines[0].quantity",
        "lines[0].category",
        "lines[1].currency",
    }


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b"",
        b"[1, 2",
        b'{"a": NaN}',
        b"\xff\xfe",
        b"[" * 100_000,
        b'"just text"',
        b"[]",
    ],
    ids=["broken", "empty", "truncated", "NaN", "not UTF-8", "deep", "a string", "a list"],
)
def test_it_answers_400_for_malformed_or_non_object_json(api, raw):
    response = api.post_offer(raw)
    assert response.status_code == 400
    assert response.json()["error"] in {"malformed_json", "invalid"}
    assert _counts() == (0, 0, 0, 0, 0)


def test_it_answers_413_for_a_huge_body(api, settings):
    settings.API_MAX_BODY_BYTES = 10_000
    body = offer_body(summary="x" * 20_000)
    response = api.post_offer(body)
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"
    assert _counts() == (0, 0, 0, 0, 0)


def test_it_answers_413_when_the_body_is_longer_than_it_says(api, settings):
    settings.API_MAX_BODY_BYTES = 100
    from offers import api as api_module

    request = mock.Mock()
    request.META = {"CONTENT_LENGTH": "10"}
    request.read = lambda n: b"x" * n  # a client that sends more than it declared
    body, refused = api_module._read_body(request)
    assert body is None and refused.status_code == 413


def test_it_answers_405_for_another_method(api):
    response = api.client.get("/api/offers/", headers={"Authorization": f"Bearer {api.raw_token}"})
    assert response.status_code == 405
    assert response["Allow"] == "POST"


def test_it_needs_no_csrf_token(api_token):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/api/offers/",
        data=json.dumps(offer_body()),
        content_type="application/json",
        headers={"Authorization": f"Bearer {api_token.raw}"},
    )
    assert response.status_code == 201


# --- rate limit ----------------------------------------------------------------------------


def test_it_answers_429_with_retry_after_past_the_rate_limit(api, other_api, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 3
    with mock.patch("offers.api._now_seconds", return_value=1_000_000 * 60 + 45.5):
        statuses = [api.post_offer(offer_body()).status_code for _ in range(4)]
        limited = api.get_case(1)
        other = other_api.post_offer(offer_body())  # another token has its own allowance
    assert statuses == [201, 201, 201, 429]
    assert limited.status_code == 429
    assert limited["Retry-After"] == "15"
    assert limited.json()["error"] == "rate_limited"
    assert other.status_code == 201
    with mock.patch("offers.api._now_seconds", return_value=1_000_001 * 60 + 1):
        assert api.post_offer(offer_body()).status_code == 201  # a new minute


def test_it_lets_requests_through_when_the_cache_is_down(api, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 1
    with (
        mock.patch("offers.api.cache.incr", side_effect=ConnectionError("redis is away")),
        mock.patch("redis.Redis.execute_command", side_effect=ConnectionError("redis is away")),
    ):
        statuses = [api.post_offer(offer_body()).status_code for _ in range(2)]
    assert statuses == [201, 201]


def test_the_count_expires_after_two_windows(api, settings):
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        pytest.skip("the count is kept in Redis when REDIS_URL is set")
    with mock.patch("offers.api._now_seconds", return_value=1_000_002 * 60 + 5):
        for _ in range(2):
            assert api.post_offer(offer_body()).status_code == 201
    prefix = api.raw_token[4:16]
    key = backend.make_and_validate_key(f"api-rate:{prefix}:1000002")
    client = backend._cache.get_client(write=True)
    assert int(client.get(key)) == 2
    assert 110 < client.ttl(key) <= 120


# --- retries at the same moment (real PostgreSQL, real transactions) ------------------------


def _at_once(requests: int, send) -> list[int]:
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from django.db import connection

    barrier = Barrier(requests)

    def one(_):
        barrier.wait()
        try:
            return send().status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(requests) as pool:
        return list(pool.map(one, range(requests)))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_retries_of_one_external_ref_create_one_offer(api_token):
    from tests.offers.conftest import ApiClient

    body = offer_body()
    statuses = _at_once(6, lambda: ApiClient(api_token.raw).post_offer(body))
    assert sorted(statuses) == [200] * 5 + [201]
    assert Offer.objects.count() == 1 and Case.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_retries_with_one_idempotency_key_create_one_offer(api_token):
    from tests.offers.conftest import ApiClient

    body = offer_body()
    del body["external_ref"]
    statuses = _at_once(
        6, lambda: ApiClient(api_token.raw).post_offer(body, **{"Idempotency-Key": "once"})
    )
    assert statuses == [201] * 6
    assert Offer.objects.count() == 1 and IdempotencyRecord.objects.count() == 1
