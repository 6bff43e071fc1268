"""List exports: the case list as CSV and XLSX, the transparency register, awarded
contracts as OCDS 1.1; their content, their audit record and who may have them."""

import csv
import io
import json
import re
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.contrib.messages import get_messages
from jsonschema import Draft4Validator, FormatChecker
from openpyxl import load_workbook
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from tests.conftest import _require_service
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
#
# The export is validated against the OFFICIAL OCDS 1.1.5 release-package and release schemas
# (JSON Schema draft 4), which `make test` fetches at set-up into .cache/ocds/1__1__5/ with
# scripts/fetch_ocds_schema.py from two pinned PyPI sdists; no network is used here.

OCDS_SCHEMA_DIR = Path(__file__).resolve().parents[2] / ".cache" / "ocds" / "1__1__5"
OCDS_SCHEMA_FILES = ("release-package-schema.json", "release-schema.json")
OCDS_RELEASE_SCHEMA_URL = "https://standard.open-contracting.org/schema/1__1__5/release-schema.json"
NEEDS_OCDS_SCHEMA = (
    "needs the official OCDS 1.1.5 schemas in .cache/ocds/1__1__5/: run "
    "`python scripts/fetch_ocds_schema.py` (make test does)"
)

# jsonschema checks "date-time" and "uri" only with optional packages (rfc3339-validator,
# rfc3987) that are not installed, so both are checked here with the standard library:
# RFC 3339 date-times (OCDS requires them) and absolute RFC 3986 URIs.
OCDS_FORMATS = FormatChecker()
OCDS_FORMATS.checkers = dict(Draft4Validator.FORMAT_CHECKER.checkers)
RFC3339_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?P<fraction>\.\d+)?(?P<offset>[Zz]|[+-]\d{2}:\d{2})"
)
RFC3986_URI = re.compile(
    r"[A-Za-z][A-Za-z0-9+.\-]*:(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?#\[\]]|%[0-9A-Fa-f]{2})*"
)


@OCDS_FORMATS.checks("date-time")
def _is_rfc3339_date_time(instance) -> bool:
    if not isinstance(instance, str):
        return True
    found = RFC3339_DATE_TIME.fullmatch(instance)
    if not found:
        return False
    fraction, offset = found["fraction"] or "", found["offset"]
    canonical = instance[: found.start("fraction") if fraction else found.start("offset")]
    canonical += fraction[:7] + ("+00:00" if offset in "Zz" else offset)
    try:
        datetime.fromisoformat(canonical.replace("t", "T"))  # month 13, hour 25 and so on
    except ValueError:
        return False
    return True


@OCDS_FORMATS.checks("uri")
def _is_rfc3986_uri(instance) -> bool:
    if not isinstance(instance, str):
        return True
    try:
        urlsplit(instance)  # unbalanced IPv6 brackets
    except ValueError:
        return False
    return RFC3986_URI.fullmatch(instance) is not None


@pytest.fixture(scope="module")
def ocds_schemas() -> tuple[dict, dict]:
    """The official release-package and release schemas; without them the OCDS tests skip
    (fail with CI=true), like a missing service."""
    missing = [name for name in OCDS_SCHEMA_FILES if not (OCDS_SCHEMA_DIR / name).is_file()]
    if missing:
        _require_service(f"{NEEDS_OCDS_SCHEMA} ({', '.join(missing)} missing)")
    package_schema, release_schema = (
        json.loads((OCDS_SCHEMA_DIR / name).read_text(encoding="utf-8"))
        for name in OCDS_SCHEMA_FILES
    )
    assert release_schema["id"] == OCDS_RELEASE_SCHEMA_URL
    assert package_schema["properties"]["releases"]["items"] == {"$ref": OCDS_RELEASE_SCHEMA_URL}
    return package_schema, release_schema


@pytest.fixture(scope="module")
def ocds_validator(ocds_schemas) -> Draft4Validator:
    package_schema = ocds_schemas[0]
    for schema in ocds_schemas:
        Draft4Validator.check_schema(schema)
    # The release schema is only ever looked up here: the registry has no retrieve function.
    registry = Registry().with_resources(
        (schema["id"], Resource.from_contents(schema, default_specification=DRAFT4))
        for schema in ocds_schemas
    )
    return Draft4Validator(package_schema, registry=registry, format_checker=OCDS_FORMATS)


def _ocds_errors(validator: Draft4Validator, package: dict) -> list[str]:
    return [
        f"{error.json_path}: {error.message}"
        for error in sorted(validator.iter_errors(package), key=lambda e: e.json_path)
    ]


def _closed_codelist_values(schema: dict, node: dict, data, path: str = "$"):
    """(path, codelist, value, enum) for every value in `data` that a closed OCDS codelist
    governs. The schema marks codelists with its own `codelist` and `openCodelist`
    keywords, which JSON Schema validators ignore; a closed one should carry an enum too."""
    if "$ref" in node:
        assert node["$ref"].startswith("#/definitions/"), node["$ref"]
        node = schema["definitions"][node["$ref"].removeprefix("#/definitions/")]
    if "codelist" in node and node.get("openCodelist") is False:
        enum = node.get("enum") or node.get("items", {}).get("enum")
        for value in data if isinstance(data, list) else [data]:
            yield path, node["codelist"], value, enum
    elif isinstance(data, dict):
        properties = node.get("properties", {})
        for key, value in data.items():
            if key in properties:
                yield from _closed_codelist_values(schema, properties[key], value, f"{path}.{key}")
    elif isinstance(data, list) and isinstance(node.get("items"), dict):
        for index, value in enumerate(data):
            yield from _closed_codelist_values(schema, node["items"], value, f"{path}[{index}]")


def test_it_publishes_awarded_contracts_as_a_valid_ocds_release_package(
    listed_cases, manager, client_for, ocds_validator
):
    response = client_for(manager).get("/dashboard/export/awarded-contracts.json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    package = json.loads(response.content)
    assert _ocds_errors(ocds_validator, package) == []
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


def test_its_codes_are_from_the_closed_ocds_codelists(listed_cases, ocds_schemas):
    _, release_schema = ocds_schemas
    package = exports.ocds_release_package(exports.awarded_cases(), uri="https://example.invalid/")

    # Every closed codelist in the official schema is also an enum, so the validator
    # above enforces it; open codelists (partyRole, itemClassificationScheme...) admit
    # other codes by design.
    closed = [
        node
        for node in _schema_nodes(release_schema)
        if "codelist" in node and node.get("openCodelist") is False
    ]
    assert {node["codelist"] for node in closed} >= {"releaseTag.csv", "initiationType.csv"}
    assert all(node.get("enum") or node.get("items", {}).get("enum") for node in closed)

    found = [
        (path, codelist, value, enum)
        for release in package["releases"]
        for path, codelist, value, enum in _closed_codelist_values(
            release_schema, release_schema, release
        )
    ]
    assert {codelist for _, codelist, _, _ in found} == {
        "releaseTag.csv",
        "initiationType.csv",
        "awardStatus.csv",
        "contractStatus.csv",
        "currency.csv",
    }
    assert [(path, value) for path, _, value, enum in found if value not in enum] == []
    tags = next(enum for _, codelist, _, enum in found if codelist == "releaseTag.csv")
    assert {"award", "contract"} <= set(tags) and "awarded" not in tags
    initiation = next(enum for _, codelist, _, enum in found if codelist == "initiationType.csv")
    assert initiation == ["tender"]


def _schema_nodes(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _schema_nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _schema_nodes(value)


def _break_unit_price_currency(package):
    package["releases"][0]["awards"][0]["items"][0]["unit"]["value"]["currency"] = "XYZ"


OCDS_BREAKAGES = {
    # what is broken: (how, the JSON Schema keyword that must catch it)
    "package without publishedDate": (lambda p: p.pop("publishedDate"), "required"),
    "package version 1.1.5 (must be major.minor)": (
        lambda p: p.update(version="1.1.5"),
        "pattern",
    ),
    "package uri not a URI": (lambda p: p.update(uri="awarded contracts"), "format"),
    "publicationPolicy not a URI": (
        lambda p: p.update(publicationPolicy="Contracts awarded to PPE offers."),
        "format",
    ),
    "no releases": (lambda p: p.update(releases=[]), "minItems"),
    "the same release twice": (
        lambda p: p["releases"].append(p["releases"][0]),
        "uniqueItems",
    ),
    "release without ocid": (lambda p: p["releases"][0].pop("ocid"), "required"),
    "release without initiationType": (
        lambda p: p["releases"][0].pop("initiationType"),
        "required",
    ),
    "release tag not in releaseTag": (
        lambda p: p["releases"][0].update(tag=["awarded"]),
        "enum",
    ),
    "release tag a string, not an array": (
        lambda p: p["releases"][0].update(tag="award"),
        "type",
    ),
    "initiationType not tender": (
        lambda p: p["releases"][0].update(initiationType="direct"),
        "enum",
    ),
    "release date not RFC 3339": (
        lambda p: p["releases"][0].update(date="24/11/2026"),
        "format",
    ),
    "release date an impossible day": (
        lambda p: p["releases"][0].update(date="2026-02-30T10:00:00Z"),
        "format",
    ),
    "award status not in awardStatus": (
        lambda p: p["releases"][0]["awards"][0].update(status="awarded"),
        "enum",
    ),
    "contract status not in contractStatus": (
        lambda p: p["releases"][0]["contracts"][0].update(status="signed"),
        "enum",
    ),
    "amount as a string": (
        lambda p: p["releases"][0]["awards"][0]["value"].update(amount="12.50"),
        "type",
    ),
    "currency not ISO 4217": (
        lambda p: p["releases"][0]["awards"][0]["value"].update(currency="XYZ"),
        "enum",
    ),
    "unit price currency not ISO 4217": (_break_unit_price_currency, "enum"),
    "contract without awardID": (
        lambda p: p["releases"][0]["contracts"][0].pop("awardID"),
        "required",
    ),
    "party id a number": (lambda p: p["releases"][0]["parties"][1].update(id=7), "type"),
}


@pytest.mark.parametrize("breakage", OCDS_BREAKAGES)
def test_the_official_schema_rejects_a_broken_package(breakage, listed_cases, ocds_validator):
    package = exports.ocds_release_package(exports.awarded_cases(), uri="https://example.invalid/")
    assert _ocds_errors(ocds_validator, package) == []
    breaks, keyword = OCDS_BREAKAGES[breakage]

    broken = json.loads(json.dumps(package))
    breaks(broken)

    assert keyword in {error.validator for error in ocds_validator.iter_errors(broken)}


def test_it_publishes_an_overseas_supplier_by_its_own_registration(now, manager, ocds_validator):
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
    assert _ocds_errors(ocds_validator, package) == []


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
