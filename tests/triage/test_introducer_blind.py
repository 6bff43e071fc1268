"""Proof through the whole pipeline that who introduced an offer changes nothing about
its score or its place in the work order: database rows → facts → score → order."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.test import TestCase
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offers.services import IntroductionInput, offer_create
from tests import factories
from triage.models import TriageAssessment
from vipcases.codes import IntroducerRole
from vipcases.models import Case

pytestmark = pytest.mark.django_db

# Any text a form would accept: Django's form fields refuse NUL characters (and PostgreSQL
# cannot store them), and lone surrogates cannot be encoded.
texts = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=80
)

introducers = st.lists(
    st.builds(
        IntroductionInput,
        name=texts.map(str.strip).filter(bool),
        role=st.sampled_from(IntroducerRole.values),
        office=texts,
        relationship=st.sampled_from(
            ["", "friend of a director", "constituent business", "former colleague"]
        ),
        conflict_of_interest_notes=texts,
    ),
    max_size=3,
)


def work_order_position(case_id: int) -> int:
    ordered = Case.objects.order_by("-priority", "opened_at", "pk").values_list("pk", flat=True)
    return list(ordered).index(case_id)


@pytest.fixture
def market(db):
    """Other offers already in train, so the position in the work order means something."""
    base = timezone.now() - timedelta(days=3)
    for i, (category, quantity, price) in enumerate(
        [
            ("gown", 900_000, "4.10"),
            ("gloves", 5_000_000, "0.09"),
            ("ffp3_respirator", 50_000, "7.00"),
        ]
    ):
        factories.case(
            received_at=base + timedelta(hours=i),
            lines=[
                factories.line(
                    category=category,
                    quantity=quantity,
                    unit_price=Decimal(price),
                    standards=[
                        {"gown": "EN 13795", "gloves": "EN 455", "ffp3_respirator": "EN 149 FFP3"}[
                            category
                        ]
                    ],
                )
            ],
        )
    return factories.supplier(name="Blindtest Medical Ltd", company_number="09999999")


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(intros=introducers)
def test_the_introducer_never_changes_the_score_or_the_work_order(market, intros):
    received = timezone.now() - timedelta(days=2)
    lines = [factories.line(quantity=750_000, unit_price=Decimal("2.20"), lead_time_days=12)]

    def run(with_introductions):
        with transaction.atomic():
            with TestCase.captureOnCommitCallbacks(execute=True):
                case = offer_create(
                    acting_user=None,
                    supplier=market,
                    channel="email",
                    received_at=received,
                    lines=lines,
                    introductions=with_introductions,
                )
            assessment = TriageAssessment.objects.get(case=case)
            result = (
                assessment.total,
                assessment.components,
                assessment.flags,
                Case.objects.get(pk=case.pk).priority,
                work_order_position(case.pk),
            )
            transaction.set_rollback(True)
        return result

    assert run(intros) == run([])
