"""Schemathesis against the intake API, in process (WSGI), with a valid token: every
answer to generated requests, valid and invalid, is documented in offers/openapi.yaml
and none is a server error. Bounded and derandomised so that it runs the same, quickly,
in CI."""

import uuid
from pathlib import Path

import pytest
import schemathesis
import yaml
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from offers.tokens import api_token_create

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "offers" / "openapi.yaml"

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


@pytest.fixture
def bearer(db, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 0  # hundreds of requests in a few seconds
    _, raw = api_token_create(name="schemathesis")
    # The WSGI handler closes the database connection after each request, which would
    # end the test's transaction; django.test.Client stops it the same way.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield {"Authorization": f"Bearer {raw}"}
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=50,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_it_answers_as_the_schema_says_and_never_with_a_server_error(case, bearer):
    if case.headers and "Idempotency-Key" in case.headers:
        # The generated keys repeat across examples, and a repeated key with another body
        # is refused (422) before the body is read; a fresh key lets the body be checked.
        # Replays and 422 have tests of their own (test_api_offers.py).
        case.headers["Idempotency-Key"] = uuid.uuid4().hex
    case.call_and_validate(headers=bearer, checks=[not_a_server_error, response_schema_conformance])


def test_the_served_schema_is_the_file_in_the_repository(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert response.content == SCHEMA_FILE.read_bytes()
    document = yaml.safe_load(response.content)
    assert set(document["paths"]) == {"/api/offers/", "/api/cases/{case_id}/"}


def test_the_schema_lists_the_codes_of_vipcases_codes():
    from vipcases.codes import GBP_RATES, Category, Channel, IntroducerRole, StockLocation

    schemas = yaml.safe_load(SCHEMA_FILE.read_text())["components"]["schemas"]
    line = schemas["OfferLine"]["properties"]
    assert line["category"]["enum"] == list(Category.values)
    assert line["stock_location"]["enum"] == list(StockLocation.values)
    assert line["currency"]["enum"] == list(GBP_RATES)
    assert schemas["OfferRequest"]["properties"]["channel"]["enum"] == list(Channel.values)
    assert schemas["Introducer"]["properties"]["role"]["enum"] == list(IntroducerRole.values)
