import pytest

from tests import factories
from vipcases import services
from vipcases.codes import EventKind, Queue, Status
from vipcases.models import Case, CaseEvent, Handover, MPEnquiry

pytestmark = pytest.mark.django_db


def open_case(queue=Queue.VIP, **fields):
    """A case in train in a casework queue (moved there by the system, as routing would)."""
    case = factories.case()
    Case.objects.filter(pk=case.pk).update(
        queue=queue, status=Status.NEW, outcome="", closed_at=None, **fields
    )
    case.refresh_from_db()
    return case


def kinds(case):
    return list(CaseEvent.objects.filter(case=case).order_by("id").values_list("kind", flat=True))


def test_it_claims_a_case_after_the_declaration(caseworker):
    case = open_case()
    services.case_claim(case_id=case.pk, acting_user=caseworker, no_conflict_declared=True)
    case.refresh_from_db()
    assert case.owner == caseworker
    assert case.status == Status.IN_PROGRESS
    assert kinds(case)[-2:] == [EventKind.DECLARATION, EventKind.CLAIMED]
    assert CaseEvent.objects.filter(
        case=case, kind=EventKind.DECLARATION, actor=caseworker
    ).exists()


def test_it_refuses_a_claim_without_the_declaration(caseworker):
    case = open_case()
    before = kinds(case)
    with pytest.raises(services.CaseError, match="conflict of interest"):
        services.case_claim(case_id=case.pk, acting_user=caseworker, no_conflict_declared=False)
    case.refresh_from_db()
    assert case.owner is None
    assert kinds(case) == before


def test_it_refuses_to_claim_an_owned_case(caseworker, manager):
    case = open_case(owner=manager)
    with pytest.raises(services.CaseError, match="already has an owner"):
        services.case_claim(case_id=case.pk, acting_user=caseworker, no_conflict_declared=True)


def test_it_refuses_casework_to_the_mp_inbox_team_and_outsiders(mp_inbox_officer, outsider):
    case = open_case()
    for user in (mp_inbox_officer, outsider):
        with pytest.raises(services.CaseError):
            services.case_claim(case_id=case.pk, acting_user=user, no_conflict_declared=True)


def test_it_lets_only_managers_assign(caseworker, manager):
    case = open_case()
    with pytest.raises(services.CaseError, match="Only managers"):
        services.case_assign(case_id=case.pk, owner=caseworker, acting_user=caseworker)
    services.case_assign(
        case_id=case.pk, owner=caseworker, acting_user=manager, rationale="Balancing load"
    )
    event = CaseEvent.objects.filter(case=case).last()
    assert (event.kind, event.actor, event.to_value, event.rationale) == (
        EventKind.ASSIGNED,
        manager,
        caseworker.username,
        "Balancing load",
    )


def test_it_refuses_to_assign_to_someone_who_is_not_a_caseworker(manager, mp_inbox_officer):
    case = open_case()
    with pytest.raises(services.CaseError, match="not a caseworker"):
        services.case_assign(case_id=case.pk, owner=mp_inbox_officer, acting_user=manager)


def test_it_moves_along_the_workflow_and_closes_with_a_rationale(caseworker):
    case = open_case()
    for status in [
        "in_progress",
        "technical_assurance",
        "due_diligence",
        "negotiation",
        "awaiting_approval",
    ]:
        services.case_change_status(case_id=case.pk, to_status=status, acting_user=caseworker)
    with pytest.raises(services.CaseError, match="rationale"):
        services.case_change_status(
            case_id=case.pk, to_status="closed", outcome="contract_awarded", acting_user=caseworker
        )
    services.case_change_status(
        case_id=case.pk,
        to_status="closed",
        outcome="contract_awarded",
        rationale="Meets FFP3 need at benchmark price; approved by the panel.",
        acting_user=caseworker,
    )
    case.refresh_from_db()
    assert (case.status, case.queue, case.outcome) == (
        Status.CLOSED,
        Queue.CLOSED,
        "contract_awarded",
    )
    assert case.closed_at is not None
    closed = CaseEvent.objects.filter(case=case, kind=EventKind.CLOSED).get()
    assert closed.rationale.startswith("Meets FFP3 need")


def test_it_refuses_to_skip_stages(caseworker):
    case = open_case()
    with pytest.raises(services.CaseError, match="one stage at a time"):
        services.case_change_status(
            case_id=case.pk, to_status="negotiation", acting_user=caseworker
        )


def test_it_refuses_a_stale_version_and_overwrites_nothing(caseworker, manager):
    case = open_case()
    seen = case.version
    services.case_assign(
        case_id=case.pk, owner=caseworker, acting_user=manager, expected_version=seen
    )
    with pytest.raises(services.CaseConflict, match="Someone else changed this case"):
        services.case_change_status(
            case_id=case.pk,
            to_status="closed",
            outcome="rejected",
            rationale="No longer needed",
            acting_user=manager,
            expected_version=seen,
        )
    case.refresh_from_db()
    assert case.status == Status.NEW
    assert case.version == seen + 1


def test_it_hides_nothing_but_keeps_restricted_notes_from_the_mp_inbox(
    caseworker, mp_inbox_officer
):
    case = open_case(queue=Queue.MP_INBOX)
    note = services.case_add_note(
        case_id=case.pk, acting_user=caseworker, text="Quoted £2.10 ex works", restricted=True
    )
    assert note.restricted
    with pytest.raises(services.CaseError, match="restricted"):
        services.case_add_note(
            case_id=case.pk, acting_user=mp_inbox_officer, text="x", restricted=True
        )
    services.case_add_note(case_id=case.pk, acting_user=mp_inbox_officer, text="MP's office called")
    with pytest.raises(services.CaseError, match="Write the note"):
        services.case_add_note(case_id=case.pk, acting_user=caseworker, text="   ")


def test_it_refuses_mp_inbox_notes_on_cases_outside_the_inbox(mp_inbox_officer):
    case = open_case(queue=Queue.VIP)
    with pytest.raises(services.CaseError):
        services.case_add_note(case_id=case.pk, acting_user=mp_inbox_officer, text="hello")


def test_it_hands_a_case_over_to_the_mp_inbox_and_back(caseworker, mp_inbox_officer):
    case = open_case(owner=caseworker)
    services.case_hand_over(
        case_id=case.pk, to_queue=Queue.MP_INBOX, acting_user=caseworker, reason="MP tracking only"
    )
    case.refresh_from_db()
    assert (case.queue, case.owner) == (Queue.MP_INBOX, None)
    assert Handover.objects.filter(
        case=case, from_queue=Queue.VIP, to_queue=Queue.MP_INBOX
    ).exists()
    with pytest.raises(services.CaseError, match="back to triage"):
        services.case_hand_over(
            case_id=case.pk, to_queue=Queue.VIP, acting_user=mp_inbox_officer, reason="please"
        )
    services.case_hand_over(
        case_id=case.pk,
        to_queue=Queue.TRIAGE,
        acting_user=mp_inbox_officer,
        reason="New stock offered",
    )
    case.refresh_from_db()
    assert case.queue == Queue.TRIAGE
    assert kinds(case).count(EventKind.HANDED_OVER) == 2


def test_it_requires_a_reason_for_a_handover_and_a_move(caseworker, manager):
    case = open_case()
    with pytest.raises(services.CaseError, match="rationale"):
        services.case_hand_over(
            case_id=case.pk, to_queue=Queue.MP_INBOX, acting_user=caseworker, reason=""
        )
    with pytest.raises(services.CaseError, match="rationale"):
        services.case_move(
            case_id=case.pk, to_queue=Queue.RAPID_RESPONSE, acting_user=manager, rationale=" "
        )
    services.case_move(
        case_id=case.pk, to_queue=Queue.RAPID_RESPONSE, acting_user=manager, rationale="Need rose"
    )
    case.refresh_from_db()
    assert case.queue == Queue.RAPID_RESPONSE


def test_it_records_an_enquiry_and_its_reply(mp_inbox_officer):
    from django.utils import timezone

    case = open_case(queue=Queue.MP_INBOX)
    enquiry = services.enquiry_record(
        case_id=case.pk,
        acting_user=mp_inbox_officer,
        mp_name="Jo Example MP",
        constituency="Westford",
        received_at=timezone.now(),
        question="When will my constituent hear back?",
    )
    services.enquiry_reply(enquiry_id=enquiry.pk, acting_user=mp_inbox_officer, reply="This week.")
    enquiry.refresh_from_db()
    assert enquiry.status == "replied"
    assert enquiry.replied_at is not None
    assert kinds(case)[-2:] == [EventKind.ENQUIRY, EventKind.REPLY]
    assert MPEnquiry.objects.count() == 1


def test_a_chaser_changes_nothing_but_the_timeline(caseworker):
    case = open_case()
    before = Case.objects.values("queue", "priority", "status", "version").get(pk=case.pk)
    services.case_record_chaser(
        case_id=case.pk,
        acting_user=caseworker,
        who="Office of a minister",
        how="email",
        text="Any news?",
    )
    assert Case.objects.values("queue", "priority", "status", "version").get(pk=case.pk) == before
    assert kinds(case)[-1] == EventKind.CHASER
