"""Helpers for the intake tests: a valid API body, an intake token, a signed request."""

import copy
import json
import uuid

import pytest
from django.test import Client

from offers.tokens import api_token_create

VALID_BODY = {
    "external_ref": "WF-2020-04-0113",
    "channel": "webform",
    "received_at": "2020-04-23T10:20:58+01:00",
    "supplier": {
        "name": "Example Medical Supplies Ltd",
        "company_number": "01234567",
        "country": "GB",
        "incorporated_on": "2009-06-01",
        "ppe_trading_history": True,
    },
    "introducer": {
        "name": "A. Example",
        "role": "mp",
        "office": "Member for Somewhere",
        "relationship": "constituent business",
    },
    "lines": [
        {
            "category": "ffp3_respirator",
            "description": "FFP3 respirator, head straps",
            "quantity": 2000000,
            "unit_price": "1.85",
            "currency": "GBP",
            "standards": ["EN 149:2001+A1:2009 FFP3"],
            "certificate": "CE 2797",
            "strap_type": "head",
            "sterile": False,
            "sterilisation_validation": None,
            "stock_location": "uk",
            "lead_time_days": 5,
        }
    ],
}


def offer_body(**changes) -> dict:
    """The contract's example body, with a fresh external_ref unless one is given."""
    body = copy.deepcopy(VALID_BODY)
    body["external_ref"] = f"WF-{uuid.uuid4().hex[:12]}"
    body.update(changes)
    return body


class ApiClient:
    """A django.test.Client that sends JSON with a bearer token."""

    def __init__(self, raw_token: str | None):
        self.client = Client()
        self.raw_token = raw_token

    def _headers(self, headers: dict) -> dict:
        if self.raw_token is not None:
            headers.setdefault("Authorization", f"Bearer {self.raw_token}")
        return headers

    def post_offer(self, body, **headers):
        data = body if isinstance(body, bytes | str) else json.dumps(body)
        return self.client.post(
            "/api/offers/",
            data=data,
            content_type="application/json",
            headers=self._headers(headers),
        )

    def get_case(self, case_id, **headers):
        return self.client.get(f"/api/cases/{case_id}/", headers=self._headers(headers))


@pytest.fixture
def api_token(db):
    token, raw = api_token_create(name="public webform")
    token.raw = raw
    return token


@pytest.fixture
def api(api_token) -> ApiClient:
    return ApiClient(api_token.raw)


@pytest.fixture
def other_api(db) -> ApiClient:
    _, raw = api_token_create(name="another integration")
    return ApiClient(raw)
