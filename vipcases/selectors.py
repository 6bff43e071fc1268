"""Reads a user triggers, each with its permission check built in.

Every selector restricts to what the user's role may see, so a case outside it is a
404, and fetches related rows up front (no query per row).
"""

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404

from offers.models import Introduction, OfferLine
from triage.models import TriageAssessment
from vipcases import access
from vipcases.codes import Queue
from vipcases.models import Case, CaseEvent, MPEnquiry


def case_visibility_filter(user) -> Q | None:
    """The Q a user's cases must match; None means nothing is visible."""
    if access.is_caseworker(user):
        return Q(queue__in=access.CASEWORK_QUEUES)
    if access.is_mp_inbox(user):
        return Q(queue=Queue.MP_INBOX) | Q(Exists(MPEnquiry.objects.filter(case=OuterRef("pk"))))
    return None


def cases_visible_to(user) -> QuerySet[Case]:
    visible = case_visibility_filter(user)
    if visible is None:
        return Case.objects.none()
    return Case.objects.filter(visible)


def case_list_for(user) -> QuerySet[Case]:
    """Cases the user may see, in the work order: clinical-need score, then age."""
    return (
        cases_visible_to(user)
        .select_related("offer__supplier", "owner")
        .order_by("-priority", "opened_at", "pk")
    )


def case_get_for(user, case_id: int) -> Case:
    """The case if the user may see it; 404 otherwise (no hint that it exists)."""
    case = (
        cases_visible_to(user)
        .select_related("offer__supplier", "owner", "duplicate_of")
        .filter(pk=case_id)
        .first()
    )
    if case is None:
        raise Http404("No such case.")
    return case


def case_events_for(user, case: Case) -> QuerySet[CaseEvent]:
    events = case.events.select_related("actor").order_by("-created_at", "-id")
    if not access.can_see_restricted(user):
        events = events.filter(restricted=False)
    return events


def case_detail_context(user, case: Case) -> dict:
    offer = case.offer
    return {
        "case": case,
        "offer": offer,
        "supplier": offer.supplier,
        "lines": list(OfferLine.objects.filter(offer=offer).order_by("pk")),
        "introductions": list(
            Introduction.objects.filter(offer=offer)
            .select_related("introducer")
            .order_by("introduced_at")
        ),
        "assessment": TriageAssessment.objects.filter(case=case).first(),
        "events": list(case_events_for(user, case)),
        "enquiries": list(case.enquiries.order_by("-received_at")),
        "duplicates": list(case.duplicates.only("pk", "queue", "status")),
    }


def broker_status() -> str:
    """Ping the Celery broker with a one-second budget."""
    from vipcases.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=0, timeout=1)
        return "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means unreachable
        return f"unavailable: {type(exc).__name__}"


__all__ = ["Prefetch"]
