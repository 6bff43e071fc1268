import functools

from django.conf import settings
from django.contrib import messages
from django.db import connection
from django.http import JsonResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from vipcases import access, selectors, services
from vipcases.access import MANAGER, role_required
from vipcases.case_list_forms import CaseBulkForm, SavedFilterForm
from vipcases.codes import Queue, Status
from vipcases.filters import SORT_CHOICES, SORT_COLUMNS, ListQuery, tabs_for
from vipcases.templatetags.vipcases_tags import queue_badge_class


@require_GET
@never_cache
def health(request):
    """Liveness for load balancers: 200 when the database answers, 503 when it does not.
    The broker is reported but does not fail the check (offers are saved without it)."""
    status = {"database": "ok", "broker": "not configured (tasks run in process)"}
    code = 200
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means unavailable
        status["database"] = f"unavailable: {type(exc).__name__}"
        code = 503
    if settings.REDIS_URL:
        status["broker"] = selectors.broker_status()
    status["status"] = "ok" if code == 200 else "unavailable"
    return JsonResponse(status, status=code)


@role_required("caseworker", "mp_inbox")
def case_list(request):
    # The filter form sends every field, empty or not; the URL to bookmark holds only
    # what was chosen.
    if any(not value.strip() for _, values in request.GET.lists() for value in values):
        return redirect(ListQuery.from_params(request.GET).url())
    page = selectors.case_list_for(request.user, request.GET)
    return render(request, "cases/case_list.html", _case_list_context(request, page))


def _case_list_context(request, page, *, bulk_form=None, save_form=None) -> dict:
    user = request.user
    query, filterset = page.query, page.filterset
    manager = access.is_manager(user)
    if manager and bulk_form is None:
        bulk_form = CaseBulkForm(owners=page.owners)
    if manager and save_form is None:
        save_form = SavedFilterForm(auto_id="save-%s")
    current = request.GET if request.method == "GET" else QueryDict(request.POST.get("next", ""))
    error_forms = [form for form in (filterset.form, bulk_form, save_form) if form is not None]
    return {
        "page": page,
        "rows": _case_list_rows(page.rows, ticked=_ticked(bulk_form)),
        "form": filterset.form,
        "filter_options": {
            name: _choice_options(filterset.form[name])
            for name in ("queue", "status", "owner", "category", "score", "age", "introducer_role")
        },
        "bulk_options": bulk_form
        and {name: _choice_options(bulk_form[name]) for name in ("owner", "to_queue")},
        "query": query,
        "tabs": [
            {
                "label": label,
                "href": ListQuery([("tab", value), ("sort", query.get("sort"))]).url(),
                "current": value == filterset.tab,
            }
            for value, label in tabs_for(user)
        ],
        "tab_label": dict(tabs_for(user)).get(filterset.tab, ""),
        "columns": [
            {
                "label": column.label,
                "hidden_label": column.hidden_label,
                "numeric": column.numeric,
                "aria_sort": column.aria_sort(filterset.sort),
                "href": query.replaced("sort", column.next_sort(filterset.sort)).url(),
            }
            for column in SORT_COLUMNS
        ],
        "sort_label": dict(SORT_CHOICES)[filterset.sort],
        "selected_filters": filterset.selected(query),
        "clear_filters_href": query.filters_only().url(),
        "next_href": page.next_cursor and query.url(after=page.next_cursor),
        "previous_href": page.previous_cursor and query.url(before=page.previous_cursor),
        "paged": bool(current.get("after") or current.get("before")),
        "first_page_href": query.url(),
        "errors": error_summary_items(error_forms),
        "is_manager": manager,
        "bulk_form": bulk_form,
        "bulk_selected": _ticked(bulk_form),
        "bulk_next": query.urlencode(after=current.get("after"), before=current.get("before")),
        "save_form": save_form,
        "saved_filters": list(selectors.saved_filters_for(user)) if manager else [],
    }


def _choice_options(field) -> list[dict]:
    """A choice field's options for the GOV.UK checkboxes and selects, worked out once:
    the id of each checkbox (the field's own id for the first, so an error links to it),
    its value and label as strings, and whether it is chosen."""
    current = field.value()
    chosen_one = "" if current is None else str(current)
    auto_id = field.auto_id
    options = []
    for value, label in field.field.choices:
        value = str(value)
        try:
            ticked = value in current
        except TypeError:
            ticked = False
        options.append(
            {
                "id": auto_id if not options else _option_id(auto_id, value),
                "value": value,
                "label": str(label),
                "ticked": ticked,
                "selected": chosen_one == value,
            }
        )
    return options


@functools.lru_cache(maxsize=1024)
def _option_id(auto_id: str, value: str) -> str:
    """The id of a checkbox after the first (the same few hundred on every page)."""
    return slugify(f"{auto_id}-{value}")


_QUEUE_LABELS = {value: str(label) for value, label in Queue.choices}
_STATUS_LABELS = {value: str(label) for value, label in Status.choices}

# "j M Y" as the `date` filter writes it in English ("3 Dec 2026").
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _case_list_rows(cases, *, ticked: set[int]) -> list[dict]:
    """What each row of the case list shows, as plain strings: the template then only
    places them (resolving model attributes, filters and a URL tag per cell of 50 rows
    was most of the page's time)."""
    now = timezone.now()
    zone = timezone.get_current_timezone()
    # One reverse() for the page, not one per row: the link with a stand-in id.
    stand_in = 2**62
    href = reverse("case_detail", args=[stand_in]).replace(str(stand_in), "{}")
    rows = []
    for case in cases:
        owner = case.owner
        sla_due = case.sla_due_at and case.sla_due_at.astimezone(zone)
        rows.append(
            {
                "pk": str(case.pk),
                "reference": case.reference,
                "href": href.format(case.pk),
                "ticked": case.pk in ticked,
                "supplier": case.offer.supplier.name,
                "categories": ", ".join(case.categories),
                "introduced_by": ", ".join(case.introducer_roles) or "nobody",
                "queue": _QUEUE_LABELS.get(case.queue, case.queue),
                "badge_class": queue_badge_class(case.queue),
                "status": _STATUS_LABELS.get(case.status, case.status),
                "score": None if case.eligible is None else str(case.priority),
                "owner": (owner.get_full_name() or owner.get_username()) if owner else None,
                "age_days": str(max(0, (now - case.opened_at).days)),
                "sla_due_iso": sla_due and sla_due.isoformat(),
                "sla_due": sla_due and f"{sla_due.day} {_MONTHS[sla_due.month - 1]} {sla_due.year}",
                "overdue": bool(sla_due) and case.is_open and case.sla_due_at < now,
            }
        )
    return rows


def _ticked(bulk_form) -> set[int]:
    """The case ids ticked before a failed bulk change, to show them ticked again."""
    if bulk_form is None or not bulk_form.is_bound:
        return set()
    return {int(v) for v in bulk_form["cases"].value() or [] if str(v).isdigit()}


def error_summary_items(forms) -> list[dict]:
    """Every error of the forms as GOV.UK error summary items: text, and the id of the
    field to link to (its first checkbox for a group of checkboxes)."""
    items = []
    for form in forms:
        if not form.is_bound:
            continue
        anchors = getattr(form, "error_anchors", {})
        for name, errors in form.errors.items():
            anchor = anchors.get(name) or (form[name].auto_id if name != "__all__" else "")
            items += [{"text": error, "href": f"#{anchor}" if anchor else ""} for error in errors]
    return items


@require_POST
@role_required(MANAGER)
def case_bulk(request):
    """Assign or move the ticked cases, all or nothing, then back to the same list."""
    back = QueryDict(request.POST.get("next", ""))
    form = CaseBulkForm(request.POST, owners=selectors.case_owners())
    if form.is_valid():
        ids = form.cleaned_data["cases"]
        hidden = set(ids) - selectors.case_ids_visible_to(request.user, ids)
        try:
            if hidden:
                raise services.CaseError(
                    f"PPE-{min(hidden):06d} is not a case you can change. Nothing was changed."
                )
            if form.cleaned_data["action"] == "assign":
                owner = form.owner_user
                changed = services.cases_bulk_assign(
                    case_ids=ids,
                    owner=owner,
                    acting_user=request.user,
                    rationale=form.cleaned_data["rationale"],
                )
                done = f"assigned to {owner.get_full_name() or owner.get_username()}"
            else:
                to_queue = form.cleaned_data["to_queue"]
                changed = services.cases_bulk_move(
                    case_ids=ids,
                    to_queue=to_queue,
                    acting_user=request.user,
                    rationale=form.cleaned_data["rationale"],
                )
                done = f"moved to {Queue(to_queue).label}"
        except services.BulkCaseError as exc:
            form.add_error(
                None,
                f"Nothing was changed: PPE-{exc.case_id:06d} could not be "
                f"{'assigned' if form.cleaned_data['action'] == 'assign' else 'moved'}. "
                f"{exc.reason}",
            )
        except services.CaseError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"{len(changed)} case{pluralize(len(changed))} {done}.")
            return redirect(
                ListQuery.from_params(back).url(after=back.get("after"), before=back.get("before"))
            )
    page = selectors.case_list_for(request.user, back)
    return render(
        request, "cases/case_list.html", _case_list_context(request, page, bulk_form=form)
    )


@role_required(MANAGER)
def saved_filter_list(request):
    """A manager's saved filters; a POST saves the list's current filter under a name."""
    form = SavedFilterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.saved_filter_create(acting_user=request.user, **form.cleaned_data)
        except services.CaseError as exc:
            form.add_error("name", str(exc))
        else:
            messages.success(request, f"Filter “{saved.name}” saved.")
            return redirect(saved.url)
    return render(
        request,
        "cases/saved_filters.html",
        {
            "form": form,
            "errors": error_summary_items([form]),
            "saved_filters": selectors.saved_filters_for(request.user),
            "back_href": ListQuery.from_string(form["query"].value() or "").url(),
        },
    )


@require_POST
@role_required(MANAGER)
def saved_filter_delete(request, saved_filter_id: int):
    saved = get_object_or_404(selectors.saved_filters_for(request.user), pk=saved_filter_id)
    services.saved_filter_delete(acting_user=request.user, saved_filter_id=saved.pk)
    messages.success(request, f"Filter “{saved.name}” deleted.")
    return redirect("saved_filter_list")


@role_required("caseworker", "mp_inbox")
def case_detail(request, case_id: int):
    case = selectors.case_get_for(request.user, case_id)
    return render(
        request, "cases/case_detail.html", selectors.case_detail_context(request.user, case)
    )
