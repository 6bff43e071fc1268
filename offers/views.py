from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render

from offers import services
from offers.forms import LINES_PREFIX, LineFormSet, ReferralForm, data_with_another_line
from vipcases import selectors
from vipcases.access import CASEWORKER, role_required
from vipcases.forms import error_summary


def _page(request, form, lines, *, show_errors: bool, duplicates=(), duplicate_count=0):
    return render(
        request,
        "offers/new_referral.html",
        {
            "form": form,
            "lines": lines,
            "show_errors": show_errors,
            "error_summary": error_summary(form, lines) if show_errors else [],
            "duplicates": duplicates,
            "duplicate_count": duplicate_count,
        },
    )


def _add_service_errors(form, exc: ValidationError) -> None:
    """Errors the service found (the models' validators) go beside a field of the form
    when there is one, else at the top of the error summary."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for name, errors in exc.message_dict.items():
        form.add_error(name if name in form.fields else None, errors)


@role_required(CASEWORKER)
def referral_new(request):
    """One page for an offer that arrived by email or phone. Nothing is saved unless
    every part is valid; "Add another line" re-renders with one more row and saves
    nothing; a likely duplicate must be confirmed on a second submission."""
    if request.method != "POST":
        return _page(request, ReferralForm(), LineFormSet(prefix=LINES_PREFIX), show_errors=False)

    if "add_line" in request.POST:
        data = data_with_another_line(request.POST)
        return _page(
            request,
            ReferralForm(data),
            LineFormSet(data, prefix=LINES_PREFIX),
            show_errors=False,
        )

    form = ReferralForm(request.POST)
    lines = LineFormSet(request.POST, prefix=LINES_PREFIX)
    form_ok, lines_ok = form.is_valid(), lines.is_valid()  # both, for every error at once
    if not (form_ok and lines_ok):
        return _page(request, form, lines, show_errors=True)

    if form.supplier is not None and not form.cleaned_data["confirm_duplicate"]:
        duplicate_ids = services.possible_duplicate_case_ids(
            supplier_id=form.supplier.pk, categories=lines.categories()
        )
        if duplicate_ids:
            # The newest DUPLICATES_LISTED, as the duplicate link records them; the
            # warning gives the whole count (a prolific supplier may have hundreds).
            visible = selectors.cases_visible_to(request.user).filter(pk__in=duplicate_ids)
            newest = visible.select_related("offer__supplier").order_by("-pk")
            duplicates = list(newest[: services.DUPLICATES_LISTED])[::-1]
            count = (
                len(duplicates) if len(duplicates) < services.DUPLICATES_LISTED else visible.count()
            )
            return _page(
                request, form, lines, show_errors=True, duplicates=duplicates, duplicate_count=count
            )

    try:
        case = services.referral_create(
            acting_user=request.user,
            supplier=form.supplier,
            new_supplier=form.new_supplier_fields(),
            channel=form.cleaned_data["channel"],
            received_at=form.cleaned_data["received_at"],
            lines=lines.line_inputs(),
            introductions=form.introductions(),
            summary=form.cleaned_data["summary"].strip(),
        )
    except ValidationError as exc:
        _add_service_errors(form, exc)
        return _page(request, form, lines, show_errors=True)
    messages.success(
        request,
        f"Referral saved as case {case.reference}. It will be scored on clinical need "
        "and routed shortly.",
    )
    return redirect("case_detail", case_id=case.pk)
