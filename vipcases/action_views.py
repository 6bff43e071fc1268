"""The case page's actions: claim, assign, change status, note, hand over, chaser.

Each view is POST only and thin: the role is checked by `role_required` (403), the
case by `selectors.case_get_for` (404 when the user may not see it), the input by a
form, and the rule by one service call, whose CaseError becomes an error message.
Forms that change the case send the version the user saw as `expected_version`, so
a second person's stale save is refused and nothing is overwritten.
"""

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from triage.forms import ScoreOverrideForm
from vipcases import access, case_permissions, selectors, services, workflow
from vipcases.access import CASEWORKER, MANAGER, MP_INBOX, role_required
from vipcases.codes import Queue, Status
from vipcases.forms import (
    AssignForm,
    ChaserForm,
    ClaimForm,
    HandOverForm,
    NoteForm,
    StatusForm,
)
from vipcases.models import Case


def case_actions_context(user, case: Case, *, scored: bool) -> dict:
    """What the case page's "Actions" area offers this user, with a form for each."""
    actions = case_permissions.allowed_actions(access.user_roles(user), case, scored=scored)
    version = {"version": case.version}
    context = {
        "case": case,
        "actions": actions,
        "show_summary_link": access.is_mp_inbox(user) or access.is_manager(user),
    }
    if case_permissions.CLAIM in actions:
        context["claim_form"] = ClaimForm(initial=version, auto_id="claim_%s")
    if case_permissions.STATUS in actions:
        context["status_form"] = StatusForm(
            initial=version,
            next_statuses=workflow.next_statuses(case.status),
            auto_id="status_%s",
        )
    if case_permissions.CLOSE in actions:
        context["close_form"] = StatusForm(
            initial={**version, "to_status": Status.CLOSED},
            closing=True,
            outcomes=case_permissions.outcomes_allowed(case.status),
            auto_id="close_%s",
        )
    if case_permissions.ASSIGN in actions:
        context["assign_form"] = AssignForm(
            initial={**version, "owner": case.owner_id}, auto_id="assign_%s"
        )
    if case_permissions.OVERRIDE in actions:
        context["override_form"] = ScoreOverrideForm(
            auto_id="override_%s", initial={"version": case.version}
        )
    if case_permissions.NOTE in actions:
        form = NoteForm(auto_id="note_%s")
        if case_permissions.NOTE_RESTRICTED not in actions:
            del form.fields["restricted"]
        context["note_form"] = form
    if case_permissions.HAND_OVER in actions:
        context["hand_over_form"] = HandOverForm(
            initial={**version, "to_queue": Queue.MP_INBOX}, auto_id="handover_%s"
        )
    if case_permissions.HAND_BACK in actions:
        context["hand_back_form"] = HandOverForm(
            initial={**version, "to_queue": Queue.TRIAGE}, auto_id="handback_%s"
        )
    if case_permissions.CHASER in actions:
        context["chaser_form"] = ChaserForm(auto_id="chaser_%s")
    return context


def _errors_sentence(form) -> str:
    return " ".join(error for errors in form.errors.values() for error in errors)


def _back_to_case(request, case_id: int) -> HttpResponseRedirect:
    """The case page, or the user's list when the action took the case out of their
    sight (the MP-inbox team handing a case back to triage)."""
    if selectors.cases_visible_to(request.user).filter(pk=case_id).exists():
        return redirect("case_detail", case_id=case_id)
    if access.is_mp_inbox(request.user):
        return HttpResponseRedirect(reverse("mp_inbox"))
    return redirect("case_list")


def _act(request, case_id: int, form, service_call: Callable[[dict], str]):
    """Validate `form`, run the service, and turn the outcome into a message."""
    case = selectors.case_get_for(request.user, case_id)
    if not form.is_valid():
        messages.error(request, _errors_sentence(form))
        return redirect("case_detail", case_id=case.pk)
    try:
        success = service_call(form.cleaned_data)
    except services.CaseError as exc:
        messages.error(request, str(exc))
        return redirect("case_detail", case_id=case.pk)
    messages.success(request, success)
    return _back_to_case(request, case.pk)


@require_POST
@role_required(CASEWORKER)
def case_claim(request, case_id: int):
    def claim(data: dict) -> str:
        services.case_claim(
            case_id=case_id,
            acting_user=request.user,
            no_conflict_declared=data["no_conflict"],
            expected_version=data["version"],
        )
        return "You have claimed this case. Your declaration is on the timeline."

    return _act(request, case_id, ClaimForm(request.POST), claim)


@require_POST
@role_required(MANAGER)
def case_assign(request, case_id: int):
    def assign(data: dict) -> str:
        owner = data["owner"]
        services.case_assign(
            case_id=case_id,
            owner=owner,
            acting_user=request.user,
            rationale=data["rationale"],
            expected_version=data["version"],
        )
        if owner is None:
            return "The case is unassigned."
        return f"The case is assigned to {owner.get_full_name() or owner.get_username()}."

    return _act(request, case_id, AssignForm(request.POST), assign)


@require_POST
@role_required(CASEWORKER)
def case_status(request, case_id: int):
    def change(data: dict) -> str:
        case = services.case_change_status(
            case_id=case_id,
            to_status=data["to_status"],
            acting_user=request.user,
            rationale=data["rationale"],
            outcome=data["outcome"] if data["to_status"] == Status.CLOSED else "",
            expected_version=data["version"],
        )
        if case.status == Status.CLOSED:
            return f"The case is closed: {case.get_outcome_display().lower()}."
        return f"The case is now {case.get_status_display().lower()}."

    return _act(request, case_id, StatusForm(request.POST), change)


@require_POST
@role_required(CASEWORKER, MP_INBOX)
def case_note(request, case_id: int):
    def note(data: dict) -> str:
        services.case_add_note(
            case_id=case_id,
            acting_user=request.user,
            text=data["text"],
            restricted=data["restricted"],
        )
        return "Restricted note added." if data["restricted"] else "Note added."

    return _act(request, case_id, NoteForm(request.POST), note)


@require_POST
@role_required(CASEWORKER, MP_INBOX)
def case_hand_over(request, case_id: int):
    def hand_over(data: dict) -> str:
        handover = services.case_hand_over(
            case_id=case_id,
            to_queue=data["to_queue"],
            acting_user=request.user,
            reason=data["reason"],
            expected_version=data["version"],
        )
        if handover.to_queue == Queue.MP_INBOX:
            return f"Case {handover.case.reference} handed over to the MP inbox."
        return f"Case {handover.case.reference} handed back to triage."

    return _act(request, case_id, HandOverForm(request.POST), hand_over)


@require_POST
@role_required(CASEWORKER, MP_INBOX)
def case_chaser(request, case_id: int):
    def chaser(data: dict) -> str:
        services.case_record_chaser(
            case_id=case_id,
            acting_user=request.user,
            who=data["who"],
            how=data["how"],
            text=data["text"],
        )
        return "Chaser recorded. It does not change the case's place in the queue."

    return _act(request, case_id, ChaserForm(request.POST), chaser)
