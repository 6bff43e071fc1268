import html
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests import factories
from vipcases import mp_inbox_views, services
from vipcases.codes import EnquiryStatus, EventKind, Queue, Status
from vipcases.demo import clock_at
from vipcases.models import Case, CaseEvent, MPEnquiry

pytestmark = pytest.mark.django_db

INBOX = "/mp-inbox/"
NEW_ENQUIRY = "/mp-inbox/enquiries/new/"


def in_queue(queue, **supplier_fields):
    case = factories.case(**supplier_fields)
    Case.objects.filter(pk=case.pk).update(queue=queue, status=Status.IN_PROGRESS, outcome="")
    case.refresh_from_db()
    return case


def handed_over(caseworker, reason="The MP wants regular updates.", **supplier_fields):
    case = in_queue(Queue.VIP, **supplier_fields)
    services.case_hand_over(
        case_id=case.pk, to_queue=Queue.MP_INBOX, acting_user=caseworker, reason=reason
    )
    case.refresh_from_db()
    return case


def enquiry(case, user, mp_name="Jo Member", **fields):
    values = {
        "constituency": "Westford",
        "received_at": timezone.now() - timedelta(days=2),
        "question": "When will my constituent hear back?",
    }
    values.update(fields)
    return services.enquiry_record(case_id=case.pk, acting_user=user, mp_name=mp_name, **values)


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def error_links(page: str) -> dict[str, str]:
    summary = page[page.index("govuk-error-summary") :]
    summary = summary[: summary.index("</ul>")]
    return {
        href: html.unescape(text)
        for href, text in re.findall(r'<a href="(#[^"]+)">([^<]+)</a>', summary)
    }


# --- who may use it ------------------------------------------------------------------


def test_only_the_mp_inbox_team_and_managers_may_use_it(
    client, client_for, caseworker, manager, mp_inbox_officer, outsider
):
    case = handed_over(caseworker)
    asked = enquiry(case, caseworker)
    urls = [
        INBOX,
        NEW_ENQUIRY,
        f"/mp-inbox/enquiries/{asked.pk}/reply/",
        f"/mp-inbox/cases/{case.pk}/summary/",
    ]
    for url in urls:
        assert client.get(url).status_code == 302
        for user in (caseworker, outsider):
            assert client_for(user).get(url).status_code == 403, (url, user)
        for user in (mp_inbox_officer, manager):
            assert client_for(user).get(url).status_code == 200, (url, user)
    for user in (caseworker, outsider):
        client_for(user).post(
            f"/mp-inbox/enquiries/{asked.pk}/reply/", {"reply": "Soon", "close": "yes"}
        )
    asked.refresh_from_db()
    assert asked.status == EnquiryStatus.OPEN


# --- the lists --------------------------------------------------------------------


def test_it_lists_handed_over_cases_newest_first_with_reason_and_last_update(
    client_for, caseworker, mp_inbox_officer
):
    # Case events cannot be changed afterwards: hand the older case over three days ago.
    with clock_at(timezone.now() - timedelta(days=3)):
        handed_over(caseworker, reason="Introduced by an MP; tracking only.", name="Older Ltd")
    newer = handed_over(caseworker, reason="Minister's office asks for news.", name="Newer Ltd")
    in_queue(Queue.VIP, name="Elsewhere Ltd")
    page = client_for(mp_inbox_officer).get(INBOX).text
    assert page.index("Newer Ltd") < page.index("Older Ltd")
    assert "Elsewhere Ltd" not in page
    assert html.escape("Minister's office asks for news.") in page
    assert "Introduced by an MP; tracking only." in page
    assert f'href="/cases/{newer.pk}/"' in page
    assert page.count("<h1") == 1


def test_it_lists_open_enquiries_not_closed_ones(client_for, caseworker, mp_inbox_officer):
    case = handed_over(caseworker, name="Asked About Ltd")
    waiting = enquiry(case, mp_inbox_officer, mp_name="Jo Member")
    done = enquiry(case, mp_inbox_officer, mp_name="Sam Closedmp")
    services.enquiry_reply(
        enquiry_id=done.pk, acting_user=mp_inbox_officer, reply="Done", close=True
    )
    page = client_for(mp_inbox_officer).get(INBOX).text
    assert "Jo Member" in page
    assert "Sam Closedmp" not in page
    assert f'href="/mp-inbox/enquiries/{waiting.pk}/reply/"' in page
    assert "Awaiting reply" in page


def test_the_lists_make_the_same_number_of_queries_whatever_the_rows(
    client_for, caseworker, mp_inbox_officer
):
    client = client_for(mp_inbox_officer)
    enquiry(handed_over(caseworker), caseworker)
    client.get(INBOX)  # warm the session and permission caches
    with CaptureQueriesContext(connection) as few:
        client.get(INBOX)
    for _ in range(6):
        enquiry(handed_over(caseworker), caseworker)
    with CaptureQueriesContext(connection) as many:
        response = client.get(INBOX)
    assert response.text.count("Record reply") == 7
    assert len(many) == len(few)


def test_it_shows_more_on_request(client_for, caseworker, mp_inbox_officer, monkeypatch):
    monkeypatch.setattr(mp_inbox_views, "PAGE_SIZE", 2)
    cases = [handed_over(caseworker, name=f"Paged {n} Ltd") for n in range(3)]
    client = client_for(mp_inbox_officer)
    page = client.get(INBOX).text
    assert "Paged 0 Ltd" not in page  # the oldest handover is on the next page
    assert "Show more cases" in page
    page = client.get(INBOX + "?cases=4").text
    assert all(f"/cases/{case.pk}/" in page for case in cases)
    assert "Show more cases" not in page


# --- enquiries and replies --------------------------------------------------------


def enquiry_form(case, **fields) -> dict:
    received = timezone.localdate() - timedelta(days=1)
    data = {
        "case_reference": case.reference,
        "mp_name": "Jo Member",
        "constituency": "Westford",
        "received_day": str(received.day),
        "received_month": str(received.month),
        "received_year": str(received.year),
        "question": "Has my constituent's offer been looked at?",
    }
    data.update(fields)
    return data


def test_it_records_an_enquiry_about_any_case_by_its_reference(
    client_for, mp_inbox_officer, caseworker
):
    case = in_queue(Queue.RAPID_RESPONSE)
    client = client_for(mp_inbox_officer)
    assert client.get(f"/cases/{case.pk}/").status_code == 404
    response = client.post(NEW_ENQUIRY, enquiry_form(case, case_reference=f" ppe-{case.pk} "))
    assert response.status_code == 302
    assert response.url == INBOX
    assert messages_of(response) == [
        f"Enquiry from Jo Member about case {case.reference} recorded."
    ]
    recorded = MPEnquiry.objects.get()
    assert (recorded.case, recorded.mp_name, recorded.recorded_by) == (
        case,
        "Jo Member",
        mp_inbox_officer,
    )
    assert timezone.localtime(recorded.received_at).date() == timezone.localdate() - timedelta(1)
    assert CaseEvent.objects.filter(case=case, kind=EventKind.ENQUIRY).exists()
    # Once an MP has asked, the team can follow the case (read only).
    assert client.get(f"/cases/{case.pk}/").status_code == 200


def test_the_enquiry_form_starts_from_the_case_page_reference(client_for, mp_inbox_officer):
    page = client_for(mp_inbox_officer).get(NEW_ENQUIRY + "?case=PPE-000042").text
    assert 'value="PPE-000042"' in page


@pytest.mark.parametrize(
    ("fields", "links"),
    [
        (
            {"case_reference": "ABC", "mp_name": ""},
            {
                "#id_case_reference": "Enter a case reference like PPE-000123.",
                "#id_mp_name": "This field is required.",
            },
        ),
        (
            {"case_reference": "PPE-999999"},
            {"#id_case_reference": "No case has that reference. Check it and try again."},
        ),
        (
            {"received_day": "", "received_month": "", "received_year": ""},
            {"#id_received_day": "Enter the date the enquiry was received."},
        ),
        (
            {"received_day": "30", "received_month": "2"},
            {"#id_received_day": "The date received must be a real date."},
        ),
    ],
)
def test_it_shows_enquiry_errors_and_saves_nothing(
    client_for, mp_inbox_officer, caseworker, fields, links
):
    case = handed_over(caseworker)
    response = client_for(mp_inbox_officer).post(NEW_ENQUIRY, enquiry_form(case, **fields))
    assert response.status_code == 200
    assert error_links(response.text) == links
    assert not MPEnquiry.objects.exists()


def test_it_records_the_reply_and_the_status(client_for, mp_inbox_officer, caseworker):
    case = handed_over(caseworker)
    asked = enquiry(case, caseworker)
    client = client_for(mp_inbox_officer)
    url = f"/mp-inbox/enquiries/{asked.pk}/reply/"
    assert "When will my constituent hear back?" in html.unescape(client.get(url).text)
    response = client.post(url, {"reply": "Technical checks are under way.", "close": "no"})
    assert response.url == INBOX
    asked.refresh_from_db()
    assert (asked.status, asked.reply) == (EnquiryStatus.REPLIED, "Technical checks are under way.")
    client.post(url, {"reply": "A decision has been made.", "close": "yes"})
    asked.refresh_from_db()
    assert asked.status == EnquiryStatus.CLOSED
    assert CaseEvent.objects.filter(case=case, kind=EventKind.REPLY).count() == 2
    assert "This enquiry is closed." in client.get(url).text


def test_a_reply_needs_text(client_for, mp_inbox_officer, caseworker):
    asked = enquiry(handed_over(caseworker), caseworker)
    response = client_for(mp_inbox_officer).post(
        f"/mp-inbox/enquiries/{asked.pk}/reply/", {"reply": "", "close": "no"}
    )
    assert error_links(response.text) == {"#id_reply": "This field is required."}
    asked.refresh_from_db()
    assert asked.status == EnquiryStatus.OPEN


# --- the status summary -----------------------------------------------------------


def test_the_summary_has_no_price_no_score_and_no_note(client_for, caseworker, mp_inbox_officer):
    case = handed_over(
        caseworker,
        name="Summary Gowns Ltd",
    )
    services.case_add_note(
        case_id=case.pk, acting_user=caseworker, text="Walk-away price £2.10", restricted=True
    )
    services.case_add_note(case_id=case.pk, acting_user=mp_inbox_officer, text="MP rang twice")
    asked = enquiry(case, mp_inbox_officer)
    services.enquiry_reply(
        enquiry_id=asked.pk, acting_user=mp_inbox_officer, reply="Checks are under way."
    )
    line = case.offer.lines.get()
    assert line.unit_price == Decimal("1.85")
    page = client_for(mp_inbox_officer).get(f"/mp-inbox/cases/{case.pk}/summary/").text
    assert page.count("<h1") == 1
    for expected in (
        case.reference,
        "Summary Gowns Ltd",
        "FFP3 respirators",
        "2,000,000",
        "Being assessed",
        "with the MP inbox team",
        "Checks are under way.",
    ):
        assert expected in page, expected
    for forbidden in (
        "£",
        "1.85",
        "GBP",
        "3,700,000",
        "Walk-away",
        "MP rang twice",
        "out of 100",
        "Clinical need for",
    ):
        assert forbidden not in page, forbidden


def test_the_summary_of_a_closed_case_says_how_it_ended(client_for, manager):
    case = in_queue(Queue.VIP)
    services.case_change_status(
        case_id=case.pk,
        to_status=Status.CLOSED,
        outcome="referred_to_standard_route",
        rationale="Not a priority offer.",
        acting_user=manager,
    )
    page = client_for(manager).get(f"/mp-inbox/cases/{case.pk}/summary/").text
    assert "Closed: the offer was referred to the standard offer route" in page
    assert "Not a priority offer." not in page


def test_the_summary_is_404_for_a_case_the_team_cannot_see(client_for, mp_inbox_officer):
    case = in_queue(Queue.VIP)
    assert (
        client_for(mp_inbox_officer).get(f"/mp-inbox/cases/{case.pk}/summary/").status_code == 404
    )
