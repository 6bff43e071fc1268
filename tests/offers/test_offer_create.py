from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from offers.models import Introduction, Offer, OfferLine
from tests import factories
from vipcases.codes import EventKind
from vipcases.models import Case, CaseEvent

pytestmark = pytest.mark.django_db


def test_it_creates_the_offer_lines_introductions_and_case(caseworker):
    case = factories.case(
        acting_user=caseworker,
        lines=[
            factories.line(),
            factories.line(category="gloves", description="Nitrile gloves", standards=["EN 455"]),
        ],
        introductions=[factories.introduction(role="minister", name="Robin Example")],
        external_ref="REF-1",
    )
    offer = case.offer
    assert offer.lines.count() == 2
    assert Introduction.objects.get(offer=offer).introducer.role == "minister"
    created = CaseEvent.objects.filter(case=case, kind=EventKind.CREATED).get()
    assert created.actor == caseworker
    assert case.opened_at == offer.received_at


def test_it_saves_nothing_when_a_line_is_invalid(caseworker):
    supplier = factories.supplier()
    with pytest.raises(ValidationError):
        from django.utils import timezone

        from offers.services import offer_create

        offer_create(
            acting_user=caseworker,
            supplier=supplier,
            channel="email",
            received_at=timezone.now(),
            lines=[factories.line(), factories.line(category="spacesuit")],
        )
    assert (Offer.objects.count(), OfferLine.objects.count(), Case.objects.count()) == (0, 0, 0)


def test_it_refuses_an_unknown_currency_and_a_zero_quantity(caseworker):
    for bad in (
        factories.line(currency="XYZ"),
        factories.line(quantity=0),
        factories.line(unit_price=Decimal("-1")),
    ):
        with pytest.raises(ValidationError):
            factories.case(acting_user=caseworker, lines=[bad])
    assert Case.objects.count() == 0


def test_it_links_a_possible_duplicate_of_an_open_case(caseworker):
    from offers.services import offer_create

    first = factories.case()
    second = offer_create(
        acting_user=caseworker,
        supplier=first.offer.supplier,
        channel="email",
        received_at=first.offer.received_at,
        lines=[factories.line(quantity=100_000)],
    )
    event = CaseEvent.objects.get(case=second, kind=EventKind.DUPLICATE_LINKED)
    assert event.data["possible_duplicates"] == [first.pk]


def test_it_does_not_link_a_different_category(caseworker):
    from offers.services import offer_create

    first = factories.case()
    second = offer_create(
        acting_user=caseworker,
        supplier=first.offer.supplier,
        channel="email",
        received_at=first.offer.received_at,
        lines=[factories.line(category="gown", description="Gown", standards=["EN 13795"])],
    )
    assert not CaseEvent.objects.filter(case=second, kind=EventKind.DUPLICATE_LINKED).exists()


def test_a_duplicate_link_names_the_newest_cases_and_counts_them_all(caseworker):
    from offers.services import DUPLICATES_LISTED, offer_create

    first = factories.case()
    supplier = first.offer.supplier

    def another():
        return offer_create(
            acting_user=caseworker,
            supplier=supplier,
            channel="email",
            received_at=first.offer.received_at,
            lines=[factories.line(quantity=100_000)],
        )

    earlier = [first.pk] + [another().pk for _ in range(DUPLICATES_LISTED)]
    latest = another()
    event = CaseEvent.objects.get(case=latest, kind=EventKind.DUPLICATE_LINKED)
    assert event.data == {
        "possible_duplicates": sorted(earlier)[-DUPLICATES_LISTED:],
        "possible_duplicates_count": DUPLICATES_LISTED + 1,
    }
    # Up to DUPLICATES_LISTED, every one is named and no count is added.
    named = CaseEvent.objects.get(case_id=earlier[-1], kind=EventKind.DUPLICATE_LINKED)
    assert named.data == {"possible_duplicates": sorted(earlier[:-1])}
