"""Exports for transparency: the case list as CSV or XLSX, the transparency register of
introductions, awarded contracts as Open Contracting Data Standard 1.1 releases, and a
case's disclosure pack.

Pure reads: the views in vipcases/export_views.py record each export (an ExportRecord
for a list, an `exported` event for one case's pack) through vipcases/services.py
before sending it. Lists are read in chunks with a fixed number of queries per chunk
and written as they are read, so a 100,000-row CSV never sits in memory.

Spreadsheet safety: a cell that begins with =, +, - or @ is a formula to Excel and
LibreOffice, and supplier names and notes come from outside. Such text is written with
a leading apostrophe, the spreadsheet convention for "this is text".
"""

import csv
import json
import tempfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal

from django.db.models import Prefetch, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone

from offers.models import Introduction, OfferLine
from triage.models import TriageAssessment
from vipcases import selectors
from vipcases.codes import EventKind, Outcome, Queue, Status
from vipcases.filters import SORTS, CaseFilter
from vipcases.models import Case, Handover

CHUNK_SIZE = 2000
XLSX_MAX_ROWS = 100_000  # a spreadsheet beyond this is slow to write and to open: use CSV
OCID_PREFIX = "ocds-vipcases-"
OCDS_VERSION = "1.1"
# The buyer named in the OCDS releases: the department the team buys for (invented).
BUYER = {"id": "vipcases-buyer", "name": "Department for Preparedness (PPE offers casework)"}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """Text that a spreadsheet would run as a formula, written as text instead."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _local(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return timezone.localtime(value).strftime(fmt) if value else ""


# --- the case list ---------------------------------------------------------------------------


class ExportError(Exception):
    """The export cannot be made as asked; the message is for the user."""


def case_list_for_export(user, params) -> QuerySet[Case]:
    """The cases of the case list with these parameters (tab, filters, sort), as the
    list shows them to `user`: the same CaseFilter over the same visible cases, in the
    list's order. Raises ExportError when a filter is not valid."""
    filterset = CaseFilter(
        params,
        queryset=selectors.cases_visible_to(user),
        user=user,
        owners=selectors.case_owners(),
    )
    if not filterset.is_valid():
        problems = "; ".join(str(e) for errors in filterset.form.errors.values() for e in errors)
        raise ExportError(f"The filters are not valid: {problems}")
    return filterset.qs.order_by(*SORTS[filterset.sort].order_by())


CASE_LIST_HEADER = (
    "Reference",
    "Supplier",
    "Companies House number",
    "Country",
    "Queue",
    "Status",
    "Owner",
    "Score",
    "Eligible",
    "Product categories",
    "Introducer roles",
    "Received",
    "Age (days)",
    "SLA due",
    "SLA breached",
    "Outcome",
    "Closed",
    "Offer value (GBP)",
)


def case_list_rows(cases: QuerySet[Case], *, now: datetime | None = None) -> Iterator[tuple]:
    """The header, then one row per case: three queries per CHUNK_SIZE cases (cases with
    supplier and owner, their lines, their introductions)."""
    now = now or timezone.now()
    yield CASE_LIST_HEADER
    rows = cases.select_related("offer__supplier", "owner").prefetch_related(
        Prefetch("offer__lines", queryset=OfferLine.objects.only("pk", "offer_id", "category")),
        Prefetch(
            "offer__introductions",
            queryset=Introduction.objects.select_related("introducer").only(
                "pk", "offer_id", "introducer__role"
            ),
        ),
    )
    queues, statuses, outcomes = dict(Queue.choices), dict(Status.choices), dict(Outcome.choices)
    for case in rows.iterator(chunk_size=CHUNK_SIZE):
        offer, supplier = case.offer, case.offer.supplier
        categories = dict.fromkeys(line.get_category_display() for line in offer.lines.all())
        roles = dict.fromkeys(i.introducer.get_role_display() for i in offer.introductions.all())
        owner = case.owner.get_full_name() or case.owner.get_username() if case.owner else ""
        breached = case.is_open and case.sla_due_at is not None and case.sla_due_at < now
        yield (
            case.reference,
            supplier.name,
            supplier.company_number,
            supplier.country,
            queues.get(case.queue, case.queue),
            statuses.get(case.status, case.status),
            owner,
            case.priority if case.eligible is not None else "",
            {True: "Yes", False: "No"}.get(case.eligible, "Not scored"),
            "; ".join(categories),
            "; ".join(roles) or "None",
            _local(case.opened_at),
            max(0, (now - case.opened_at).days),
            _local(case.sla_due_at),
            "Yes" if breached else "No",
            outcomes.get(case.outcome, case.outcome),
            _local(case.closed_at),
            offer.value_gbp,
        )


class _Echo:
    """A file-like object whose write returns the text, for csv.writer in a stream."""

    def write(self, value: str) -> str:
        return value


def csv_stream(rows: Iterable[tuple]) -> Iterator[str]:
    """The rows as CSV lines, one at a time (for StreamingHttpResponse), with a byte-order
    mark first so that Excel reads the file as UTF-8."""
    writer = csv.writer(_Echo())
    yield "\ufeff"
    for row in rows:
        yield writer.writerow([spreadsheet_safe(value) for value in row])


def xlsx_file(rows: Iterable[tuple], *, title: str):
    """The rows as an XLSX workbook in openpyxl's write-only mode (rows go straight to
    the file, not into memory), in a temporary file rewound for reading. The first row
    is bold and frozen."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    for number, row in enumerate(rows):
        if number == 0:
            cells = []
            for value in row:
                cell = WriteOnlyCell(sheet, value=value)
                cell.font = bold
                cells.append(cell)
            sheet.append(cells)
        else:
            sheet.append([_xlsx_value(value) for value in row])
    output = tempfile.TemporaryFile()
    workbook.save(output)
    output.seek(0)
    return output


def _xlsx_value(value):
    if isinstance(value, Decimal):
        return float(value)
    return spreadsheet_safe(value)


# --- the transparency register ----------------------------------------------------------------

REGISTER_HEADER = (
    "Introduced on",
    "Introducer",
    "Role",
    "Office",
    "Supplier",
    "Companies House number",
    "Case",
    "Declared relationship",
    "Conflict of interest notes",
    "Status",
    "Outcome",
    "Contract value (GBP)",
)


def register_introductions() -> QuerySet[Introduction]:
    return Introduction.objects.order_by("introduced_at", "pk")


def transparency_register_rows(introductions: QuerySet[Introduction]) -> Iterator[tuple]:
    """The header, then every introduction: who introduced which supplier, when, their
    declared relationship, and what became of the offer (the contract value when a
    contract was awarded). One query per CHUNK_SIZE introductions."""
    yield REGISTER_HEADER
    rows = introductions.select_related("introducer", "offer__supplier", "offer__case")
    statuses, outcomes = dict(Status.choices), dict(Outcome.choices)
    for intro in rows.iterator(chunk_size=CHUNK_SIZE):
        offer = intro.offer
        case = getattr(offer, "case", None)
        awarded = case is not None and case.outcome == Outcome.CONTRACT_AWARDED
        yield (
            _local(intro.introduced_at, "%Y-%m-%d"),
            intro.introducer.name,
            intro.introducer.get_role_display(),
            intro.introducer.office,
            offer.supplier.name,
            offer.supplier.company_number,
            case.reference if case else "",
            intro.relationship,
            intro.conflict_of_interest_notes,
            statuses.get(case.status, "") if case else "",
            outcomes.get(case.outcome, "") if case else "",
            offer.value_gbp if awarded else "",
        )


# --- awarded contracts as OCDS -------------------------------------------------------------------


def awarded_cases() -> QuerySet[Case]:
    return Case.objects.filter(outcome=Outcome.CONTRACT_AWARDED).order_by("closed_at", "pk")


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _amount(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _supplier_party(supplier) -> dict:
    if supplier.company_number:
        identifier = {
            "scheme": "GB-COH",
            "id": supplier.company_number,
            "legalName": supplier.name,
        }
        party_id = f"GB-COH-{supplier.company_number}"
    else:
        identifier = {
            "id": supplier.overseas_registration or str(supplier.pk),
            "legalName": supplier.name,
        }
        party_id = f"vipcases-supplier-{supplier.pk}"
    return {
        "id": party_id,
        "name": supplier.name,
        "identifier": identifier,
        "address": {"countryName": supplier.country},
        "roles": ["supplier"],
    }


def ocds_release(case: Case) -> dict:
    """One release (tags award and contract) for a case closed with a contract awarded:
    the buyer and the supplier as parties, one award and one contract valued at the
    offer's GBP value, an item per offer line."""
    offer, supplier = case.offer, case.offer.supplier
    reference = case.reference
    party = _supplier_party(supplier)
    decided = _iso(case.closed_at or case.updated_at)
    items = [
        {
            "id": str(number),
            "description": line.description,
            "classification": {
                "scheme": "vipcases-category",
                "id": line.category,
                "description": line.get_category_display(),
            },
            "quantity": line.quantity,
            "unit": {
                "name": "unit",
                **(
                    {"value": {"amount": _amount(line.unit_price), "currency": line.currency}}
                    if line.unit_price is not None
                    else {}
                ),
            },
        }
        for number, line in enumerate(offer.lines.all(), start=1)
    ]
    value = {"amount": _amount(offer.value_gbp), "currency": "GBP"}
    title = f"PPE offer {reference} from {supplier.name}"
    award_id = f"{reference}-award-1"
    return {
        "ocid": f"{OCID_PREFIX}{reference}",
        "id": f"{reference}-award",
        "date": decided,
        "tag": ["award", "contract"],
        "initiationType": "tender",
        "language": "en",
        "parties": [{**BUYER, "roles": ["buyer"]}, party],
        "buyer": dict(BUYER),
        "awards": [
            {
                "id": award_id,
                "title": title,
                "description": offer.summary or title,
                "status": "active",
                "date": decided,
                "value": value,
                "suppliers": [{"id": party["id"], "name": supplier.name}],
                "items": items,
            }
        ],
        "contracts": [
            {
                "id": f"{reference}-contract-1",
                "awardID": award_id,
                "title": title,
                "status": "active",
                "value": value,
                "dateSigned": decided,
                "items": items,
            }
        ],
    }


def ocds_release_package(
    cases: QuerySet[Case], *, uri: str, published: datetime | None = None
) -> dict:
    """An OCDS 1.1 release package with one release per awarded contract (three queries:
    the cases with their suppliers, the lines)."""
    published = published or timezone.now()
    rows = cases.select_related("offer__supplier").prefetch_related(
        Prefetch("offer__lines", queryset=OfferLine.objects.order_by("pk"))
    )
    return {
        "uri": uri,
        "version": OCDS_VERSION,
        "publishedDate": _iso(published),
        "publisher": {"name": BUYER["name"]},
        # No publicationPolicy: OCDS wants the URL of a published policy document (format
        # "uri"), and the service has none to point at; a sentence there is invalid.
        "releases": [ocds_release(case) for case in rows],
    }


def ocds_json(package: dict) -> str:
    return json.dumps(package, ensure_ascii=False, indent=2)


# --- the disclosure pack -------------------------------------------------------------------------

DECISION_KINDS = (
    EventKind.ROUTED,
    EventKind.MOVED,
    EventKind.SCORE_OVERRIDDEN,
    EventKind.STATUS_CHANGED,
    EventKind.CLOSED,
    EventKind.HANDED_OVER,
    EventKind.ASSIGNED,
)


def disclosure_context(user, case: Case) -> dict:
    """Everything recorded about one case: the case, offer, lines and supplier; every
    score with its components, flags, policy version and inputs; introductions and the
    caseworkers' declarations; handovers and MP enquiries; and every event oldest first
    (restricted notes only for those who may see them). A fixed number of queries."""
    context = selectors.case_detail_context(user, case)
    events = sorted(context["events"], key=lambda e: (e.created_at, e.pk))
    assessments = list(
        TriageAssessment.objects.filter(case=case)
        .select_related("created_by")
        .order_by("created_at", "pk")
    )
    for assessment in assessments:
        assessment.inputs_json = json.dumps(
            assessment.inputs, indent=2, sort_keys=True, ensure_ascii=False
        )
    return {
        **context,
        "events": events,
        "decisions": [e for e in events if e.kind in DECISION_KINDS],
        "declarations": [e for e in events if e.kind == EventKind.DECLARATION],
        "assessments": assessments,
        "handovers": list(
            Handover.objects.filter(case=case)
            .select_related("created_by")
            .order_by("created_at", "pk")
        ),
        "generated_at": timezone.now(),
        "generated_by": user,
    }


# Helvetica, which the PDF uses, has no glyph for these; the PDF says them in words.
PDF_REPLACEMENTS = {"→": "to", "←": "from", "✓": "yes"}


def disclosure_pdf(context: dict) -> bytes:
    """The disclosure pack as a PDF: the same body as the printable page, laid out by
    xhtml2pdf (pure Python, on ReportLab) with a print stylesheet of its own."""
    from io import BytesIO

    from xhtml2pdf import pisa

    html = render_to_string("exports/disclosure_pdf.html", context)
    for char, words in PDF_REPLACEMENTS.items():
        html = html.replace(char, words)
    output = BytesIO()
    result = pisa.CreatePDF(html, dest=output, encoding="utf-8")
    if result.err:
        raise ExportError("The PDF could not be made.")
    return output.getvalue()
