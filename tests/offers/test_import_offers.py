import csv
import io
import os
import re
import subprocess
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from openpyxl import Workbook

from offers.importing import COLUMNS
from offers.models import Introduction, Offer, OfferLine, Supplier
from tests import factories
from vipcases.codes import EventKind
from vipcases.models import Case, CaseEvent

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "offers.csv"
HEADER = [
    "external_ref",
    "received_at",
    "supplier_name",
    "supplier_company_number",
    "category",
    "description",
    "quantity",
    "unit_price",
    "stock_location",
    "lead_time_days",
]
GOOD_ROW = [
    "IMP-1",
    "2020-04-23T10:20:58+01:00",
    "Harbour Protective Ltd",
    "09876543",
    "gown",
    "Isolation gown",
    "400000",
    "6.10",
    "uk",
    "12",
]


def write_csv(path: Path, rows: list[list], header=HEADER) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def run(path, *args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_offers", str(path), "--no-progress", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def run_failing(path, *args) -> tuple[CommandError, str]:
    err = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command(
            "import_offers", str(path), "--no-progress", *args, stdout=io.StringIO(), stderr=err
        )
    return raised.value, err.getvalue()


def _counts():
    return (
        Offer.objects.count(),
        OfferLine.objects.count(),
        Supplier.objects.count(),
        Case.objects.count(),
        CaseEvent.objects.count(),
    )


def test_it_imports_the_example_file():
    out, _ = run(EXAMPLE)
    assert "4 rows, 3 offers: 3 new, 0 already imported." in out
    offer = Offer.objects.get(external_ref="WF-2020-04-0113")
    assert offer.channel == "webform"
    assert sorted(offer.lines.values_list("category", flat=True)) == ["ffp3_respirator", "gloves"]
    assert offer.value_gbp == Decimal("4050000.00")
    assert offer.supplier.company_number == "01234567"  # leading zero kept
    assert offer.supplier.ppe_trading_history is True
    assert Introduction.objects.get(offer=offer).introducer.role == "mp"
    gown = OfferLine.objects.get(offer__external_ref="IMP-0002")
    assert gown.standards == ["EN 13795", "EN 14126"]
    assert (gown.sterile, gown.sterilisation_validation) == (True, "ISO 11137-2 dose audit")
    overseas = Offer.objects.get(external_ref="IMP-0003")
    assert (overseas.supplier.country, overseas.lines.get().currency) == ("CN", "USD")
    # Every case was opened, scored and routed.
    for case in Case.objects.all():
        kinds = list(case.events.values_list("kind", flat=True))
        assert kinds[:1] == [EventKind.CREATED] and EventKind.ROUTED in kinds
        assert case.assessments.exists()


def test_it_writes_the_same_rows_as_offer_create(caseworker):
    out, _ = run(EXAMPLE, "--user", caseworker.username, "--no-triage")
    assert "left to the triage sweep" in out
    case = Case.objects.get(offer__external_ref="IMP-0002")
    assert case.opened_at == case.offer.received_at
    assert (case.queue, case.status, case.priority) == ("triage", "new", 0)
    assert case.offer.created_by == caseworker
    created = case.events.get()
    assert (created.kind, created.actor, created.to_value) == ("created", caseworker, "triage")
    assert created.rationale == "Offer received by import."
    intro = Introduction.objects.get(offer=case.offer)
    assert intro.introduced_at == case.offer.received_at  # introduced_at blank
    assert intro.recorded_by == caseworker


def test_it_reports_every_error_with_row_and_column_and_imports_nothing(tmp_path):
    path = write_csv(
        tmp_path / "bad.csv",
        [
            GOOD_ROW,
            ["IMP-2", "2020-04-23T10:20:58", "X Ltd", "", "spacesuit", "d", "-3", "1", "uk", "2.5"],
            ["IMP-3", "2020-04-23T10:20:58Z", "", "", "gown", "d\x00", "abc", "-1", "moon", "1"],
            ["", "2020-04-23T10:20:58Z", "Y Ltd", "", "gown", "d", "1", "", "uk", "1"],
            ["IMP-4", "2020-04-23T10:20:58Z", "Z Ltd", "", "gown", "d", "1", "1.123456", "uk", "1"],
        ],
    )
    error, err = run_failing(path)
    assert error.returncode == 1
    assert str(error) == "11 errors in bad.csv: nothing imported."
    reported = [
        re.match(r"bad.csv: row (\d+), column (\w+): ", line).groups() for line in err.splitlines()
    ]
    assert reported == [
        ("3", "received_at"),
        ("3", "category"),
        ("3", "quantity"),
        ("3", "lead_time_days"),
        ("4", "supplier_name"),
        ("4", "description"),
        ("4", "quantity"),
        ("4", "unit_price"),
        ("4", "stock_location"),
        ("5", "external_ref"),
        ("6", "unit_price"),
    ]
    assert "row 4, column description: Must not contain NUL characters." in err
    assert "row 3, column received_at: Give the UTC offset" in err
    assert _counts() == (0, 0, 0, 0, 0)


def test_it_exits_with_status_1_from_the_shell(tmp_path):
    path = write_csv(tmp_path / "bad.csv", [[*GOOD_ROW[:6], "0", *GOOD_ROW[7:]]])
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
        "SECRET_KEY": "test-only-insecure-key",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "import_offers", str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "row 2, column quantity: Must be at least 1." in done.stderr
    assert "nothing imported" in done.stderr


def test_rows_of_one_offer_must_agree(tmp_path):
    second = [
        "IMP-1",
        "2020-04-24T10:20:58+01:00",
        "",
        "",
        "gloves",
        "Gloves",
        "1000",
        "",
        "uk",
        "3",
    ]
    third = ["IMP-1", "", "Another Name Ltd", "", "apron", "Apron", "1000", "", "uk", "3"]
    path = write_csv(tmp_path / "offers.csv", [GOOD_ROW, second, third])
    _, err = run_failing(path)
    assert err.splitlines() == [
        "offers.csv: row 3, column received_at: Differs from row 2, the first row of offer IMP-1: "
        "give the same value or leave it blank.",
        "offers.csv: row 4, column supplier_name: Differs from row 2, the first row of offer IMP-1: "
        "give the same value or leave it blank.",
    ]


def test_an_offer_of_several_rows_reports_each_line_on_its_row(tmp_path):
    second = ["IMP-1", "", "", "", "gloves", "Gloves", "many", "", "uk", "3"]
    path = write_csv(tmp_path / "offers.csv", [GOOD_ROW, second])
    _, err = run_failing(path)
    assert err.strip() == "offers.csv: row 3, column quantity: Must be a whole number."


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ([*HEADER, "colour"], "row 1, column colour: Unknown column."),
        ([h for h in HEADER if h != "quantity"], "row 1, column quantity: Missing column."),
        ([*HEADER, "quantity"], "row 1, column quantity: The column appears twice."),
    ],
)
def test_it_refuses_unknown_missing_or_repeated_columns(tmp_path, header, message):
    path = write_csv(
        tmp_path / "offers.csv", [GOOD_ROW + [""] * (len(header) - len(HEADER))], header
    )
    _, err = run_failing(path)
    assert message in err
    assert _counts() == (0, 0, 0, 0, 0)


def test_it_refuses_a_file_it_cannot_read(tmp_path):
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes(",".join(HEADER).encode() + b"\nIMP-1,caf\xe9\n")
    error, _ = run_failing(latin1)
    assert "not UTF-8" in str(error)
    (tmp_path / "offers.txt").write_text("hello")
    assert "Import a .csv or .xlsx file." in str(run_failing(tmp_path / "offers.txt")[0])
    (tmp_path / "broken.xlsx").write_bytes(b"not a zip")
    assert "not a readable XLSX" in str(run_failing(tmp_path / "broken.xlsx")[0])
    assert "Cannot read" in str(run_failing(tmp_path / "missing.csv")[0])
    (tmp_path / "empty.csv").write_text("")
    assert "The file is empty" in run_failing(tmp_path / "empty.csv")[1]


def test_a_dry_run_validates_and_writes_nothing(tmp_path):
    out, _ = run(EXAMPLE, "--dry-run")
    assert "3 new" in out and "Dry run: nothing written." in out
    assert _counts() == (0, 0, 0, 0, 0)
    bad = write_csv(tmp_path / "bad.csv", [[*GOOD_ROW[:4], "spacesuit", *GOOD_ROW[5:]]])
    error, err = run_failing(bad, "--dry-run")
    assert error.returncode == 1 and "column category" in err


def test_importing_the_same_file_again_creates_nothing():
    run(EXAMPLE)
    before = _counts()
    out, _ = run(EXAMPLE)
    assert "0 new, 3 already imported" in out and "3 skipped" in out
    assert _counts() == before


def test_a_second_run_triages_cases_a_stopped_run_left_in_triage():
    run(EXAMPLE, "--no-triage")
    assert not Case.objects.exclude(queue="triage").exists()
    run(EXAMPLE)
    assert not Case.objects.filter(queue="triage").exists()
    assert Offer.objects.count() == 3


def test_it_links_rows_matching_an_open_case_of_the_same_supplier_and_category(tmp_path):
    earlier = factories.case(
        company_number="09876543",
        lines=[factories.line(category="gown", description="Gown", standards=["EN 13795"])],
    )
    other = [
        "IMP-2",
        "2020-04-23T11:00:00Z",
        "Harbour Protective Ltd",
        "09876543",
        "gloves",
        "Gloves",
        "1000",
        "",
        "uk",
        "3",
    ]
    same_file = [
        "IMP-3",
        "2020-04-23T12:00:00Z",
        "Harbour Protective Ltd",
        "09876543",
        "gown",
        "Gown",
        "1000",
        "",
        "uk",
        "3",
    ]
    run(write_csv(tmp_path / "offers.csv", [GOOD_ROW, other, same_file]))
    links = {
        e.case.offer.external_ref: e.data["possible_duplicates"]
        for e in CaseEvent.objects.filter(kind=EventKind.DUPLICATE_LINKED).select_related(
            "case__offer"
        )
    }
    first = Case.objects.get(offer__external_ref="IMP-1").pk
    assert links == {"IMP-1": [earlier.pk], "IMP-3": [earlier.pk, first]}
    assert Offer.objects.get(external_ref="IMP-1").supplier == earlier.offer.supplier
    assert Supplier.objects.count() == 1


def test_an_import_names_the_newest_possible_duplicates_and_counts_them_all(tmp_path):
    from offers.services import DUPLICATES_LISTED

    rows = [
        [f"IMP-{n}", "2020-04-23T12:00:00Z", "Harbour Protective Ltd", "09876543"] + GOOD_ROW[4:]
        for n in range(DUPLICATES_LISTED + 2)
    ]
    run(write_csv(tmp_path / "offers.csv", rows))
    last = Case.objects.get(offer__external_ref=f"IMP-{DUPLICATES_LISTED + 1}")
    earlier = sorted(Case.objects.exclude(pk=last.pk).values_list("pk", flat=True))
    event = CaseEvent.objects.get(case=last, kind=EventKind.DUPLICATE_LINKED)
    assert event.data == {
        "possible_duplicates": earlier[-DUPLICATES_LISTED:],
        "possible_duplicates_count": DUPLICATES_LISTED + 1,
    }


def test_it_imports_an_xlsx_file(tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER + ["supplier_incorporated_on", "sterile"])
    sheet.append(
        [
            "X-1",
            "2020-04-23T10:20:58+01:00",
            "Cell Types Ltd",
            "01234567",
            "gloves",
            "Gloves",
            50000,
            0.07,
            "uk",
            3,
            datetime(2009, 6, 1),
            "yes",
        ]
    )
    sheet.append(["X-1", None, None, None, "apron", "Aprons", 1000.0, 1, "uk", 0, None, False])
    sheet.append([None] * 12)  # blank rows are skipped
    workbook.save(tmp_path / "offers.xlsx")
    out, _ = run(tmp_path / "offers.xlsx")
    assert "2 rows, 1 offers: 1 new" in out
    offer = Offer.objects.get(external_ref="X-1")
    assert offer.supplier.incorporated_on.isoformat() == "2009-06-01"
    gloves, aprons = offer.lines.order_by("pk")
    assert (gloves.quantity, gloves.unit_price, gloves.sterile) == (50000, Decimal("0.0700"), True)
    assert (aprons.quantity, aprons.unit_price, aprons.sterile) == (1000, Decimal("1.0000"), False)


def test_an_xlsx_date_cell_is_refused_for_a_time_of_receipt(tmp_path):
    workbook = Workbook()
    workbook.active.append(HEADER)
    workbook.active.append(
        ["X-1", datetime(2020, 4, 23, 10, 20), *GOOD_ROW[2:6], 2.5, "1.5", "uk", 3]
    )
    workbook.save(tmp_path / "offers.xlsx")
    _, err = run_failing(tmp_path / "offers.xlsx")
    assert "row 2, column received_at: A spreadsheet date cell has no UTC offset" in err
    assert "row 2, column quantity: Must be a whole number." in err


def test_the_readme_documents_every_column():
    readme = (ROOT / "README.md").read_text()
    for column in COLUMNS:
        assert f"| `{column.name}` |" in readme, column.name
    assert EXAMPLE.read_text().splitlines()[0] == ",".join(c.name for c in COLUMNS)


def test_the_bulk_path_writes_what_offer_create_writes(caseworker):
    """offers_import_bulk (the import) and intake_offer_create (the API, through
    offer_create) record the same validated offers as the same rows."""
    from dataclasses import replace

    from django.utils import timezone

    from offers.importing import import_parse
    from offers.services import intake_offer_create, offers_import_bulk

    parsed = import_parse(EXAMPLE.read_bytes(), filename="offers.csv", now=timezone.now())
    for intake in parsed.offers:
        intake_offer_create(acting_user=caseworker, intake=intake)
    offers_import_bulk(
        acting_user=caseworker,
        intakes=[replace(i, external_ref=f"BULK-{i.external_ref}") for i in parsed.offers],
    )

    def rows(prefix_filter):
        result = []
        for offer in Offer.objects.filter(prefix_filter).order_by("pk"):
            case = offer.case
            result.append(
                {
                    "offer": (
                        offer.supplier_id,
                        offer.channel,
                        offer.received_at,
                        offer.summary,
                        offer.value_gbp,
                        offer.created_by_id,
                    ),
                    "lines": list(
                        offer.lines.order_by("pk").values_list(
                            "category",
                            "description",
                            "quantity",
                            "unit_price",
                            "currency",
                            "standards",
                            "certificate",
                            "strap_type",
                            "sterile",
                            "sterilisation_validation",
                            "stock_location",
                            "lead_time_days",
                        )
                    ),  # fmt: skip
                    "introductions": list(
                        offer.introductions.values_list(
                            "introducer_id",
                            "introduced_at",
                            "relationship",
                            "conflict_of_interest_notes",
                            "recorded_by_id",
                        )
                    ),  # fmt: skip
                    "case": (case.queue, case.status, case.opened_at, case.priority),
                    "events": list(
                        case.events.order_by("pk").values_list(
                            "kind", "actor_id", "to_value", "rationale"
                        )
                    ),
                }
            )
        return result

    from django.db.models import Q

    by_offer_create = rows(~Q(external_ref__startswith="BULK-"))
    in_bulk = rows(Q(external_ref__startswith="BULK-"))
    assert len(by_offer_create) == 3
    for single, bulk in zip(by_offer_create, in_bulk, strict=True):
        # The bulk copies are second: each is a possible duplicate of its twin.
        events = [e for e in bulk.pop("events") if e[0] != EventKind.DUPLICATE_LINKED]
        assert single.pop("events") == events
        assert single == bulk
    assert Supplier.objects.count() == 3  # found again, not made twice
