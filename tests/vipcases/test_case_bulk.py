"""Bulk changes from the case list: assign or move the ticked cases, all or nothing."""

import pytest
from django.contrib.messages import get_messages

from tests import factories
from vipcases.codes import EventKind, Queue, Status
from vipcases.models import Case, CaseEvent

pytestmark = pytest.mark.django_db


def open_case(queue=Queue.RAPID_RESPONSE, **fields) -> Case:
    case = factories.case()
    Case.objects.filter(pk=case.pk).update(queue=queue, status=Status.NEW, **fields)
    case.refresh_from_db()
    return case


@pytest.fixture
def three_cases():
    return [open_case(), open_case(), open_case(queue=Queue.VIP)]


def events(kind, cases):
    return CaseEvent.objects.filter(kind=kind, case__in=cases)


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_list_offers_checkboxes_to_managers_only(client_for, manager, caseworker, three_cases):
    case = three_cases[0]
    page = client_for(manager).get("/cases/").text
    assert f'<span class="govuk-visually-hidden">Select {case.reference}</span>' in page
    assert 'action="/cases/bulk/"' in page
    page = client_for(caseworker).get("/cases/").text
    assert f"Select {case.reference}" not in page
    assert "/cases/bulk/" not in page


def test_it_assigns_the_selected_cases_with_one_event_each(
    client_for, manager, caseworker, three_cases
):
    response = client_for(manager).post(
        "/cases/bulk/",
        {
            "cases": [c.pk for c in three_cases],
            "action": "assign",
            "owner": caseworker.pk,
            "next": "queue=rapid_response&queue=vip&sort=oldest",
        },
    )
    assert response.status_code == 302
    assert response.url == "/cases/?queue=rapid_response&queue=vip&sort=oldest"
    assert messages_of(response) == ["3 cases assigned to Priya Raman."]
    assert set(Case.objects.values_list("owner_id", flat=True)) == {caseworker.pk}
    assigned = events(EventKind.ASSIGNED, three_cases)
    assert sorted(e.case_id for e in assigned) == sorted(c.pk for c in three_cases)
    assert {(e.actor_id, e.to_value) for e in assigned} == {(manager.pk, caseworker.username)}


def test_it_moves_the_selected_cases_with_one_rationale(client_for, manager, three_cases):
    response = client_for(manager).post(
        "/cases/bulk/",
        {
            "cases": [three_cases[0].pk, three_cases[2].pk],
            "action": "move",
            "to_queue": Queue.TRIAGE,
            "rationale": "Re-check the certificates.",
            "next": "tab=vip",
        },
    )
    assert response.status_code == 302
    assert response.url == "/cases/?tab=vip"
    assert messages_of(response) == ["2 cases moved to Triage."]
    moved = events(EventKind.MOVED, three_cases)
    assert sorted(e.case_id for e in moved) == sorted([three_cases[0].pk, three_cases[2].pk])
    assert {e.rationale for e in moved} == {"Re-check the certificates."}
    assert {e.from_value for e in moved} == {Queue.RAPID_RESPONSE, Queue.VIP}
    assert Case.objects.get(pk=three_cases[1].pk).queue == Queue.RAPID_RESPONSE


def test_it_keeps_the_page_cursor_when_it_goes_back(client_for, manager, three_cases):
    response = client_for(manager).post(
        "/cases/bulk/",
        {
            "cases": [three_cases[0].pk],
            "action": "move",
            "to_queue": Queue.VIP,
            "rationale": "Personal handling.",
            "next": "status=new&after=abc:def&evil=1",
        },
    )
    assert response.url == "/cases/?status=new&after=abc%3Adef"


def test_it_changes_nothing_when_one_case_is_refused(client_for, manager, three_cases):
    closed = three_cases[1]
    Case.objects.filter(pk=closed.pk).update(queue=Queue.CLOSED, status=Status.CLOSED)
    before = {c.pk: (c.queue, c.version) for c in Case.objects.all()}
    response = client_for(manager).post(
        "/cases/bulk/",
        {
            "cases": [c.pk for c in three_cases],
            "action": "move",
            "to_queue": Queue.TRIAGE,
            "rationale": "Re-check.",
            "next": "tab=open",
        },
    )
    assert response.status_code == 200
    assert (
        f"Nothing was changed: {closed.reference} could not be moved. "
        "A closed case cannot be moved."
    ) in response.text
    assert "govuk-error-summary" in response.text
    assert {c.pk: (c.queue, c.version) for c in Case.objects.all()} == before
    assert not events(EventKind.MOVED, three_cases).exists()
    # The ticked boxes stay ticked to try again.
    assert f'value="{three_cases[0].pk}" checked' in response.text


def test_a_move_needs_a_rationale_and_a_queue(client_for, manager, three_cases):
    response = client_for(manager).post(
        "/cases/bulk/", {"cases": [three_cases[0].pk], "action": "move", "next": ""}
    )
    assert response.status_code == 200
    assert "Give a rationale for moving the cases" in response.text
    assert "Choose the queue to move the selected cases to" in response.text
    assert not events(EventKind.MOVED, three_cases).exists()


def test_it_needs_a_selection_and_a_caseworker(client_for, manager, three_cases):
    response = client_for(manager).post("/cases/bulk/", {"action": "assign", "next": ""})
    assert "Select at least one case" in response.text
    assert "Choose who to assign the selected cases to" in response.text
    assert '<a href="#case-table">Select at least one case</a>' in response.text


def test_a_caseworker_is_refused(client_for, caseworker, three_cases):
    response = client_for(caseworker).post(
        "/cases/bulk/",
        {"cases": [three_cases[0].pk], "action": "assign", "owner": caseworker.pk},
    )
    assert response.status_code == 403
    assert Case.objects.get(pk=three_cases[0].pk).owner_id is None


def test_the_mp_inbox_team_is_refused(client_for, mp_inbox_officer, three_cases):
    response = client_for(mp_inbox_officer).post(
        "/cases/bulk/",
        {"cases": [three_cases[0].pk], "action": "move", "to_queue": "vip", "rationale": "x"},
    )
    assert response.status_code == 403


def test_it_is_post_only(client_for, manager):
    assert client_for(manager).get("/cases/bulk/").status_code == 405
