"""The MP inbox: cases handed over for tracking, MP enquiries and their replies, and a
status summary safe to send to an MP. For the MP-inbox team and managers.

The summary shows no price, no value, no score and nothing from notes: it is built
from a short list of plain facts, never from the case page's context.
"""

from django.contrib import messages
from django.db.models import F, OuterRef, Subquery
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from offers.models import OfferLine
from vipcases import selectors, services
from vipcases.access import MANAGER, MP_INBOX, role_required
from vipcases.codes import Category, EnquiryStatus, EventKind, Outcome, Queue, Status
from vipcases.forms import EnquiryForm, ReplyForm, error_summary, parse_case_reference
from vipcases.models import Case, CaseEvent, MPEnquiry

PAGE_SIZE = 50
MAX_SHOWN = 1000

# What a case's status and queue mean, in words an MP's office can read.
STATUS_WORDS = {
    Status.NEW: "Received and waiting to be assessed",
    Status.IN_PROGRESS: "Being assessed",
    Status.TECHNICAL_ASSURANCE: "Technical checks: the products' standards and certificates are being checked",
    Status.DUE_DILIGENCE: "Due diligence: checks on the supplier are under way",
    Status.NEGOTIATION: "In discussion with the supplier",
    Status.AWAITING_APPROVAL: "Awaiting approval",
    Status.CLOSED: "Closed",
}
QUEUE_WORDS = {
    Queue.TRIAGE: "being triaged on clinical need",
    Queue.VIP: "with the VIP team",
    Queue.RAPID_RESPONSE: "with the Rapid Response team",
    Queue.MP_INBOX: "with the MP inbox team, who keep the MP informed",
    Queue.CLOSED: "closed",
}
OUTCOME_WORDS = {
    Outcome.CONTRACT_AWARDED: "a contract was awarded",
    Outcome.REJECTED: "the offer was not taken forward",
    Outcome.WITHDRAWN: "the supplier withdrew the offer",
    Outcome.NOT_PROGRESSED: "the offer was not taken forward",
    Outcome.REFERRED_TO_STANDARD_ROUTE: "the offer was referred to the standard offer route",
    Outcome.DUPLICATE: "the offer duplicates another offer already being handled",
}

ARRIVAL_KINDS = (EventKind.HANDED_OVER, EventKind.ROUTED, EventKind.MOVED)


def _shown(request, name: str) -> int:
    """How many rows of a list to show: 50, or more after "Show more"."""
    try:
        wanted = int(request.GET.get(name, PAGE_SIZE))
    except ValueError:
        wanted = PAGE_SIZE
    return min(max(wanted, PAGE_SIZE), MAX_SHOWN)


def _inbox_cases(user, limit: int) -> list[Case]:
    """Cases in the MP inbox, the newest arrival first, with how and when they arrived
    and their last update: one query."""
    arrivals = CaseEvent.objects.filter(
        case=OuterRef("pk"),
        kind__in=ARRIVAL_KINDS,
        to_value=Queue.MP_INBOX,
        restricted=False,
    ).order_by("-created_at", "-id")
    latest = CaseEvent.objects.filter(case=OuterRef("pk"), restricted=False).order_by(
        "-created_at", "-id"
    )
    return list(
        selectors.cases_visible_to(user)
        .filter(queue=Queue.MP_INBOX)
        .select_related("offer__supplier")
        .annotate(
            arrived_at=Subquery(arrivals.values("created_at")[:1]),
            arrived_kind=Subquery(arrivals.values("kind")[:1]),
            arrived_reason=Subquery(arrivals.values("rationale")[:1]),
            last_update=Subquery(latest.values("created_at")[:1]),
        )
        .order_by(F("arrived_at").desc(nulls_last=True), "-pk")[: limit + 1]
    )


def _open_enquiries(limit: int) -> list[MPEnquiry]:
    """Enquiries not yet closed, the longest waiting first: one query."""
    return list(
        MPEnquiry.objects.exclude(status=EnquiryStatus.CLOSED)
        .select_related("case__offer__supplier")
        .order_by("received_at", "pk")[: limit + 1]
    )


@role_required(MP_INBOX, MANAGER)
def mp_inbox(request):
    cases_shown, enquiries_shown = _shown(request, "cases"), _shown(request, "enquiries")
    cases = _inbox_cases(request.user, cases_shown)
    enquiries = _open_enquiries(enquiries_shown)
    return render(
        request,
        "mp_inbox/index.html",
        {
            "cases": cases[:cases_shown],
            "more_cases": len(cases) > cases_shown and cases_shown < MAX_SHOWN,
            "cases_next": cases_shown + PAGE_SIZE,
            "enquiries": enquiries[:enquiries_shown],
            "more_enquiries": len(enquiries) > enquiries_shown and enquiries_shown < MAX_SHOWN,
            "enquiries_next": enquiries_shown + PAGE_SIZE,
            "cases_shown": cases_shown,
            "enquiries_shown": enquiries_shown,
        },
    )


@role_required(MP_INBOX, MANAGER)
def enquiry_new(request):
    """Record an MP's enquiry about a case, found by its reference. An MP may ask about
    any case, so the reference is looked up among all cases: recording the enquiry is
    what lets the MP-inbox team follow the case from then on."""
    if request.method == "POST":
        form = EnquiryForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            case_id = data["case_reference"]
            if not Case.objects.filter(pk=case_id).exists():
                form.add_error(
                    "case_reference", "No case has that reference. Check it and try again."
                )
            else:
                try:
                    enquiry = services.enquiry_record(
                        case_id=case_id,
                        acting_user=request.user,
                        mp_name=data["mp_name"],
                        constituency=data["constituency"],
                        received_at=data["received_at"],
                        question=data["question"],
                    )
                except services.CaseError as exc:
                    form.add_error(None, str(exc))
                else:
                    messages.success(
                        request,
                        f"Enquiry from {enquiry.mp_name} about case "
                        f"{enquiry.case.reference} recorded.",
                    )
                    return redirect("mp_inbox")
    else:
        reference = request.GET.get("case", "")
        initial = {"case_reference": reference} if parse_case_reference(reference) else {}
        form = EnquiryForm(initial=initial)
    return render(
        request,
        "mp_inbox/enquiry_new.html",
        {"form": form, "error_summary": error_summary(form) if form.is_bound else []},
    )


@role_required(MP_INBOX, MANAGER)
def enquiry_reply(request, enquiry_id: int):
    enquiry = get_object_or_404(MPEnquiry, pk=enquiry_id)
    case = selectors.case_get_for(request.user, enquiry.case_id)
    if request.method == "POST":
        form = ReplyForm(request.POST)
        if form.is_valid():
            try:
                services.enquiry_reply(
                    enquiry_id=enquiry.pk,
                    acting_user=request.user,
                    reply=form.cleaned_data["reply"],
                    close=form.cleaned_data["close"],
                )
            except services.CaseError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"Reply to {enquiry.mp_name} recorded.")
                return redirect("mp_inbox")
    else:
        form = ReplyForm()
    return render(
        request,
        "mp_inbox/enquiry_reply.html",
        {
            "enquiry": enquiry,
            "case": case,
            "form": form,
            "error_summary": error_summary(form) if form.is_bound else [],
        },
    )


def status_summary_facts(case: Case) -> dict:
    """The facts an MP may be sent about a case: no price, no value, no score, no note."""
    offer = case.offer
    products = [
        {"product": Category(row["category"]).label, "quantity": row["quantity"]}
        for row in OfferLine.objects.filter(offer=offer)
        .order_by("pk")
        .values("category", "quantity")
    ]
    last_event = (
        CaseEvent.objects.filter(case=case, restricted=False)
        .order_by("-created_at", "-id")
        .values_list("created_at", flat=True)
        .first()
    )
    latest_reply = (
        case.enquiries.exclude(reply="")
        .order_by(F("replied_at").desc(nulls_last=True), "-pk")
        .values("reply", "replied_at", "mp_name")
        .first()
    )
    if case.status == Status.CLOSED:
        outcome = OUTCOME_WORDS.get(case.outcome, "")
        status = f"Closed: {outcome}" if outcome else "Closed"
        queue = ""
    else:
        status = STATUS_WORDS[case.status]
        queue = QUEUE_WORDS[case.queue]
    return {
        "reference": case.reference,
        "supplier_name": offer.supplier.name,
        "products": products,
        "status": status,
        "queue": queue,
        "received_at": offer.received_at,
        "last_update": last_event or case.updated_at,
        "latest_reply": latest_reply,
    }


@role_required(MP_INBOX, MANAGER)
def status_summary(request, case_id: int):
    case = selectors.case_get_for(request.user, case_id)
    return render(
        request,
        "mp_inbox/summary.html",
        {
            "summary": status_summary_facts(case),
            "case_url": reverse("case_detail", args=[case.pk]),
        },
    )
