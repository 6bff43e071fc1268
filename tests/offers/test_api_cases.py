import pytest
from django.test import TestCase

from tests import factories
from tests.offers.conftest import offer_body
from vipcases import services as case_services

pytestmark = pytest.mark.django_db


def _created(api, **changes) -> int:
    response = api.post_offer(offer_body(**changes))
    assert response.status_code == 201
    return response.json()["case_id"]


def test_it_shows_a_case_before_it_is_scored(api):
    case_id = _created(api)  # the test's transaction never commits: triage has not run
    response = api.get_case(case_id)
    assert response.status_code == 200
    body = response.json()
    assert body["case_id"] == case_id
    assert body["url"] == f"/cases/{case_id}/"
    assert (body["queue"], body["status"], body["owner"], body["outcome"]) == (
        "triage",
        "new",
        None,
        None,
    )
    assert body["score"] is None
    assert body["eligible"] is None
    assert body["components"] == []
    assert body["flags"] == []


def test_it_shows_the_score_its_components_and_flags_once_scored(api):
    line = dict(offer_body()["lines"][0], strap_type="ear_loop")
    with TestCase.captureOnCommitCallbacks(execute=True):
        case_id = _created(api, lines=[line])
    body = api.get_case(case_id).json()
    assert isinstance(body["score"], int) and 0 <= body["score"] <= 100
    assert body["queue"] != "triage"
    assert {c["name"] for c in body["components"]} == {
        "need",
        "coverage",
        "compliance",
        "deliverability",
        "value",
        "credibility",
    }
    assert sum(c["points"] for c in body["components"]) == body["score"]
    codes = {flag["code"] for flag in body["flags"]}
    assert any("ear" in code for code in codes), codes


def test_it_shows_the_owner(api, caseworker):
    with TestCase.captureOnCommitCallbacks(execute=True):
        case_id = _created(api)
    case_services.case_claim(case_id=case_id, acting_user=caseworker, no_conflict_declared=True)
    body = api.get_case(case_id).json()
    assert body["owner"] == "Priya Raman"
    assert body["status"] == "in_progress"


def test_a_token_cannot_read_a_case_it_did_not_create(api, other_api):
    theirs = _created(other_api)
    keyed_in = factories.case()
    assert api.get_case(theirs).status_code == 404
    assert api.get_case(keyed_in.pk).status_code == 404
    assert other_api.get_case(theirs).status_code == 200


def test_it_answers_404_for_no_such_case(api):
    assert api.get_case(999_999).status_code == 404
    assert api.get_case(2**70).status_code == 404
    assert api.get_case(999_999).json()["error"] == "not_found"


def test_it_answers_405_for_another_method(api):
    response = api.client.delete(
        "/api/cases/1/", headers={"Authorization": f"Bearer {api.raw_token}"}
    )
    assert response.status_code == 405
    assert response["Allow"] == "GET"
