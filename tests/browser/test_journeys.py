"""The people who use the service, in a real browser (Chromium through Playwright)."""

import re

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.browser.conftest import axe_violations, describe, sign_in
from vipcases.codes import Queue
from vipcases.models import Case, CaseEvent

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def in_queue(queue: str, **fields) -> Case:
    case = factories.case(**fields)
    Case.objects.filter(pk=case.pk).update(queue=queue)
    return case


def test_a_caseworker_filters_claims_and_hands_over_a_case(page, caseworker):
    gowns = factories.case(
        name="Harbourside Gowns Ltd",
        lines=[
            factories.line(
                category="gown", description="Isolation gown", standards=["EN 13795"], strap_type=""
            )
        ],
    )
    factories.case(name="Kestrel Masks Ltd")
    sign_in(page, caseworker)

    page.get_by_label("Search", exact=True).fill("Harbourside")
    page.get_by_role("button", name="Apply filters").first.click()
    expect(page.get_by_role("link", name=gowns.reference)).to_be_visible()
    expect(page.get_by_text("Kestrel Masks Ltd")).to_have_count(0)

    page.get_by_role("link", name=gowns.reference).click()
    page.get_by_label(re.compile("I have no conflict of interest")).check()
    page.get_by_role("button", name="Claim case").click()
    expect(page.get_by_text("Claimed").first).to_be_visible()

    page.get_by_text("Hand over to the MP inbox").first.click()
    page.get_by_label("Reason for the handover").fill(
        "Introducer wants tracking only; no casework needed."
    )
    page.get_by_role("button", name="Hand over to the MP inbox").click()
    expect(page.get_by_text("Introducer wants tracking only; no casework needed.")).to_be_visible()
    gowns.refresh_from_db()
    assert gowns.queue == Queue.MP_INBOX
    assert CaseEvent.objects.filter(case=gowns, kind="handed_over", actor=caseworker).exists()


def test_a_manager_reassigns_a_case(page, manager, caseworker):
    case = in_queue(Queue.VIP)
    sign_in(page, manager)
    page.goto(f"/cases/{case.pk}/")
    page.get_by_text("Assign", exact=True).first.click()
    page.get_by_label("Assign to").select_option(value=str(caseworker.pk))
    page.get_by_label("Reason (optional)").fill("Balancing the VIP queue")
    page.get_by_role("button", name="Assign case").click()
    expect(page.get_by_text("Balancing the VIP queue")).to_be_visible()
    case.refresh_from_db()
    assert case.owner == caseworker


def test_an_mp_inbox_officer_records_an_enquiry_on_a_handed_over_case(page, mp_inbox_officer):
    case = in_queue(Queue.MP_INBOX, name="Westford Sanitiser Ltd")
    sign_in(page, mp_inbox_officer)
    page.goto("/mp-inbox/")
    expect(page.get_by_text("Westford Sanitiser Ltd")).to_be_visible()
    page.get_by_role("button", name="Record an MP enquiry").click()
    page.get_by_label("Which case is it about?").fill(case.reference)
    page.get_by_label("MP's name").fill("Jo Example MP")
    page.get_by_label("Constituency").fill("Westford")
    page.get_by_label("Day").fill("23")
    page.get_by_label("Month").fill("4")
    page.get_by_label("Year").fill("2020")
    page.get_by_label("What did the MP ask?").fill("When will my constituent hear back?")
    page.get_by_role("button", name="Record enquiry").click()
    expect(page.get_by_text("Jo Example MP").first).to_be_visible()
    assert case.enquiries.get().mp_name == "Jo Example MP"


@pytest.mark.parametrize("who", ["caseworker", "mp_inbox_officer"])
def test_the_main_pages_have_no_wcag_aa_violations(page, request, who):
    user = request.getfixturevalue(who)
    handed_over = in_queue(Queue.MP_INBOX, introductions=[factories.introduction(role="peer")])
    factories.case(name="Second Supplier Ltd")
    sign_in(page, user)
    pages = ["/cases/", f"/cases/{handed_over.pk}/"]
    pages += ["/offers/new/"] if who == "caseworker" else ["/mp-inbox/"]
    for url in pages:
        page.goto(url)
        assert page.locator("h1").count() == 1, url
        violations = axe_violations(page)
        assert violations == [], f"{url}: {describe(violations)}"
