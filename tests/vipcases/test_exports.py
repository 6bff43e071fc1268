"""List exports: the case list as CSV and XLSX, the transparency register, awarded
contracts as OCDS 1.1; their content, their audit record and who may have them."""

import csv
import io
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from jsonschema import Draft4Validator
from openpyxl import load_workbook
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from tests.vipcases import ocds_subset
from tests.vipcases.dashboard_data import make_case, now_fixed
from vipcases import exports, services
from vipcases.codes import Outcome, Queue, Status
from vipcases.models import Case, ExportRecord

pytestmark = pytest.mark.django_db

LIST_EXPORTS = [
    "/dashboard/export/cases.csv",
    "/dashboard/export/cases.xlsx",
    "/dashboard/export/transparency-register.csv",
    "/dashboard/export/awarded-contracts.json",
]


@pytest.fixture
def now():
    return now_fixed()


@pytest.fixture
def listed_cases(now, caseworker):
    """Open cases in two queues (one from a supplier whose name is a formula) and two
    contracts awarded, one introduced by an MP."""
    vip = [
        make_case(
            now=now,
            queue=Queue.VIP,
            status=Status.IN_PROGRESS,
            owner=caseworker,
            routed_to=Queue.VIP,
            roles=("peer",),
        ),
        make_case(
            now=now,
            queue=Queue.VIP,
            status=Status.NEW,
            opened=timedelta(days=4),
            routed_to=Queue.VIP,
        ),
    ]
    rapid = make_case(
        now=now,
        queue=Queue.RAPID_RESPONSE,
        routed_to=Queue.RAPID_RESPONSE,
        sla_due=timedelta(days=-1),
    )
    supplier = rapid.offer.supplier
    supplier.name = '=HYPERLINK("http://example.invalid","Click")'
    supplier.save(update_fields=["name"])
    awarded = [
        make_case(
            now=now,
            priority=82,
            opened=timedelta(days=9),
            closed=timedelta(days=2),
            outcome=Outcome.CONTRACT_AWARDED,
            routed_to=Queue.RAPID_RESPONSE,
            roles=("mp",),
        ),
        make_case(
            now=now,
            priority=74,
            opened=timedelta(days=6),
            closed=timedelta(days=1),
            outcome=Outcome.CONTRACT_AWARDED,
            routed_to=Queue.RAPID_RESPONSE,
        ),
    ]
    rejected = make_case(
        now=now,
        opened=timedelta(days=6),
        closed=timedelta(days=1),
        outcome=Outcome.REJECTED,
        roles=("minister",),
    )
    return {"vip": vip, "rapid": rapid, "awarded": awarded, "rejected": rejected}


def _csv_rows(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


# --- the case list ------------------------------------------------------------------------------


def test_it_exports_the_filtered_case_list_as_csv(listed_cases, manager, client_for):
    response = client_for(manager).get("/dashboard/export/cases.csv?queue=vip&sort=oldest")

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="cases-')
    rows = _csv_rows(response)
    assert tuple(rows[0]) == exports.CASE_LIST_HEADER
    expected = sorted(listed_cases["vip"], key=lambda c: (c.opened_at, c.pk))
    assert [r[0] for r in rows[1:]] == [c.reference for c in expected]
    first = dict(zip(rows[0], rows[1], strict=True))
    assert first["Queue"] == "VIP" and first["Status"] == "New"
    second = dict(zip(rows[0], rows[2], strict=True))
    assert second["Owner"] == "Priya Raman" and second["Introducer roles"] == "Peer"
    assert second["Product categories"] == "FFP3 respirators"
    record = ExportRecord.objects.get()
    assert (record.exported_by, record.kind, record.query, record.row_count) == (
        manager,
        ExportRecord.Kind.CASE_LIST_CSV,
        "queue=vip&sort=oldest",
        2,
    )


def test_it_exports_the_open_cases_when_no_filter_is_given(listed_cases, manager, client_for):
    rows = _csv_rows(client_for(manager).get("/dashboard/export/cases.csv"))

    open_cases = Case.objects.exclude(status=Status.CLOSED)
    assert sorted(r[0] for r in rows[1:]) == sorted(c.reference for c in open_cases)
    assert ExportRecord.objects.get().row_count == 3


def test_it_writes_formulas_as_text(listed_cases, manager, client_for):
    rows = _csv_rows(client_for(manager).get("/dashboard/export/cases.csv?queue=rapid_response"))

    assert rows[1][1] == '\'=HYPERLINK("http://example.invalid","Click")'
    assert exports.spreadsheet_safe("@SUM(A1)") == "'@SUM(A1)"
    assert exports.spreadsheet_safe("-1") == "'-1"
    assert exports.spreadsheet_safe("Kestrel Medical Ltd") == "Kestrel Medical Ltd"
    assert exports.spreadsheet_safe(-1) == -1


def test_it_exports_the_filtered_case_list_as_xlsx(listed_cases, manager, client_for):
    response = client_for(manager).get("/dashboard/export/cases.xlsx?tab=closed")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    rows = list(workbook.active.iter_rows(values_only=True))
    assert rows[0] == exports.CASE_LIST_HEADER
    closed = [*listed_cases["awarded"], listed_cases["rejected"]]
    assert sorted(r[0] for r in rows[1:]) == sorted(c.reference for c in closed)
    by_reference = {r[0]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    awarded = by_reference[listed_cases["awarded"][0].reference]
    assert awarded["Outcome"] == "Contract awarded"
    assert awarded["Offer value (GBP)"] == float(listed_cases["awarded"][0].offer.value_gbp)
    record = ExportRecord.objects.get()
    assert (record.kind, record.query, record.row_count) == (
        ExportRecord.Kind.CASE_LIST_XLSX,
        "tab=closed",
        3,
    )


def test_it_refuses_a_spreadsheet_too_big_for_one(listed_cases, manager, client_for, monkeypatch):
    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 2)

    response = client_for(manager).get("/dashboard/export/cases.xlsx")

    assert response.status_code == 302
    assert "download it as CSV" in str(next(iter(get_messages(response.wsgi_request))))
    assert not ExportRecord.objects.exists()


def test_it_refuses_filters_the_case_list_would_refuse(listed_cases, manager, client_for):
    response = client_for(manager).get("/dashboard/export/cases.csv?queue=nowhere")

    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"
    assert "not valid" in str(next(iter(get_messages(response.wsgi_request))))
    assert not ExportRecord.objects.exists()


# --- the transparency register ---------------------------------------------------------------


def test_it_exports_every_introduction_in_the_transparency_register(
    listed_cases, manager, client_for
):
    rows = _csv_rows(client_for(manager).get("/dashboard/export/transparency-register.csv"))

    assert tuple(rows[0]) == exports.REGISTER_HEADER
    register = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert len(register) == 3
    by_case = {row["Case"]: row for row in register}
    awarded = listed_cases["awarded"][0]
    row = by_case[awarded.reference]
    assert row["Role"] == "MP"
    assert row["Introducer"] == "Introducer 0 (mp)"
    assert row["Supplier"] == awarded.offer.supplier.name
    assert row["Declared relationship"] == "constituent"
    assert row["Outcome"] == "Contract awarded"
    assert Decimal(row["Contract value (GBP)"]) == awarded.offer.value_gbp
    assert row["Introduced on"] == awarded.offer.introductions.get().introduced_at.strftime(
        "%Y-%m-%d"
    )
    rejected = by_case[listed_cases["rejected"].reference]
    assert (rejected["Role"], rejected["Outcome"], rejected["Contract value (GBP)"]) == (
        "Minister",
        "Rejected",
        "",
    )
    assert by_case[listed_cases["vip"][0].reference]["Status"] == "In progress"
    record = ExportRecord.objects.get()
    assert (record.kind, record.row_count) == (ExportRecord.Kind.TRANSPARENCY_REGISTER, 3)


# --- OCDS -----------------------------------------------------------------------------------------


def _ocds_validator() -> Draft4Validator:
    registry = Registry().with_resources(
        [
            (url, Resource.from_contents(schema, default_specification=DRAFT4))
            for url, schema in (
                (ocds_subset.RELEASE_SCHEMA_URL, ocds_subset.RELEASE_SCHEMA),
                (ocds_subset.PACKAGE_SCHEMA_URL, ocds_subset.PACKAGE_SCHEMA),
            )
        ]
    )
    Draft4Validator.check_schema(ocds_subset.PACKAGE_SCHEMA)
    Draft4Validator.check_schema(ocds_subset.RELEASE_SCHEMA)
    return Draft4Validator(ocds_subset.PACKAGE_SCHEMA, registry=registry)


def test_it_publishes_awarded_contracts_as_a_valid_ocds_release_package(
    listed_cases, manager, client_for
):
    response = client_for(manager).get("/dashboard/export/awarded-contracts.json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    package = json.loads(response.content)
    errors = sorted(_ocds_validator().iter_errors(package), key=str)
    assert errors == [], [e.message for e in errors]
    assert package["version"] == "1.1"
    assert package["uri"] == "http://testserver/dashboard/export/awarded-contracts.json"
    awarded = sorted(listed_cases["awarded"], key=lambda c: (c.closed_at, c.pk))
    assert [r["ocid"] for r in package["releases"]] == [
        f"ocds-vipcases-{c.reference}" for c in awarded
    ]
    release = package["releases"][0]
    case = awarded[0]
    assert release["tag"] == ["award", "contract"]
    roles = {party["id"]: party["roles"] for party in release["parties"]}
    supplier_id = f"GB-COH-{case.offer.supplier.company_number}"
    assert roles == {"vipcases-buyer": ["buyer"], supplier_id: ["supplier"]}
    assert release["buyer"]["id"] == "vipcases-buyer"
    award, contract = release["awards"][0], release["contracts"][0]
    assert award["suppliers"] == [{"id": supplier_id, "name": case.offer.supplier.name}]
    assert award["value"] == {"amount": float(case.offer.value_gbp), "currency": "GBP"}
    assert contract["value"] == award["value"] and contract["awardID"] == award["id"]
    assert award["items"][0]["quantity"] == case.offer.lines.get().quantity
    record = ExportRecord.objects.get()
    assert (record.kind, record.row_count) == (ExportRecord.Kind.OCDS_AWARDS, 2)


def test_the_schema_subset_rejects_what_ocds_rejects(listed_cases):
    package = exports.ocds_release_package(exports.awarded_cases(), uri="https://example.invalid/")
    validator = _ocds_validator()
    assert validator.is_valid(package)
    for breaks in (
        lambda p: p.pop("publishedDate"),
        lambda p: p["releases"][0].pop("ocid"),
        lambda p: p["releases"][0].update(tag=["awarded"]),
        lambda p: p["releases"][0].update(initiationType="direct"),
        lambda p: p["releases"][0]["awards"][0]["value"].update(amount="12.50"),
        lambda p: p["releases"][0]["contracts"][0].pop("awardID"),
        lambda p: p["releases"][0].update(date="24/11/2026"),
    ):
        broken = json.loads(json.dumps(package))
        breaks(broken)
        assert not validator.is_valid(broken)


def test_it_publishes_an_overseas_supplier_by_its_own_registration(now, manager):
    case = make_case(now=now, closed=timedelta(days=1), outcome=Outcome.CONTRACT_AWARDED)
    supplier = case.offer.supplier
    supplier.company_number = ""
    supplier.overseas_registration = "CN-91330000"
    supplier.country = "CN"
    supplier.save()

    package = exports.ocds_release_package(exports.awarded_cases(), uri="https://example.invalid/")

    party = package["releases"][0]["parties"][1]
    assert party["id"] == f"vipcases-supplier-{supplier.pk}"
    assert party["identifier"]["id"] == "CN-91330000"
    assert _ocds_validator().is_valid(package)


# --- who may export ----------------------------------------------------------------------------


@pytest.mark.parametrize("url", LIST_EXPORTS)
@pytest.mark.parametrize("who", ["caseworker", "mp_inbox_officer", "outsider"])
def test_it_refuses_list_exports_to_everyone_but_managers(url, who, request, client_for):
    assert client_for(request.getfixturevalue(who)).get(url).status_code == 403
    assert not ExportRecord.objects.exists()


def test_only_a_manager_can_record_a_list_export(caseworker):
    with pytest.raises(services.CaseError):
        services.export_record(
            acting_user=caseworker, kind=ExportRecord.Kind.CASE_LIST_CSV, row_count=1
        )
    assert not ExportRecord.objects.exists()


def test_the_dashboard_lists_recent_exports(listed_cases, manager, client_for):
    client = client_for(manager)
    b"".join(client.get("/dashboard/export/cases.csv?queue=vip").streaming_content)

    html = client.get("/dashboard/").content.decode()

    assert "Recent exports" in html and "Case list (CSV)" in html and "queue=vip" in html
