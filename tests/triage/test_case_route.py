from decimal import Decimal

import pytest

from tests import factories
from triage.routing_services import cases_route
from vipcases.codes import EventKind, Queue, Status
from vipcases.models import Case, CaseEvent

pytestmark = pytest.mark.django_db

WEAK_LINE = {"quantity": 500_000, "lead_time_days": 60, "stock_location": "overseas"}


def test_a_strong_offer_goes_to_rapid_response_with_an_sla():
    case = factories.case()
    assert (case.queue, case.status) == (Queue.RAPID_RESPONSE, Status.NEW)
    assert case.sla_due_at is not None
    routed = CaseEvent.objects.get(case=case, kind=EventKind.ROUTED)
    assert routed.data["rule"] == "rapid"
    assert routed.data["policy_version"] == 1


def test_a_weaker_offer_introduced_by_a_minister_goes_to_vip_but_keeps_its_score():
    plain = factories.case(lines=[factories.line(**WEAK_LINE)])
    vip = factories.case(
        lines=[factories.line(**WEAK_LINE)],
        introductions=[factories.introduction(role="minister", name="Robin Example")],
    )
    assert vip.queue == Queue.VIP
    assert vip.priority == plain.priority
    assert plain.queue == Queue.CLOSED
    assert plain.outcome == "referred_to_standard_route"


def test_an_mp_introduction_is_tracked_in_the_mp_inbox():
    case = factories.case(
        lines=[factories.line(**WEAK_LINE)], introductions=[factories.introduction(role="mp")]
    )
    assert case.queue == Queue.MP_INBOX


def test_a_vip_offer_below_the_value_threshold_is_tracked_not_handled_personally():
    case = factories.case(
        lines=[factories.line(**WEAK_LINE, unit_price=Decimal("0.10"))],
        introductions=[factories.introduction(role="peer")],
    )
    assert case.offer.value_gbp == Decimal("500000.00") * Decimal("0.1")
    assert case.queue == Queue.MP_INBOX


def test_an_ineligible_offer_is_closed_with_reasons_and_a_reply():
    case = factories.case(
        lines=[factories.line(category="other", description="Thermometers", standards=[])]
    )
    assert (case.queue, case.status, case.outcome) == (
        Queue.CLOSED,
        Status.CLOSED,
        "not_progressed",
    )
    routed = CaseEvent.objects.get(case=case, kind=EventKind.ROUTED)
    assert "no current clinical need" in routed.rationale.lower()
    assert routed.data["reply"].startswith("Thank you for your offer")


def test_an_mp_enquiry_about_an_existing_offer_goes_to_the_mp_inbox():
    first = factories.case()
    enquiry = factories.case(channel="mp_enquiry")
    assert (
        enquiry.queue == Queue.RAPID_RESPONSE
    )  # a different supplier: a new offer, routed on need
    from django.test import TestCase
    from django.utils import timezone

    from offers.services import offer_create

    with TestCase.captureOnCommitCallbacks(execute=True):
        same = offer_create(
            acting_user=None,
            supplier=first.offer.supplier,
            channel="mp_enquiry",
            received_at=timezone.now(),
            lines=[factories.line()],
        )
    same.refresh_from_db()
    assert same.queue == Queue.MP_INBOX


def test_routing_twice_changes_nothing_and_writes_no_second_event():
    case = factories.case()
    before = Case.objects.values().get(pk=case.pk)
    events = CaseEvent.objects.filter(case=case).count()
    outcome = cases_route([case.pk])
    assert outcome.changed == []
    assert Case.objects.values().get(pk=case.pk) == before
    assert CaseEvent.objects.filter(case=case).count() == events
