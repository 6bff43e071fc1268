"""The spreadsheet import in the browser, for managers: upload, read the validation
report, confirm; a worker then imports the file with progress on the job page."""

import csv
import io

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from offers import services
from offers.importing import COLUMNS, SUFFIXES, ImportFileError, RowError, import_parse
from offers.models import ImportUpload
from vipcases.access import MANAGER, role_required

ERRORS_SHOWN = 1000


def _upload_page(request, error: str = "", status: int = 200):
    return render(
        request,
        "offers/import_upload.html",
        {
            "error": error,
            "columns": COLUMNS,
            "max_megabytes": settings.IMPORT_MAX_UPLOAD_BYTES // 1_048_576,
        },
        status=status,
    )


@role_required(MANAGER)
def import_upload(request):
    if request.method != "POST":
        return _upload_page(request)
    upload = request.FILES.get("file")
    if upload is None:
        return _upload_page(request, "Choose a CSV or XLSX file to import.", 400)
    if not upload.name.lower().endswith(SUFFIXES):
        return _upload_page(request, "The file must be a .csv or .xlsx file.", 400)
    if upload.size > settings.IMPORT_MAX_UPLOAD_BYTES:
        limit = settings.IMPORT_MAX_UPLOAD_BYTES // 1_048_576
        return _upload_page(request, f"The file must be smaller than {limit} MB.", 400)
    content = upload.read()
    try:
        parsed = import_parse(content, filename=upload.name, now=timezone.now())
    except ImportFileError as exc:
        return _upload_page(request, str(exc), 400)
    record = services.import_upload_record(
        acting_user=request.user, filename=upload.name, content=content, parsed=parsed
    )
    return redirect("offer_import_report", upload_id=record.pk)


def _upload_get(upload_id: int) -> ImportUpload:
    return get_object_or_404(
        ImportUpload.objects.defer("content").select_related("uploaded_by", "job"), pk=upload_id
    )


@role_required(MANAGER)
def import_report(request, upload_id: int):
    upload = _upload_get(upload_id)
    errors = [RowError(*error) for error in upload.errors]
    return render(
        request,
        "offers/import_report.html",
        {
            "upload": upload,
            "errors": errors[:ERRORS_SHOWN],
            "error_count": len(errors),
            "more_errors": max(0, len(errors) - ERRORS_SHOWN),
            "new_offers": upload.offers - upload.already_imported,
        },
    )


@role_required(MANAGER)
def import_errors_csv(request, upload_id: int):
    """Every error of an upload, as CSV, for correcting the file."""
    upload = _upload_get(upload_id)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["row", "column", "message"])
    writer.writerows(upload.errors)
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{upload.pk}-errors.csv"'
    return response


@require_POST
@role_required(MANAGER)
def import_confirm(request, upload_id: int):
    upload = _upload_get(upload_id)
    try:
        job = services.import_upload_confirm(upload_id=upload.pk, acting_user=request.user)
    except services.ImportRefused as exc:
        messages.error(request, str(exc))
        return redirect("offer_import_report", upload_id=upload.pk)
    return redirect("job_detail", job_id=job.pk)
