"""offers.intake_copy (the import's COPY write on PostgreSQL) writes what intakes_write
(the ORM) writes; the case events' values path chains as events_append does; the
import's garbage-collector pause; the reader's quick path for text cells."""

import gc
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from offers.importing import _cell, _row, gc_paused, import_parse
from offers.intake import OfferIntake, intake_validate
from offers.intake_copy import intakes_copy
from offers.models import Introducer, Introduction, Offer, OfferLine, Supplier
from offers.services import IntroductionInput, intakes_write, offers_import_bulk
from tests import factories
from tests.offers.conftest import offer_body
from vipcases import events as events_module
from vipcases.events import EventValues, events_append, events_append_values
from vipcases.models import Case, CaseEvent

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the COPY path is PostgreSQL's"
)

# Given by the clock, or hashes covering it (and the case's id): not compared (whether an
# event is first on its case is, and verify_events checks the chains).
UNCOMPARED = {"created_at", "updated_at", "hash"}
MODELS = [Supplier, Introducer, Offer, OfferLine, Introduction, Case, CaseEvent]


class Rollback(Exception):
    pass


def _snapshot(before: dict) -> dict:
    """Every row of the tables, ids of rows written since `before` (table -> highest id
    then) replaced by their rank among the new rows, and introducers (made in no
    particular order by intakes_write) by what they are."""

    def ranks(model):
        ids = model.objects.filter(pk__gt=before[model]).order_by("pk").values_list("pk", flat=True)
        return {pk: f"new {model.__name__} {n}" for n, pk in enumerate(ids)}

    new = {model: ranks(model) for model in MODELS}
    introducers = {r.pk: ("introducer", r.name, r.role, r.office) for r in Introducer.objects.all()}

    def ref(model, pk):
        return new[model].get(pk, pk)

    links = {
        "supplier_id": Supplier,
        "offer_id": Offer,
        "case_id": Case,
    }
    result = {}
    for model in MODELS:
        names = [f.attname for f in model._meta.concrete_fields if f.attname not in UNCOMPARED]
        rows = []
        for row in model.objects.order_by("pk").values(*names):
            row["id"] = ref(model, row["id"])
            for name, target in links.items():
                if name in row:
                    row[name] = ref(target, row[name])
            if "introducer_id" in row:
                row["introducer_id"] = introducers[row["introducer_id"]]
            if model is Introducer:
                row.pop("id")
            if model is CaseEvent:
                row["prev_hash"] = "first" if row["prev_hash"] == "" else "chained"
            if model is CaseEvent and "possible_duplicates" in row["data"]:
                row["data"] = [ref(Case, pk) for pk in row["data"]["possible_duplicates"]]
            rows.append(row)
        if model is Introducer:
            rows.sort(key=lambda r: (r["name"], r["role"], r["office"]))
        result[model.__name__] = rows
    return result


def _written(write) -> tuple[dict, object]:
    """What `write()` writes (and returns), rolled back afterwards."""
    before = {model: max(model.objects.values_list("pk", flat=True), default=0) for model in MODELS}
    try:
        with transaction.atomic():
            returned = write()
            call_command("verify_events", stdout=io.StringIO())  # raises if a chain broke
            written = _snapshot(before)
            raise Rollback
    except Rollback:
        return written, returned


def _intake(**changes) -> OfferIntake:
    intake, errors = intake_validate(offer_body(**changes), now=timezone.now())
    assert not errors, errors
    return intake


def _line(category="ffp3_respirator", **changes) -> dict:
    return offer_body()["lines"][0] | {"category": category} | changes


def _intakes(known_number: str, known_name: str) -> list[OfferIntake]:
    received = datetime(2020, 4, 23, 9, 0, tzinfo=UTC)
    two_introductions = _intake(supplier={"name": "Twice Introduced Ltd", "country": "FR"})
    two_introductions.introductions = [
        IntroductionInput(
            name="A. Example",
            role="mp",
            office="Member for Somewhere",
            relationship="tab\there, newline\nthere, back\\slash",
            introduced_at=received - timedelta(days=2),
        ),
        IntroductionInput(name="P. Peer", role="peer", office=""),  # the lead: a peer
    ]
    return [
        # A known supplier (by company number, two of them: the first is taken), a
        # known introducer, and an open case of the same supplier and category.
        _intake(supplier={"name": "Known Ltd", "company_number": known_number}),
        # The same supplier again in the same batch: a duplicate of both.
        _intake(
            supplier={"name": "Known Ltd", "company_number": known_number},
            lines=[
                _line("gloves", standards=[], strap_type=None, unit_price=None),
                _line("ffp3_respirator"),
            ],
            introducer=None,
        ),
        # A supplier known by name and country only, a closed case of theirs (no
        # duplicate) and special text everywhere.
        _intake(
            channel="email",
            supplier={"name": known_name, "country": "IE"},
            introducer={"name": "Ünïcødé “Quoted”", "role": "minister"},
            summary='Commas, "quotes", \\N, tabs\t and\r\nnew lines; emoji 😷.',
            lines=[
                _line(
                    "gown",
                    description="Gown\twith\\tab",
                    currency="EUR",
                    unit_price="3.0001",
                    sterile=True,
                    sterilisation_validation="ISO 11137-2",
                    strap_type=None,
                    standards=["EN 13795", 'A "quoted"; one', "back\\slash"],
                ),
                _line("ffp2_respirator", quantity=10_000_000_000, lead_time_days=0),
            ],
        ),
        # New suppliers: one with a number (twice in the batch), one by name.
        _intake(
            channel="referral",
            supplier={"name": "Brand New Ltd", "company_number": "99999999"},
            introducer=None,
        ),
        _intake(
            channel="mp_enquiry",
            supplier={"name": "Brand New Again Ltd", "company_number": "99999999"},
            introducer={"name": "New Person", "role": "senior_official", "office": "DHSC"},
            lines=[_line("ffp3_respirator"), _line("iir_mask", strap_type="ear_loop")],
        ),
        two_introductions,
    ]


def _earlier_state(caseworker) -> tuple[str, str, int]:
    number, name = "01230000", "Known By Name Ltd"
    open_case = factories.case(
        company_number=number, name="Known Ltd", lines=[factories.line()], acting_user=caseworker
    )
    Supplier.objects.create(name="Known Ltd, later record", company_number=number)
    factories.case(
        company_number=number,
        name="Known Ltd",
        lines=[factories.line(category="apron", strap_type="")],
    )
    closed = factories.case(
        company_number="", name=name, country="IE", lines=[factories.line(category="gown")]
    )
    Case.objects.filter(pk=closed.pk).update(status="closed")
    Introducer.objects.create(name="A. Example", role="mp", office="Member for Somewhere")
    assert open_case.status != "closed"
    return number, name, open_case.pk


@postgresql_only
@pytest.mark.django_db
@pytest.mark.parametrize("user", [True, False], ids=["a user", "the system"])
def test_copy_writes_what_the_orm_writes(caseworker, user):
    acting_user = caseworker if user else None
    number, name, open_case = _earlier_state(caseworker)
    intakes = _intakes(number, name)

    by_orm, cases = _written(lambda: intakes_write(acting_user=acting_user, intakes=intakes))
    by_copy, (case_ids, linked) = _written(
        lambda: intakes_copy(acting_user=acting_user, intakes=intakes)
    )

    assert by_copy == by_orm
    assert len(case_ids) == len(intakes) and case_ids == sorted(case_ids)
    assert linked == sum(1 for case in cases if case.duplicates_linked) == 3
    assert [
        (row["case_id"], row["data"])
        for row in by_copy["CaseEvent"]
        if row["kind"] == "duplicate_linked"
    ] == [
        ("new Case 0", [open_case]),
        ("new Case 1", [open_case, "new Case 0"]),
        ("new Case 4", ["new Case 3"]),
    ]


@postgresql_only
@pytest.mark.django_db
def test_the_import_writes_with_copy_on_postgresql(monkeypatch, caseworker):
    import offers.intake_copy

    calls = []
    real = offers.intake_copy.intakes_copy
    monkeypatch.setattr(
        offers.intake_copy, "intakes_copy", lambda **kw: calls.append(kw) or real(**kw)
    )
    intakes = [_intake(), _intake()]
    outcome = offers_import_bulk(acting_user=caseworker, intakes=intakes)
    assert len(calls) == 1 and len(outcome.created_case_ids) == 2
    assert outcome.duplicates_linked == 1  # the second: same supplier, same category
    again = offers_import_bulk(acting_user=caseworker, intakes=intakes)
    assert again.created_case_ids == [] and len(again.skipped_refs) == 2 and len(calls) == 1


@postgresql_only
@pytest.mark.django_db
def test_copy_refuses_an_external_ref_already_recorded(caseworker):
    from django.db import IntegrityError

    intake = _intake()
    intakes_copy(acting_user=caseworker, intakes=[intake])
    with pytest.raises(IntegrityError), transaction.atomic():
        intakes_copy(acting_user=caseworker, intakes=[intake])


# --- events_append_values -----------------------------------------------------------------


def test_event_values_are_the_hashed_fields_in_order():
    assert EventValues._fields == events_module.HASHED_FIELDS


def _event_rows(before: int) -> list[dict]:
    names = ["case_id", "prev_hash", "hash", *events_module.HASHED_FIELDS]
    return list(CaseEvent.objects.filter(pk__gt=before).order_by("pk").values(*names))


@pytest.mark.django_db
@pytest.mark.parametrize("copy_from", [2, 10_000], ids=["copy", "insert"])
@pytest.mark.parametrize("new_cases", [True, False], ids=["new cases", "cases with events"])
def test_events_append_values_writes_what_events_append_writes(
    monkeypatch, caseworker, copy_from, new_cases
):
    monkeypatch.setattr(events_module, "COPY_FROM", copy_from)
    cases = [factories.case() for _ in range(3)]
    if new_cases:
        # Cases with no events yet, as an import makes them.
        cases = [
            Case.objects.create(
                offer=Offer.objects.create(
                    supplier=c.offer.supplier, channel="import", received_at=c.opened_at
                ),
                opened_at=c.opened_at,
            )
            for c in cases
        ]
    now = timezone.now()
    values = [
        EventValues(c.pk, "created", caseworker.pk, now, "", "triage", "Offer received.")
        for c in cases
    ] + [
        EventValues(
            cases[0].pk, "duplicate_linked", None, now, rationale="Same supplier.",
            data={"possible_duplicates": [1, 2], "float": 1e16, "nested": {"b": 1, "a": [1.5]}},
        ),
        EventValues(cases[1].pk, "note", caseworker.pk, now, restricted=True, data=None),
    ]  # fmt: skip
    before = max(CaseEvent.objects.values_list("pk", flat=True), default=0)

    def by_instances():
        saved = events_append([CaseEvent(**v._asdict()) for v in values], new_cases=new_cases)
        return [event.pk for event in saved]

    try:
        with transaction.atomic():
            instance_ids = by_instances()
            by_events_append = _event_rows(before)
            raise Rollback
    except Rollback:
        pass
    ids = events_append_values(values, new_cases=new_cases)
    assert _event_rows(before) == by_events_append
    assert (
        ids
        == sorted(ids)
        == list(CaseEvent.objects.filter(pk__gt=before).order_by("pk").values_list("pk", flat=True))
    )
    assert len(ids) == len(instance_ids) == len(values)
    call_command("verify_events", stdout=io.StringIO())


# --- reading --------------------------------------------------------------------------------


def test_gc_paused_pauses_and_restores_the_collector():
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # left as it was found
    finally:
        gc.enable()


@pytest.mark.parametrize(
    "value",
    ["  12 ", "+3", "-4", "1.5", "yes", " No ", "TRUE", "0", "1", "maybe", "a; b ;; c ", "x"],
)
@pytest.mark.parametrize(
    "column",
    ["quantity", "lead_time_days", "sterile", "supplier_ppe_trading_history", "standards",
     "unit_price", "received_at", "supplier_name", "supplier_incorporated_on"],
)  # fmt: skip
def test_a_text_cell_reads_as_cell_reads_it(column, value):
    errors = []
    assert _row(2, [column], [value], errors) == {column: _cell(column, value)}
    assert errors == []


def test_blank_rows_and_cells_without_a_heading():
    errors = []
    assert _row(3, ["summary", None], ["  ", "\t"], errors) is None
    assert _row(4, ["summary", None], [None, ""], errors) is None
    assert errors == []
    assert _row(5, ["summary"], [" ", "stray"], errors) == {}
    assert _row(6, ["summary"], [None, 7], errors) == {}
    assert [str(e) for e in errors] == [
        "row 5: A value in column 2, which has no heading.",
        "row 6: A value in column 2, which has no heading.",
    ]


def test_reading_pauses_the_collector_only_while_it_reads():
    content = (
        b"external_ref,received_at,supplier_name,category,description,quantity,"
        b"stock_location,lead_time_days\n"
        b"A,2020-04-23T10:20:58+01:00,S Ltd,gloves,Gloves,10,uk,1\n"
        b",,,,,,,\n"
        b"A,,,gown,Gown,x,uk,2\n"
    )
    now = timezone.now()
    with gc_paused():
        paused = import_parse(content, filename="f.csv", now=now)
    assert gc.isenabled()
    assert [str(e) for e in paused.errors] == ["row 4, column quantity: Must be a whole number."]
    assert paused.rows == 2
