"""Downloads: list exports for managers, and a case's disclosure pack.

Every export is recorded before it is sent, through vipcases/services.py: a list export
as one ExportRecord (who, when, which, the filter, how many rows), a disclosure pack as
an `exported` event on its case's timeline.
"""

from django.contrib import messages
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from vipcases import exports, selectors, services
from vipcases.access import CASEWORKER, MANAGER, role_required
from vipcases.filters import ListQuery
from vipcases.models import ExportRecord


def _stamp() -> str:
    return timezone.localtime().strftime("%Y%m%d-%H%M")


def _attachment(name: str) -> str:
    return f'attachment; filename="{name}"'


def _case_list(request):
    """The filtered cases and the filter as recorded, or a redirect back with a message."""
    query = ListQuery.from_params(request.GET)
    try:
        cases = exports.case_list_for_export(request.user, request.GET)
    except exports.ExportError as exc:
        messages.error(request, str(exc))
        return None, query, redirect("dashboard")
    return cases, query, None


@role_required(MANAGER)
def case_list_csv(request):
    """The case list with the filters in the URL (the list's own parameters), as CSV,
    streamed row by row."""
    cases, query, refused = _case_list(request)
    if refused:
        return refused
    count = cases.count()
    services.export_record(
        acting_user=request.user,
        kind=ExportRecord.Kind.CASE_LIST_CSV,
        query=query.urlencode(),
        row_count=count,
    )
    response = StreamingHttpResponse(
        exports.csv_stream(exports.case_list_rows(cases)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = _attachment(f"cases-{_stamp()}.csv")
    return response


@role_required(MANAGER)
def case_list_xlsx(request):
    """The case list with the filters in the URL, as an Excel workbook (at most
    XLSX_MAX_ROWS rows: beyond that the CSV is the right format)."""
    cases, query, refused = _case_list(request)
    if refused:
        return refused
    count = cases.count()
    if count > exports.XLSX_MAX_ROWS:
        messages.error(
            request,
            f"The list has {count:,} cases: more than a spreadsheet export can hold "
            f"({exports.XLSX_MAX_ROWS:,}). Narrow the filters or download it as CSV.",
        )
        return redirect("dashboard")
    services.export_record(
        acting_user=request.user,
        kind=ExportRecord.Kind.CASE_LIST_XLSX,
        query=query.urlencode(),
        row_count=count,
    )
    workbook = exports.xlsx_file(exports.case_list_rows(cases), title="Cases")
    return FileResponse(
        workbook,
        as_attachment=True,
        filename=f"cases-{_stamp()}.xlsx",
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


@role_required(MANAGER)
def transparency_register_csv(request):
    """Every introduction, with its introducer, role, supplier, declared relationship,
    outcome and contract value, as CSV."""
    introductions = exports.register_introductions()
    services.export_record(
        acting_user=request.user,
        kind=ExportRecord.Kind.TRANSPARENCY_REGISTER,
        row_count=introductions.count(),
    )
    response = StreamingHttpResponse(
        exports.csv_stream(exports.transparency_register_rows(introductions)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = _attachment(f"transparency-register-{_stamp()}.csv")
    return response


@role_required(MANAGER)
def ocds_release_package(request):
    """Awarded contracts as an OCDS 1.1 release package (JSON)."""
    cases = exports.awarded_cases()
    package = exports.ocds_release_package(
        cases, uri=request.build_absolute_uri(reverse("export_ocds"))
    )
    services.export_record(
        acting_user=request.user,
        kind=ExportRecord.Kind.OCDS_AWARDS,
        row_count=len(package["releases"]),
    )
    response = HttpResponse(exports.ocds_json(package), content_type="application/json")
    response["Content-Disposition"] = _attachment(f"awarded-contracts-ocds-{_stamp()}.json")
    return response


@role_required(CASEWORKER)
def disclosure_pack(request, case_id: int):
    """One case's disclosure pack as a printable page. Managers, and caseworkers who
    may see the case; recorded on the case's timeline."""
    case = selectors.case_get_for(request.user, case_id)
    services.case_export_record(case_id=case.pk, acting_user=request.user, export_format="html")
    return render(
        request, "exports/disclosure.html", exports.disclosure_context(request.user, case)
    )


@role_required(CASEWORKER)
def disclosure_pack_pdf(request, case_id: int):
    """The same disclosure pack as a PDF; recorded on the case's timeline."""
    case = selectors.case_get_for(request.user, case_id)
    services.case_export_record(case_id=case.pk, acting_user=request.user, export_format="pdf")
    pdf = exports.disclosure_pdf(exports.disclosure_context(request.user, case))
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = _attachment(f"disclosure-{case.reference}.pdf")
    return response
