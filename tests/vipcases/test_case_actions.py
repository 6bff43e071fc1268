import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.utils import timezone

from tests import factories
from vipcases import services
from vipcases.codes import EventKind, Queue, Status
from vipcases.models import Case, CaseEvent, Handover

pytestmark = pytest.mark.django_db

CONFLICT = "Someone else changed this case while you were looking at it."


def open_case(queue=Queue.VIP, status=Status.NEW, **fields):
    """A case in train (moved there by the system, as routing would)."""
    case = factories.case()
    Case.objects.filter(pk=case.pk).update(
        queue=queue, status=status, outcome="", closed_at=None, **fields
    )
    case.refresh_from_db()
    return case


def closed_case():
    case = factories.case()
    Case.objects.filter(pk=case.pk).update(
        queue=Queue.CLOSED, status=Status.CLOSED, outcome="rejected", closed_at=timezone.now()
    )
    case.refresh_from_db()
    return case


def with_enquiry(case, user):
    services.enquiry_record(
        case_id=case.pk,
        acting_user=user,
        mp_name="Jo Member",
        constituency="Westford",
        received_at=timezone.now(),
        question="Any news for my constituent?",
    )
    case.refresh_from_db()
    return case


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def snapshot(case):
    return (
        Case.objects.values("queue", "status", "owner", "outcome", "version").get(pk=case.pk),
        list(CaseEvent.objects.filter(case=case).values_list("pk", flat=True)),
    )


def url(case, action):
    return f"/cases/{case.pk}/{action}/"


# --- every action -----------------------------------------------------------------


@pytest.mark.parametrize("action", ["claim", "assign", "status", "note", "handover", "chaser"])
def test_it_accepts_only_post(client_for, manager, action):
    case = open_case()
    assert client_for(manager).get(url(case, action)).status_code == 405


@pytest.mark.parametrize("action", ["claim", "assign", "status", "note", "handover", "chaser"])
def test_it_sends_anonymous_people_to_sign_in(client, action):
    case = open_case()
    before = snapshot(case)
    response = client.post(url(case, action), {"version": case.version})
    assert response.status_code == 302
    assert response.url.startswith("/sign-in/")
    assert snapshot(case) == before


@pytest.mark.parametrize("action", ["claim", "assign", "status", "note", "handover", "chaser"])
def test_it_refuses_people_without_a_role(client_for, outsider, action):
    case = open_case()
    before = snapshot(case)
    response = client_for(outsider).post(url(case, action), {"version": case.version})
    assert response.status_code == 403
    assert snapshot(case) == before


def test_it_checks_the_csrf_token(caseworker):
    case = open_case()
    client = Client(enforce_csrf_checks=True)
    client.force_login(caseworker)
    response = client.post(url(case, "claim"), {"version": case.version, "no_conflict": "on"})
    assert response.status_code == 403
    case.refresh_from_db()
    assert case.owner is None


# --- claim -----------------------------------------------------------------------


def test_it_claims_a_case_with_the_declaration_as_an_event(client_for, caseworker):
    case = open_case()
    response = client_for(caseworker).post(
        url(case, "claim"), {"version": case.version, "no_conflict": "on"}
    )
    assert response.status_code == 302
    assert response.url == f"/cases/{case.pk}/"
    assert messages_of(response) == [
        "You have claimed this case. Your declaration is on the timeline."
    ]
    case.refresh_from_db()
    assert case.owner == caseworker
    assert case.status == Status.IN_PROGRESS
    declaration, claimed = CaseEvent.objects.filter(case=case).order_by("-id")[:2][::-1]
    assert declaration.kind == EventKind.DECLARATION
    assert declaration.actor == caseworker
    assert "no conflict of interest" in declaration.rationale
    assert claimed.kind == EventKind.CLAIMED


def test_it_refuses_a_claim_without_the_declaration(client_for, caseworker):
    case = open_case()
    before = snapshot(case)
    response = client_for(caseworker).post(url(case, "claim"), {"version": case.version})
    assert response.status_code == 302
    assert "Declare that you have no conflict of interest" in messages_of(response)[0]
    assert snapshot(case) == before


def test_it_refuses_to_claim_a_closed_case(client_for, caseworker):
    case = closed_case()
    before = snapshot(case)
    response = client_for(caseworker).post(
        url(case, "claim"), {"version": case.version, "no_conflict": "on"}
    )
    assert messages_of(response) == ["A closed case cannot be claimed."]
    assert snapshot(case) == before


def test_it_refuses_to_claim_an_owned_case(client_for, caseworker, manager):
    case = open_case(owner=manager)
    response = client_for(caseworker).post(
        url(case, "claim"), {"version": case.version, "no_conflict": "on"}
    )
    assert "already has an owner" in messages_of(response)[0]
    case.refresh_from_db()
    assert case.owner == manager


def test_it_refuses_a_claim_to_the_mp_inbox_team(client_for, mp_inbox_officer):
    case = open_case(queue=Queue.MP_INBOX)
    before = snapshot(case)
    response = client_for(mp_inbox_officer).post(
        url(case, "claim"), {"version": case.version, "no_conflict": "on"}
    )
    assert response.status_code == 403
    assert snapshot(case) == before


def test_the_second_of_two_claims_is_refused_and_overwrites_nothing(
    client_for, caseworker, manager
):
    case = open_case()
    seen = case.version
    first = client_for(manager).post(url(case, "claim"), {"version": seen, "no_conflict": "on"})
    assert messages_of(first)[0].startswith("You have claimed")
    before = snapshot(case)
    second = client_for(caseworker).post(url(case, "claim"), {"version": seen, "no_conflict": "on"})
    assert messages_of(second)[0].startswith(CONFLICT)
    assert snapshot(case) == before
    case.refresh_from_db()
    assert case.owner == manager


# --- assign ----------------------------------------------------------------------


def test_a_manager_assigns_a_case(client_for, manager, caseworker):
    case = open_case()
    response = client_for(manager).post(
        url(case, "assign"),
        {"version": case.version, "owner": caseworker.pk, "rationale": "Gowns specialist"},
    )
    assert messages_of(response) == ["The case is assigned to Priya Raman."]
    case.refresh_from_db()
    assert case.owner == caseworker
    event = CaseEvent.objects.filter(case=case).latest("id")
    assert (event.kind, event.actor, event.rationale) == (
        EventKind.ASSIGNED,
        manager,
        "Gowns specialist",
    )


def test_a_manager_unassigns_a_case(client_for, manager, caseworker):
    case = open_case(owner=caseworker)
    response = client_for(manager).post(url(case, "assign"), {"version": case.version, "owner": ""})
    assert messages_of(response) == ["The case is unassigned."]
    case.refresh_from_db()
    assert case.owner is None


def test_caseworkers_cannot_assign(client_for, caseworker):
    case = open_case()
    before = snapshot(case)
    response = client_for(caseworker).post(
        url(case, "assign"), {"version": case.version, "owner": caseworker.pk}
    )
    assert response.status_code == 403
    assert snapshot(case) == before


def test_it_refuses_to_assign_to_someone_who_is_not_a_caseworker(
    client_for, manager, mp_inbox_officer
):
    case = open_case()
    before = snapshot(case)
    response = client_for(manager).post(
        url(case, "assign"), {"version": case.version, "owner": mp_inbox_officer.pk}
    )
    assert messages_of(response) == ["Choose a caseworker from the list."]
    assert snapshot(case) == before


def test_a_stale_assignment_is_refused(client_for, manager, caseworker):
    case = open_case()
    seen = case.version
    services.case_claim(case_id=case.pk, acting_user=manager, no_conflict_declared=True)
    before = snapshot(case)
    response = client_for(manager).post(
        url(case, "assign"), {"version": seen, "owner": caseworker.pk}
    )
    assert messages_of(response)[0].startswith(CONFLICT)
    assert snapshot(case) == before


# --- status ----------------------------------------------------------------------


def test_it_moves_a_case_to_the_next_stage(client_for, caseworker):
    case = open_case(status=Status.IN_PROGRESS)
    response = client_for(caseworker).post(
        url(case, "status"), {"version": case.version, "to_status": Status.TECHNICAL_ASSURANCE}
    )
    assert messages_of(response) == ["The case is now technical assurance."]
    case.refresh_from_db()
    assert case.status == Status.TECHNICAL_ASSURANCE
    event = CaseEvent.objects.filter(case=case).latest("id")
    assert (event.kind, event.from_value, event.to_value) == (
        EventKind.STATUS_CHANGED,
        Status.IN_PROGRESS,
        Status.TECHNICAL_ASSURANCE,
    )


def test_stepping_back_needs_a_rationale(client_for, caseworker):
    case = open_case(status=Status.DUE_DILIGENCE)
    before = snapshot(case)
    client = client_for(caseworker)
    response = client.post(
        url(case, "status"), {"version": case.version, "to_status": Status.TECHNICAL_ASSURANCE}
    )
    assert messages_of(response) == ["Give a rationale for this decision."]
    assert snapshot(case) == before
    response = client.post(
        url(case, "status"),
        {
            "version": case.version,
            "to_status": Status.TECHNICAL_ASSURANCE,
            "rationale": "Certificate does not name a notified body.",
        },
    )
    case.refresh_from_db()
    assert case.status == Status.TECHNICAL_ASSURANCE


def test_it_refuses_to_skip_stages(client_for, caseworker):
    case = open_case(status=Status.IN_PROGRESS)
    before = snapshot(case)
    response = client_for(caseworker).post(
        url(case, "status"), {"version": case.version, "to_status": Status.NEGOTIATION}
    )
    assert "one stage at a time" in messages_of(response)[0]
    assert snapshot(case) == before


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"rationale": "No evidence of EN 149."}, "Choose an outcome to close the case."),
        ({"outcome": "rejected"}, "Give a rationale for closing the case."),
        ({"outcome": "rejected", "rationale": "   "}, "Give a rationale for closing the case."),
    ],
)
def test_closing_needs_an_outcome_and_a_rationale(client_for, caseworker, fields, message):
    case = open_case(status=Status.IN_PROGRESS)
    before = snapshot(case)
    response = client_for(caseworker).post(
        url(case, "status"), {"version": case.version, "to_status": Status.CLOSED, **fields}
    )
    assert messages_of(response) == [message]
    assert snapshot(case) == before


def test_it_closes_a_case_with_an_outcome(client_for, caseworker):
    case = open_case(status=Status.TECHNICAL_ASSURANCE)
    response = client_for(caseworker).post(
        url(case, "status"),
        {
            "version": case.version,
            "to_status": Status.CLOSED,
            "outcome": "rejected",
            "rationale": "Ear loops: fails face-fit testing.",
        },
    )
    assert messages_of(response) == ["The case is closed: rejected."]
    case.refresh_from_db()
    assert (case.status, case.queue, case.outcome) == (Status.CLOSED, Queue.CLOSED, "rejected")
    event = CaseEvent.objects.filter(case=case).latest("id")
    assert event.kind == EventKind.CLOSED
    assert event.rationale == "Ear loops: fails face-fit testing."


def test_it_refuses_a_contract_before_approval(client_for, caseworker):
    case = open_case(status=Status.NEGOTIATION)
    before = snapshot(case)
    response = client_for(caseworker).post(
        url(case, "status"),
        {
            "version": case.version,
            "to_status": Status.CLOSED,
            "outcome": "contract_awarded",
            "rationale": "Good offer.",
        },
    )
    assert "once the case is awaiting approval" in messages_of(response)[0]
    assert snapshot(case) == before


def test_it_refuses_to_change_a_closed_case(client_for, caseworker):
    case = closed_case()
    before = snapshot(case)
    response = client_for(caseworker).post(
        url(case, "status"), {"version": case.version, "to_status": Status.IN_PROGRESS}
    )
    assert messages_of(response) == ["The case is closed; it cannot change status."]
    assert snapshot(case) == before


def test_the_mp_inbox_team_cannot_change_status(client_for, mp_inbox_officer):
    case = open_case(queue=Queue.MP_INBOX, status=Status.IN_PROGRESS)
    before = snapshot(case)
    response = client_for(mp_inbox_officer).post(
        url(case, "status"), {"version": case.version, "to_status": Status.TECHNICAL_ASSURANCE}
    )
    assert response.status_code == 403
    assert snapshot(case) == before


def test_a_stale_status_change_is_refused_and_overwrites_nothing(client_for, caseworker, manager):
    case = open_case(status=Status.IN_PROGRESS)
    seen = case.version
    first = client_for(manager).post(
        url(case, "status"),
        {
            "version": seen,
            "to_status": Status.CLOSED,
            "outcome": "withdrawn",
            "rationale": "The supplier withdrew.",
        },
    )
    assert messages_of(first)[0].startswith("The case is closed")
    before = snapshot(case)
    second = client_for(caseworker).post(
        url(case, "status"), {"version": seen, "to_status": Status.TECHNICAL_ASSURANCE}
    )
    assert messages_of(second)[0].startswith(CONFLICT)
    assert snapshot(case) == before


def test_it_refuses_a_form_without_the_version(client_for, caseworker):
    case = open_case(status=Status.IN_PROGRESS)
    before = snapshot(case)
    response = client_for(caseworker).post(
        url(case, "status"), {"to_status": Status.TECHNICAL_ASSURANCE}
    )
    assert messages_of(response) == [
        "The form was out of date. Nothing was saved: reload the page and try again."
    ]
    assert snapshot(case) == before


# --- notes -----------------------------------------------------------------------


def test_a_caseworker_adds_a_restricted_note(client_for, caseworker):
    case = open_case()
    response = client_for(caseworker).post(
        url(case, "note"), {"text": "Quoted £2.10 ex works", "restricted": "on"}
    )
    assert messages_of(response) == ["Restricted note added."]
    note = CaseEvent.objects.filter(case=case, kind=EventKind.NOTE).get()
    assert (note.rationale, note.restricted, note.actor) == (
        "Quoted £2.10 ex works",
        True,
        caseworker,
    )


def test_a_note_needs_text(client_for, caseworker):
    case = open_case()
    before = snapshot(case)
    response = client_for(caseworker).post(url(case, "note"), {"text": ""})
    assert messages_of(response) == ["Write the note before saving it."]
    assert snapshot(case) == before


def test_the_mp_inbox_team_adds_plain_notes_to_its_cases(client_for, mp_inbox_officer):
    case = open_case(queue=Queue.MP_INBOX)
    response = client_for(mp_inbox_officer).post(url(case, "note"), {"text": "MP's office rang."})
    assert messages_of(response) == ["Note added."]
    assert CaseEvent.objects.filter(case=case, kind=EventKind.NOTE, restricted=False).exists()


def test_the_mp_inbox_team_cannot_add_restricted_notes(client_for, mp_inbox_officer):
    case = open_case(queue=Queue.MP_INBOX)
    before = snapshot(case)
    response = client_for(mp_inbox_officer).post(
        url(case, "note"), {"text": "Price looks high", "restricted": "on"}
    )
    assert messages_of(response) == ["The MP-inbox team cannot add restricted notes."]
    assert snapshot(case) == before


def test_the_mp_inbox_team_cannot_note_a_case_outside_its_queue(
    client_for, mp_inbox_officer, caseworker
):
    case = with_enquiry(open_case(queue=Queue.VIP), caseworker)
    before = snapshot(case)
    response = client_for(mp_inbox_officer).post(url(case, "note"), {"text": "Hello"})
    assert messages_of(response) == ["You cannot add notes to this case."]
    assert snapshot(case) == before


def test_the_mp_inbox_team_gets_404_for_a_case_it_cannot_see(client_for, mp_inbox_officer):
    case = open_case(queue=Queue.VIP)
    before = snapshot(case)
    for action, data in [
        ("note", {"text": "Hello"}),
        ("chaser", {"who": "Office", "how": "phone"}),
        ("handover", {"version": case.version, "to_queue": "triage", "reason": "x"}),
    ]:
        assert client_for(mp_inbox_officer).post(url(case, action), data).status_code == 404
    assert snapshot(case) == before


# --- handover --------------------------------------------------------------------


def test_a_caseworker_hands_a_case_over_to_the_mp_inbox(client_for, caseworker):
    case = open_case(owner=caseworker, status=Status.IN_PROGRESS)
    response = client_for(caseworker).post(
        url(case, "handover"),
        {
            "version": case.version,
            "to_queue": Queue.MP_INBOX,
            "reason": "Not eligible; the MP wants updates.",
        },
    )
    assert messages_of(response) == [f"Case {case.reference} handed over to the MP inbox."]
    assert response.url == f"/cases/{case.pk}/"
    case.refresh_from_db()
    assert (case.queue, case.owner) == (Queue.MP_INBOX, None)
    handover = Handover.objects.get(case=case)
    assert handover.reason == "Not eligible; the MP wants updates."


def test_a_handover_needs_a_reason(client_for, caseworker):
    case = open_case()
    before = snapshot(case)
    response = client_for(caseworker).post(
        url(case, "handover"), {"version": case.version, "to_queue": Queue.MP_INBOX, "reason": ""}
    )
    assert messages_of(response) == ["Give a reason for the handover."]
    assert snapshot(case) == before


def test_the_mp_inbox_team_hands_a_case_back_to_triage(client_for, mp_inbox_officer):
    case = open_case(queue=Queue.MP_INBOX)
    response = client_for(mp_inbox_officer).post(
        url(case, "handover"),
        {"version": case.version, "to_queue": Queue.TRIAGE, "reason": "New evidence of stock."},
    )
    case.refresh_from_db()
    assert case.queue == Queue.TRIAGE
    # The case has left the team's sight, so they go back to their inbox.
    assert response.url == "/mp-inbox/"
    assert messages_of(response) == [f"Case {case.reference} handed back to triage."]


def test_a_stale_handover_is_refused(client_for, caseworker, manager):
    case = open_case()
    seen = case.version
    services.case_claim(case_id=case.pk, acting_user=manager, no_conflict_declared=True)
    before = snapshot(case)
    response = client_for(caseworker).post(
        url(case, "handover"), {"version": seen, "to_queue": Queue.MP_INBOX, "reason": "MP asks"}
    )
    assert messages_of(response)[0].startswith(CONFLICT)
    assert snapshot(case) == before


def test_it_refuses_to_hand_over_a_closed_case(client_for, caseworker):
    case = closed_case()
    before = snapshot(case)
    response = client_for(caseworker).post(
        url(case, "handover"), {"version": case.version, "to_queue": Queue.MP_INBOX, "reason": "x"}
    )
    assert messages_of(response) == ["A closed case cannot be handed over."]
    assert snapshot(case) == before


# --- chasers ---------------------------------------------------------------------


def test_it_records_a_chaser(client_for, caseworker):
    case = open_case()
    before = Case.objects.values("queue", "priority", "status", "version").get(pk=case.pk)
    response = client_for(caseworker).post(
        url(case, "chaser"),
        {"who": "Office of a minister", "how": "in_person", "text": "Any news?"},
    )
    assert messages_of(response)[0].startswith("Chaser recorded.")
    chaser = CaseEvent.objects.filter(case=case, kind=EventKind.CHASER).get()
    assert chaser.data == {"who": "Office of a minister", "how": "in_person"}
    assert Case.objects.values("queue", "priority", "status", "version").get(pk=case.pk) == before
    page = client_for(caseworker).get(f"/cases/{case.pk}/").text
    assert "Office of a minister, in person" in page


def test_a_chaser_needs_who_and_how(client_for, caseworker):
    case = open_case()
    before = snapshot(case)
    response = client_for(caseworker).post(url(case, "chaser"), {"who": "", "how": "fax"})
    assert messages_of(response) == [
        "Say who chased the case. Say how they chased: phone, email, letter or in person."
    ]
    assert snapshot(case) == before


def test_the_mp_inbox_team_records_chasers_only_in_its_queue(
    client_for, mp_inbox_officer, caseworker
):
    client = client_for(mp_inbox_officer)
    inbox = open_case(queue=Queue.MP_INBOX)
    client.post(url(inbox, "chaser"), {"who": "MP's office", "how": "email"})
    assert CaseEvent.objects.filter(case=inbox, kind=EventKind.CHASER).exists()
    elsewhere = with_enquiry(open_case(queue=Queue.RAPID_RESPONSE), caseworker)
    response = client_for(mp_inbox_officer).post(
        url(elsewhere, "chaser"), {"who": "MP's office", "how": "email"}
    )
    assert messages_of(response) == [
        "The MP-inbox team records chasers only on cases in the MP inbox."
    ]
    assert not CaseEvent.objects.filter(case=elsewhere, kind=EventKind.CHASER).exists()


# --- the case page offers only what is allowed ----------------------------------


def forms_on(page: str) -> set[str]:
    return {
        action
        for action in ("claim", "assign", "status", "note", "handover", "chaser", "override")
        if f'/{action}/"' in page
    }


def test_a_caseworker_sees_claim_with_the_declaration(client_for, caseworker):
    case = open_case()
    page = client_for(caseworker).get(f"/cases/{case.pk}/").text
    assert forms_on(page) == {"claim", "status", "note", "handover", "chaser"}
    assert (
        "I have no conflict of interest with the supplier or any introducer of this offer" in page
    )
    assert f'name="version" value="{case.version}"' in page
    assert "Restricted (commercial)" in page
    assert "Print/send status summary" not in page


def test_a_manager_also_sees_assign_and_override(client_for, manager):
    case = open_case(owner=manager, status=Status.AWAITING_APPROVAL)
    page = client_for(manager).get(f"/cases/{case.pk}/").text
    assert forms_on(page) == {"assign", "status", "note", "handover", "chaser", "override"}
    assert 'value="contract_awarded"' in page
    assert "Print/send status summary" in page


def test_the_close_form_offers_no_contract_before_approval(client_for, caseworker):
    case = open_case(status=Status.NEGOTIATION)
    page = client_for(caseworker).get(f"/cases/{case.pk}/").text
    assert 'value="rejected"' in page
    assert 'value="contract_awarded"' not in page


def test_the_mp_inbox_team_sees_its_few_actions_on_its_cases(client_for, mp_inbox_officer):
    case = open_case(queue=Queue.MP_INBOX)
    page = client_for(mp_inbox_officer).get(f"/cases/{case.pk}/").text
    assert forms_on(page) == {"note", "handover", "chaser"}
    assert "Hand back to triage" in page
    assert "Restricted (commercial)" not in page
    assert "Print/send status summary" in page
    assert f"/mp-inbox/enquiries/new/?case={case.reference}" in page


def test_the_mp_inbox_team_gets_no_actions_on_other_cases(client_for, mp_inbox_officer, caseworker):
    case = with_enquiry(open_case(queue=Queue.VIP), caseworker)
    page = client_for(mp_inbox_officer).get(f"/cases/{case.pk}/").text
    assert forms_on(page) == set()
    assert "Print/send status summary" in page


def test_a_closed_case_offers_only_notes_and_chasers(client_for, caseworker):
    case = closed_case()
    page = client_for(caseworker).get(f"/cases/{case.pk}/").text
    assert forms_on(page) == {"note", "chaser"}


def test_the_page_has_one_h1_and_a_label_for_every_control(client_for, manager):
    import re

    case = open_case()
    page = client_for(manager).get(f"/cases/{case.pk}/").text
    assert page.count("<h1") == 1
    ids = re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', page)
    hidden = set(re.findall(r'<input type="hidden"[^>]*\bid="([^"]+)"', page))
    for control in set(ids) - hidden:
        assert f'for="{control}"' in page, control
    assert "<script>" not in page
