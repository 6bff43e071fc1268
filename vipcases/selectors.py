"""Reads a user triggers, each with its permission check built in.

Every selector restricts to what the user's role may see, so a case outside it is a
404, and fetches related rows up front (no query per row).
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from offers.models import Introducer, Introduction, OfferLine
from triage.models import TriageAssessment
from vipcases import access, keyset
from vipcases.codes import Queue
from vipcases.filters import PAGE_SIZE, SORTS, CaseFilter, ListQuery
from vipcases.models import Case, CaseEvent, MPEnquiry, SavedFilter


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


# The columns a row of the case list shows or sorts by: loading only these keeps the
# page query's rows (and the Python objects made from them) small.
CASE_LIST_FIELDS = (
    "offer_id",
    "queue",
    "status",
    "owner_id",
    "priority",
    "eligible",
    "opened_at",
    "sla_due_at",
    "offer__supplier_id",
    "offer__supplier__name",
    "owner__username",
    "owner__first_name",
    "owner__last_name",
)

TOTAL_COUNTED = 1000  # the list counts this many rows at most, then says "more than"


@dataclass
class CaseListPage:
    """One page of the case list, and what the page says about the filters.

    `total` is the number of matching cases up to TOTAL_COUNTED, or TOTAL_COUNTED + 1
    for "more than TOTAL_COUNTED"; None when the filters are not valid (no rows then).
    `cursor_refused` is true when the page cursor in the URL was not one we signed (the
    first page is shown instead)."""

    filterset: CaseFilter
    query: ListQuery
    rows: list[Case]
    next_cursor: str | None = None
    previous_cursor: str | None = None
    total: int | None = None
    cursor_refused: bool = False
    owners: list = field(default_factory=list)

    @property
    def counted(self) -> int:
        return TOTAL_COUNTED

    @property
    def total_is_capped(self) -> bool:
        return self.total is not None and self.total > TOTAL_COUNTED


def case_list_for(user, params=None, *, now=None) -> CaseListPage:
    """A page of the cases the user may see, narrowed by the tab and filters in `params`
    (a QueryDict such as request.GET), in the chosen order (the work order by default:
    clinical-need score, then age), 50 rows a page by keyset (`after` / `before`).

    A fixed number of queries whatever the rows: the owners offered in the filter, the
    page (bringing its offer lines' categories and its introducers' roles; two queries
    more for them on SQLite) and a count of at most 1,001 rows, left out when the first
    page holds every matching case (the total is its rows then). The filters only narrow
    `cases_visible_to(user)`, so none can widen what a role sees."""
    params = params if params is not None else {}
    owners = case_owners()
    filterset = CaseFilter(
        params, queryset=cases_visible_to(user), user=user, owners=owners, now=now
    )
    query = ListQuery.from_params(params)
    if not filterset.is_valid():
        return CaseListPage(filterset=filterset, query=query, rows=[], owners=owners)
    matching = filterset.qs
    rows = _with_labels(matching.select_related("offer__supplier", "owner").only(*CASE_LIST_FIELDS))
    ordering = SORTS[filterset.sort]
    cursor_refused = False
    try:
        page = keyset.page_after(
            rows,
            ordering,
            size=PAGE_SIZE,
            after=params.get("after") or None,
            before=params.get("before") or None,
        )
    except keyset.CursorError:
        cursor_refused = True
        page = keyset.page_after(rows, ordering, size=PAGE_SIZE)
    _case_rows_describe(page.rows)
    first_page = cursor_refused or not (params.get("after") or params.get("before"))
    if first_page and page.next_cursor is None:
        # Every matching case is on this page (capped as the count would be).
        total = min(len(page.rows), TOTAL_COUNTED + 1)
    else:
        total = matching.order_by()[: TOTAL_COUNTED + 1].count()
    return CaseListPage(
        filterset=filterset,
        query=query,
        rows=page.rows,
        next_cursor=page.next_cursor,
        previous_cursor=page.previous_cursor,
        total=total,
        cursor_refused=cursor_refused,
        owners=owners,
    )


def _with_labels(rows: QuerySet[Case]) -> QuerySet[Case]:
    """On PostgreSQL the page query also brings each row's line categories (in line
    order) and introducer roles (in introduction order) as arrays, so the page needs no
    query of its own for them; elsewhere `_case_rows_describe` fetches them."""
    if not settings.DATABASE_IS_POSTGRES:
        return rows
    offer = OuterRef("offer_id")
    return rows.annotate(
        line_categories=ArraySubquery(
            OfferLine.objects.filter(offer_id=offer).order_by("pk").values("category")
        ),
        introducer_role_codes=ArraySubquery(
            Introduction.objects.filter(offer_id=offer)
            .order_by("introduced_at", "pk")
            .values("introducer__role")
        ),
    )


def _case_rows_describe(rows: list[Case]) -> None:
    """Set `categories` and `introducer_roles` (labels, in order, no repeats) on each
    row: from the arrays `_with_labels` added, or else from two queries for the whole
    page (plain values: no objects per line)."""
    if not rows:
        return
    if settings.DATABASE_IS_POSTGRES:
        categories = {case.offer_id: case.line_categories for case in rows}
        roles = {case.offer_id: case.introducer_role_codes for case in rows}
    else:
        offer_ids = [case.offer_id for case in rows]
        categories = {offer_id: [] for offer_id in offer_ids}
        lines = (
            OfferLine.objects.filter(offer_id__in=offer_ids)
            .order_by("pk")
            .values_list("offer_id", "category")
        )
        for offer_id, category in lines:
            categories[offer_id].append(category)
        roles = {offer_id: [] for offer_id in offer_ids}
        introductions = (
            Introduction.objects.filter(offer_id__in=offer_ids)
            .order_by("introduced_at", "pk")
            .values_list("offer_id", "introducer__role")
        )
        for offer_id, role in introductions:
            roles[offer_id].append(role)
    category_labels = dict(OfferLine._meta.get_field("category").flatchoices)
    role_labels = dict(Introducer._meta.get_field("role").flatchoices)
    for case in rows:
        case.categories = list(
            dict.fromkeys(str(category_labels.get(c, c)) for c in categories[case.offer_id])
        )
        case.introducer_roles = list(
            dict.fromkeys(str(role_labels.get(r, r)) for r in roles[case.offer_id])
        )


def caseworkers():
    """Users who can own cases: active caseworkers and managers, by username."""
    return (
        get_user_model()
        .objects.filter(is_active=True, groups__name__in=[access.CASEWORKER, access.MANAGER])
        .distinct()
        .order_by("username")
    )


def case_owners() -> list:
    """The people who may own cases, for the owner filter and the assignment menu."""
    return list(caseworkers().only("pk", "username", "first_name", "last_name"))


def case_ids_visible_to(user, case_ids) -> set[int]:
    """Which of these case ids the user may see."""
    return set(cases_visible_to(user).filter(pk__in=list(case_ids)).values_list("pk", flat=True))


def saved_filters_for(user) -> QuerySet[SavedFilter]:
    """The user's own saved filters (managers save them; nobody sees another's)."""
    if not access.is_manager(user):
        return SavedFilter.objects.none()
    return SavedFilter.objects.filter(owner=user).order_by("name", "pk")


def case_get_for(user, case_id: int) -> Case:
    """The case if the user may see it; 404 otherwise (no hint that it exists)."""
    # get(), not first(): first() orders by pk, and Django hashes each of the ~70
    # columns selected here to place that ORDER BY, which was a third of the page's
    # query-building time.
    try:
        return (
            cases_visible_to(user)
            .select_related("offer__supplier", "owner", "duplicate_of")
            .get(pk=case_id)
        )
    except Case.DoesNotExist:
        raise Http404("No such case.") from None


def case_events_for(user, case: Case) -> QuerySet[CaseEvent]:
    """The case's timeline, newest first, as the case page shows it: only the columns
    it writes (not the hash chain, not the actor's password and flags). Django hashes
    each selected column to place an ORDER BY, so the 23 columns cost more than the
    rows here. Filtered by case id rather than through `case.events`, whose related
    manager would read each event's case_id back."""
    events = (
        CaseEvent.objects.filter(case_id=case.pk)
        .select_related("actor")
        .only(*_TIMELINE_COLUMNS)
        .order_by("-created_at", "-id")
    )
    if not access.can_see_restricted(user):
        events = events.filter(restricted=False)
    return events


_TIMELINE_COLUMNS = (
    "kind",
    "created_at",
    "from_value",
    "to_value",
    "rationale",
    "restricted",
    "data",
    "actor__username",
    "actor__first_name",
    "actor__last_name",
)
_INTRODUCTION_COLUMNS = (
    "introduced_at",
    "relationship",
    "conflict_of_interest_notes",
    "introducer__name",
    "introducer__role",
    "introducer__office",
)


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
            .only(*_INTRODUCTION_COLUMNS)
            .order_by("introduced_at")
        ),
        # Not the inputs snapshot, a JSON document the page never shows.
        "assessment": TriageAssessment.objects.filter(case=case).defer("case", "inputs").first(),
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
