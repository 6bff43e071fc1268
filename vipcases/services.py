"""Every write to a case goes through these services.

Guarantees, for each public function:
- atomic: the change and its CaseEvent are written in one transaction;
- audited: one CaseEvent per change, naming the acting user (None = the system) and the rationale;
- checked: the acting user's role and the workflow are checked here, not only in views,
  and a broken rule raises CaseError with a sentence a user can read;
- concurrency-safe: the case row is locked, and when the caller passes the version it
  saw, a newer version is refused with CaseConflict instead of being overwritten;
- side effects (tasks, emails) are published only after commit.
"""

from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from vipcases import access, workflow
from vipcases.codes import EnquiryStatus, EventKind, Queue, Status
from vipcases.events import event_append, events_append
from vipcases.filters import ListQuery
from vipcases.models import Case, CaseEvent, Handover, MPEnquiry, SavedFilter


class CaseError(Exception):
    """A business rule stopped the change; the message is for the user."""


class CaseConflict(CaseError):
    """Somebody else saved the case first."""


def _lock(case_id: int, expected_version: int | None) -> Case:
    try:
        case = Case.objects.select_for_update().get(pk=case_id)
    except Case.DoesNotExist as exc:
        raise CaseError("That case does not exist.") from exc
    if expected_version is not None and case.version != expected_version:
        raise CaseConflict(
            "Someone else changed this case while you were looking at it. "
            "Nothing was saved: review the latest version and try again."
        )
    return case


def _save(case: Case, fields: list[str]) -> None:
    case.version += 1
    case.save(update_fields=[*fields, "version", "updated_at"])


def case_event_record(
    *,
    case: Case,
    kind: str,
    actor=None,
    from_value: str = "",
    to_value: str = "",
    rationale: str = "",
    restricted: bool = False,
    data: dict | None = None,
    at: datetime | None = None,
    new_case: bool = False,
) -> CaseEvent:
    """Append one event to a case's timeline, chained to the case's last event
    (vipcases.events). Call it inside the service's transaction, holding the case's row
    lock; `new_case=True` for a case created in that transaction."""
    event = CaseEvent(
        case=case,
        kind=kind,
        actor=actor,
        from_value=str(from_value or ""),
        to_value=str(to_value or ""),
        rationale=rationale,
        restricted=restricted,
        data=data or {},
        created_at=at or timezone.now(),
    )
    return event_append(event, new_case=new_case)


def _require_rationale(rationale: str, what: str) -> str:
    rationale = (rationale or "").strip()
    if not rationale:
        raise CaseError(f"Give a rationale for {what}.")
    return rationale


def _require_caseworker(user) -> None:
    if not access.is_caseworker(user):
        raise CaseError("Only caseworkers and managers can work cases.")


def _require_manager(user) -> None:
    if not access.is_manager(user):
        raise CaseError("Only managers can do that.")


@transaction.atomic
def case_open(
    *, offer, acting_user=None, at: datetime | None = None, lead_introducer_role: str = ""
) -> Case:
    """Open the case for a new offer in the triage queue. Audited; called by offer_create,
    which passes the most senior role among the offer's introducers."""
    case = Case.objects.create(
        offer=offer, opened_at=offer.received_at, lead_introducer_role=lead_introducer_role
    )
    case_event_record(
        case=case,
        kind=EventKind.CREATED,
        actor=acting_user,
        to_value=Queue.TRIAGE,
        rationale=f"Offer received by {offer.get_channel_display().lower()}.",
        at=at,
        new_case=True,
    )
    return case


@transaction.atomic
def case_claim(
    *, case_id: int, acting_user, no_conflict_declared: bool, expected_version: int | None = None
) -> Case:
    """Take an unassigned case. The caseworker must first declare no conflict of
    interest with the introducers; the declaration is an event of its own."""
    _require_caseworker(acting_user)
    case = _lock(case_id, expected_version)
    if not case.is_open:
        raise CaseError("A closed case cannot be claimed.")
    if case.owner_id is not None:
        if case.owner_id == acting_user.pk:
            raise CaseError("You already own this case.")
        raise CaseError("This case already has an owner; ask a manager to reassign it.")
    if not no_conflict_declared:
        raise CaseError(
            "Declare that you have no conflict of interest with the introducer before claiming."
        )
    case_event_record(
        case=case,
        kind=EventKind.DECLARATION,
        actor=acting_user,
        rationale="I have no conflict of interest with the supplier or any introducer of this offer.",
    )
    case.owner = acting_user
    fields = ["owner"]
    if case.status == Status.NEW:
        case.status = Status.IN_PROGRESS
        fields.append("status")
    _save(case, fields)
    case_event_record(
        case=case, kind=EventKind.CLAIMED, actor=acting_user, to_value=acting_user.get_username()
    )
    return case


@transaction.atomic
def case_assign(
    *, case_id: int, owner, acting_user, rationale: str = "", expected_version: int | None = None
) -> Case:
    """A manager gives a case to a caseworker (or takes it away with owner=None)."""
    _require_manager(acting_user)
    case = _lock(case_id, expected_version)
    if not case.is_open:
        raise CaseError("A closed case cannot be assigned.")
    if owner is not None and not access.is_caseworker(owner):
        raise CaseError(f"{owner.get_username()} is not a caseworker.")
    if case.owner_id == (owner.pk if owner else None):
        raise CaseError("The case already has that owner.")
    previous = case.owner.get_username() if case.owner_id else ""
    case.owner = owner
    _save(case, ["owner"])
    case_event_record(
        case=case,
        kind=EventKind.ASSIGNED,
        actor=acting_user,
        from_value=previous,
        to_value=owner.get_username() if owner else "",
        rationale=rationale.strip(),
    )
    return case


@transaction.atomic
def case_change_status(
    *,
    case_id: int,
    to_status: str,
    acting_user,
    rationale: str = "",
    outcome: str = "",
    expected_version: int | None = None,
) -> Case:
    """Move a case along the workflow (vipcases/workflow.py). Closing needs an outcome
    and a rationale; stepping back needs a rationale."""
    _require_caseworker(acting_user)
    case = _lock(case_id, expected_version)
    check = workflow.check_transition(case.status, to_status, outcome)
    if not check.allowed:
        raise CaseError(check.reason)
    if check.rationale_required:
        rationale = _require_rationale(rationale, "this decision")
    previous = case.status
    case.status = to_status
    fields = ["status"]
    if to_status == Status.CLOSED:
        case.outcome = outcome
        case.queue = Queue.CLOSED
        case.closed_at = timezone.now()
        fields += ["outcome", "queue", "closed_at"]
    _save(case, fields)
    case_event_record(
        case=case,
        kind=EventKind.CLOSED if to_status == Status.CLOSED else EventKind.STATUS_CHANGED,
        actor=acting_user,
        from_value=previous,
        to_value=to_status,
        rationale=rationale.strip(),
        data={"outcome": outcome} if outcome else {},
    )
    return case


@transaction.atomic
def case_add_note(*, case_id: int, acting_user, text: str, restricted: bool = False) -> CaseEvent:
    """Add a note to the timeline. Restricted (commercial) notes are hidden from the MP inbox;
    MP-inbox staff may add notes only to cases in their queue, never restricted ones."""
    text = (text or "").strip()
    if not text:
        raise CaseError("Write the note before saving it.")
    case = _lock(case_id, None)
    if access.is_caseworker(acting_user):
        pass
    elif access.is_mp_inbox(acting_user) and case.queue == Queue.MP_INBOX:
        if restricted:
            raise CaseError("The MP-inbox team cannot add restricted notes.")
    else:
        raise CaseError("You cannot add notes to this case.")
    return case_event_record(
        case=case, kind=EventKind.NOTE, actor=acting_user, rationale=text, restricted=restricted
    )


@transaction.atomic
def case_move(
    *, case_id: int, to_queue: str, acting_user, rationale: str, expected_version: int | None = None
) -> Case:
    """A manager moves a case to another queue by hand, with a rationale."""
    _require_manager(acting_user)
    rationale = _require_rationale(rationale, "moving the case")
    case = _lock(case_id, expected_version)
    if not case.is_open:
        raise CaseError("A closed case cannot be moved.")
    if to_queue not in Queue.values or to_queue == Queue.CLOSED:
        raise CaseError("Choose an open queue; close a case by changing its status.")
    if to_queue == case.queue:
        raise CaseError("The case is already in that queue.")
    previous = case.queue
    case.queue = to_queue
    _save(case, ["queue"])
    case_event_record(
        case=case,
        kind=EventKind.MOVED,
        actor=acting_user,
        from_value=previous,
        to_value=to_queue,
        rationale=rationale,
    )
    return case


@transaction.atomic
def case_hand_over(
    *, case_id: int, to_queue: str, acting_user, reason: str, expected_version: int | None = None
) -> Handover:
    """Pass a case to the MP inbox (caseworkers) or back to casework (MP-inbox staff)."""
    reason = _require_rationale(reason, "the handover")
    case = _lock(case_id, expected_version)
    if not case.is_open:
        raise CaseError("A closed case cannot be handed over.")
    if to_queue == Queue.MP_INBOX:
        _require_caseworker(acting_user)
    elif (
        access.is_mp_inbox(acting_user)
        and case.queue == Queue.MP_INBOX
        and to_queue
        in (
            Queue.TRIAGE,
            Queue.VIP,
            Queue.RAPID_RESPONSE,
        )
    ):
        # The MP inbox hands back to triage only; it may not choose a casework queue itself.
        if to_queue != Queue.TRIAGE:
            raise CaseError("The MP-inbox team hands cases back to triage.")
    elif access.is_caseworker(acting_user) and to_queue in (
        Queue.TRIAGE,
        Queue.VIP,
        Queue.RAPID_RESPONSE,
    ):
        pass
    else:
        raise CaseError("You cannot hand this case over.")
    if to_queue == case.queue:
        raise CaseError("The case is already in that queue.")
    handover = Handover.objects.create(
        case=case, from_queue=case.queue, to_queue=to_queue, reason=reason, created_by=acting_user
    )
    previous = case.queue
    case.queue = to_queue
    case.owner = None
    _save(case, ["queue", "owner"])
    case_event_record(
        case=case,
        kind=EventKind.HANDED_OVER,
        actor=acting_user,
        from_value=previous,
        to_value=to_queue,
        rationale=reason,
        data={"handover_id": handover.pk},
    )
    return handover


@transaction.atomic
def case_record_chaser(*, case_id: int, acting_user, who: str, how: str, text: str) -> CaseEvent:
    """Record that an introducer or supplier chased the case (a call, an email to a
    minister's office). A chaser is information only: it changes no order or score.
    MP-inbox staff record chasers only on cases in the MP inbox."""
    if not (access.is_caseworker(acting_user) or access.is_mp_inbox(acting_user)):
        raise CaseError("You cannot record chasers.")
    who = (who or "").strip()
    if not who:
        raise CaseError("Say who chased the case.")
    case = _lock(case_id, None)
    if not access.is_caseworker(acting_user) and case.queue != Queue.MP_INBOX:
        raise CaseError("The MP-inbox team records chasers only on cases in the MP inbox.")
    return case_event_record(
        case=case,
        kind=EventKind.CHASER,
        actor=acting_user,
        rationale=(text or "").strip(),
        data={"who": who, "how": (how or "").strip()},
    )


@transaction.atomic
def enquiry_record(
    *,
    case_id: int,
    acting_user,
    mp_name: str,
    constituency: str,
    received_at: datetime,
    question: str,
) -> MPEnquiry:
    """Record an MP asking about a case (MP-inbox staff, caseworkers and managers)."""
    if not (access.is_mp_inbox(acting_user) or access.is_caseworker(acting_user)):
        raise CaseError("You cannot record MP enquiries.")
    mp_name, question = (mp_name or "").strip(), (question or "").strip()
    if not mp_name or not question:
        raise CaseError("Give the MP's name and their question.")
    case = _lock(case_id, None)
    enquiry = MPEnquiry.objects.create(
        case=case,
        mp_name=mp_name,
        constituency=(constituency or "").strip(),
        received_at=received_at,
        question=question,
        recorded_by=acting_user,
    )
    case_event_record(
        case=case,
        kind=EventKind.ENQUIRY,
        actor=acting_user,
        rationale=question,
        data={"enquiry_id": enquiry.pk, "mp_name": mp_name},
    )
    return enquiry


@transaction.atomic
def enquiry_reply(*, enquiry_id: int, acting_user, reply: str, close: bool = False) -> MPEnquiry:
    """Record the reply sent to an MP."""
    if not (access.is_mp_inbox(acting_user) or access.is_caseworker(acting_user)):
        raise CaseError("You cannot reply to MP enquiries.")
    reply = (reply or "").strip()
    if not reply:
        raise CaseError("Write the reply before saving it.")
    enquiry = MPEnquiry.objects.select_for_update().get(pk=enquiry_id)
    if enquiry.status == EnquiryStatus.CLOSED:
        raise CaseError("This enquiry is closed.")
    enquiry.reply = reply
    enquiry.replied_at = timezone.now()
    enquiry.status = EnquiryStatus.CLOSED if close else EnquiryStatus.REPLIED
    enquiry.save(update_fields=["reply", "replied_at", "status"])
    case = _lock(enquiry.case_id, None)
    case_event_record(
        case=case,
        kind=EventKind.REPLY,
        actor=acting_user,
        rationale=reply,
        data={"enquiry_id": enquiry.pk, "mp_name": enquiry.mp_name},
    )
    return enquiry


SLA_BATCH_SIZE = 1000


@transaction.atomic
def cases_flag_sla_breaches(*, now: datetime | None = None) -> int:
    """Flag open cases past their SLA due date, once each: a `sla_breached` event, and an
    email to the owner (or to the managers when nobody owns the case) after commit.
    Returns how many were flagged in this batch; the schedule calls it until it returns 0."""
    from django.core.mail import send_mass_mail

    now = now or timezone.now()
    cases = list(
        Case.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(sla_due_at__lt=now, sla_breached_at__isnull=True)
        .exclude(status=Status.CLOSED)
        .select_related("owner")
        .order_by("sla_due_at")[:SLA_BATCH_SIZE]
    )
    if not cases:
        return 0
    managers = list(
        get_user_model()
        .objects.filter(is_active=True, groups__name=access.MANAGER)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    mail: dict[str, list[str]] = {}
    events = []
    for case in cases:
        case.sla_breached_at = now
        late = f"{case.reference} in {Queue(case.queue).label} was due {timezone.localtime(case.sla_due_at):%d %b %Y %H:%M}"
        events.append(
            CaseEvent(
                case=case,
                kind=EventKind.SLA_BREACHED,
                rationale=f"Past its service level: due {timezone.localtime(case.sla_due_at):%d %b %Y %H:%M}.",
                data={"owner": case.owner.get_username() if case.owner_id else None},
                created_at=now,
            )
        )
        recipients = [case.owner.email] if case.owner_id and case.owner.email else managers
        for address in recipients:
            mail.setdefault(address, []).append(late)
    Case.objects.bulk_update(cases, ["sla_breached_at"])
    events_append(events)
    messages = [
        (
            f"{len(lines)} case{'s' if len(lines) != 1 else ''} past their service level",
            "These cases are past their service level:\n\n" + "\n".join(lines),
            None,
            [address],
        )
        for address, lines in mail.items()
    ]
    transaction.on_commit(lambda: send_mass_mail(messages, fail_silently=True))
    return len(cases)


# --- the case list: bulk changes and saved filters ------------------------------------

BULK_MAX_CASES = 200


class BulkCaseError(CaseError):
    """One case of a bulk change was refused, so nothing was changed."""

    def __init__(self, *, case_id: int, reason: str):
        self.case_id = case_id
        self.reason = reason
        super().__init__(f"PPE-{case_id:06d}: {reason}")


def _bulk_case_ids(case_ids) -> list[int]:
    ids = sorted({int(case_id) for case_id in case_ids})
    if not ids:
        raise CaseError("Select at least one case.")
    if len(ids) > BULK_MAX_CASES:
        raise CaseError(f"Select at most {BULK_MAX_CASES} cases at a time.")
    # Locked in id order, so two bulk changes at once cannot deadlock.
    return ids


@transaction.atomic
def cases_bulk_assign(*, case_ids, owner, acting_user, rationale: str = "") -> list[Case]:
    """Assign each case to `owner` through case_assign: all or nothing, in one
    transaction, one `assigned` event per case. Managers only. Raises BulkCaseError
    naming the first case that was refused; then no case has changed."""
    _require_manager(acting_user)
    changed = []
    for case_id in _bulk_case_ids(case_ids):
        try:
            changed.append(
                case_assign(
                    case_id=case_id, owner=owner, acting_user=acting_user, rationale=rationale
                )
            )
        except CaseError as exc:
            raise BulkCaseError(case_id=case_id, reason=str(exc)) from exc
    return changed


@transaction.atomic
def cases_bulk_move(*, case_ids, to_queue: str, acting_user, rationale: str) -> list[Case]:
    """Move each case to `to_queue` through case_move, with one rationale: all or
    nothing, in one transaction, one `moved` event per case. Managers only. Raises
    BulkCaseError naming the first case that was refused; then no case has changed."""
    _require_manager(acting_user)
    rationale = _require_rationale(rationale, "moving the cases")
    changed = []
    for case_id in _bulk_case_ids(case_ids):
        try:
            changed.append(
                case_move(
                    case_id=case_id, to_queue=to_queue, acting_user=acting_user, rationale=rationale
                )
            )
        except CaseError as exc:
            raise BulkCaseError(case_id=case_id, reason=str(exc)) from exc
    return changed


@transaction.atomic
def saved_filter_create(*, acting_user, name: str, query: str) -> SavedFilter:
    """Save the case list's current tab, filters and sort under a name. Managers only;
    names are unique per manager (ignoring case). Only the list's own parameters are
    kept (never a page cursor)."""
    _require_manager(acting_user)
    name = " ".join((name or "").split())
    if not name:
        raise CaseError("Enter a name for the filter.")
    if len(name) > 100:
        raise CaseError("The name must be 100 characters or fewer.")
    if SavedFilter.objects.filter(owner=acting_user, name__iexact=name).exists():
        raise CaseError(f"You already have a filter called “{name}”. Choose another name.")
    return SavedFilter.objects.create(
        owner=acting_user, name=name, query=ListQuery.from_string(query or "").urlencode()
    )


@transaction.atomic
def saved_filter_delete(*, acting_user, saved_filter_id: int) -> None:
    """Delete one of the acting manager's own saved filters."""
    _require_manager(acting_user)
    deleted, _ = SavedFilter.objects.filter(pk=saved_filter_id, owner=acting_user).delete()
    if not deleted:
        raise CaseError("You can delete only your own saved filters.")


# --- exports ------------------------------------------------------------------------------

EXPORT_FORMATS = {"html": "printable page", "pdf": "PDF"}


@transaction.atomic
def export_record(*, acting_user, kind: str, query: str = "", row_count: int):
    """Record that a manager exported a list (vipcases.models.ExportRecord): who, when,
    which export, the filter that chose the rows and how many rows it held. Call it
    before sending the file. Managers only.

    One record per export, not an event per case: a list export can hold 100,000 cases,
    and as many timeline events would bury each case's own history."""
    from vipcases.models import ExportRecord

    _require_manager(acting_user)
    if kind not in ExportRecord.Kind.values:
        raise CaseError(f"Unknown export {kind!r}.")
    return ExportRecord.objects.create(
        exported_by=acting_user, kind=kind, query=(query or "")[:2000], row_count=row_count
    )


@transaction.atomic
def case_export_record(*, case_id: int, acting_user, export_format: str) -> CaseEvent:
    """Record on the case's timeline that someone exported its disclosure pack (as the
    printable page or a PDF). Caseworkers and managers; the caller has already checked
    that the user may see the case (vipcases.selectors.case_get_for)."""
    _require_caseworker(acting_user)
    if export_format not in EXPORT_FORMATS:
        raise CaseError(f"Unknown export format {export_format!r}.")
    case = _lock(case_id, None)
    name = acting_user.get_full_name() or acting_user.get_username()
    return case_event_record(
        case=case,
        kind=EventKind.EXPORTED,
        actor=acting_user,
        to_value=export_format,
        rationale=f"Disclosure pack exported as a {EXPORT_FORMATS[export_format]} by {name}.",
        data={"export": "disclosure_pack", "format": export_format},
    )
