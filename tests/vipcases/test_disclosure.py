"""A case's disclosure pack: everything recorded about the case, as a printable page and
a PDF, for managers and the caseworkers who may see the case, each export on the
case's timeline."""

import io

import pytest
from pypdf import PdfReader

from tests import factories
from vipcases import services
from vipcases.codes import EventKind
from vipcases.models import CaseEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(caseworker):
    """A scored and routed case, introduced by a minister with a declared relationship,
    claimed (with the caseworker's declaration), with a restricted note."""
    created = factories.case(
        introductions=[
            factories.introduction(
                name="Rt Hon Alex Example MP",
                role="minister",
                office="Minister of State for Resilience",
                relationship="friend of a director",
                conflict_of_interest_notes="No financial interest, says the minister.",
            )
        ]
    )
    services.case_claim(case_id=created.pk, acting_user=caseworker, no_conflict_declared=True)
    services.case_add_note(
        case_id=created.pk,
        acting_user=caseworker,
        text="Price agreed at £1.80 subject to approval.",
        restricted=True,
    )
    created.refresh_from_db()
    return created


def test_it_shows_everything_recorded_about_the_case(case, manager, client_for):
    response = client_for(manager).get(f"/cases/{case.pk}/disclosure/")

    assert response.status_code == 200
    html = response.content.decode()
    assert f"Disclosure pack: case {case.reference}" in html
    assert case.offer.supplier.name in html
    # the score, with its components, policy version and stored inputs
    assessment = case.assessments.get()
    assert f"Automatic score: {assessment.total} out of 100" in html
    assert f"Policy {assessment.policy_version}" in html
    assert "Clinical need" in html and "&quot;unmet_demand&quot;" in html
    # introductions and declarations
    assert "Rt Hon Alex Example MP" in html and "friend of a director" in html
    assert "No financial interest, says the minister." in html
    assert "I have no conflict of interest with the supplier" in html
    # every event and its rationale, the restricted note included for a manager
    for event in CaseEvent.objects.filter(case=case).exclude(kind=EventKind.EXPORTED):
        if event.rationale:
            assert event.rationale.replace("'", "&#x27;") in html, event.kind
    assert "Price agreed at £1.80 subject to approval." in html
    assert f'href="/cases/{case.pk}/disclosure.pdf"' in html
    assert "<script>" not in html


def test_it_records_the_export_on_the_case_timeline(case, manager, client_for):
    client_for(manager).get(f"/cases/{case.pk}/disclosure/")

    event = CaseEvent.objects.get(case=case, kind=EventKind.EXPORTED)
    assert event.actor == manager
    assert event.to_value == "html"
    assert event.data == {"export": "disclosure_pack", "format": "html"}
    assert "Tomas Novak" in event.rationale and "printable page" in event.rationale


def test_it_makes_a_pdf_of_the_same_pack(case, caseworker, client_for):
    response = client_for(caseworker).get(f"/cases/{case.pk}/disclosure.pdf")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        f'attachment; filename="disclosure-{case.reference}.pdf"'
    )
    assert response.content.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(response.content))
    text = " ".join(" ".join(page.extract_text().split()) for page in reader.pages)
    assert case.reference in text
    assert case.offer.supplier.name in text
    assert "Rt Hon Alex Example MP" in text
    event = CaseEvent.objects.get(case=case, kind=EventKind.EXPORTED)
    assert (event.actor, event.to_value) == (caseworker, "pdf")


def test_a_caseworker_who_may_see_the_case_gets_the_pack(case, caseworker, client_for):
    assert client_for(caseworker).get(f"/cases/{case.pk}/disclosure/").status_code == 200


@pytest.mark.parametrize("suffix", ["disclosure/", "disclosure.pdf"])
@pytest.mark.parametrize("who", ["mp_inbox_officer", "outsider"])
def test_it_refuses_other_roles(case, suffix, who, request, client_for):
    response = client_for(request.getfixturevalue(who)).get(f"/cases/{case.pk}/{suffix}")

    assert response.status_code == 403
    assert not CaseEvent.objects.filter(case=case, kind=EventKind.EXPORTED).exists()


def test_it_gives_no_hint_of_a_case_that_does_not_exist(manager, client_for):
    assert client_for(manager).get("/cases/999999/disclosure/").status_code == 404
    assert client_for(manager).get("/cases/999999/disclosure.pdf").status_code == 404


def test_the_case_page_links_to_the_pack_for_caseworkers_only(
    case, caseworker, mp_inbox_officer, client_for
):
    link = f'href="/cases/{case.pk}/disclosure/"'
    assert link in client_for(caseworker).get(f"/cases/{case.pk}/").content.decode()
    services.case_hand_over(
        case_id=case.pk, to_queue="mp_inbox", acting_user=caseworker, reason="For tracking."
    )
    page = client_for(mp_inbox_officer).get(f"/cases/{case.pk}/")
    assert page.status_code == 200
    assert link not in page.content.decode()
