"""vipcases.bulk.insert_all writes the rows bulk_create writes (COPY on PostgreSQL)."""

import random
from datetime import UTC, date, datetime, timedelta
from unittest import mock

import pytest
from django.db import IntegrityError, connection, transaction

from offers.models import Introducer, Introduction, Offer, OfferLine, Supplier
from vipcases import demo
from vipcases.bulk import insert_all
from vipcases.codes import Queue
from vipcases.models import Case

pytestmark = pytest.mark.django_db

RECEIVED = datetime(2020, 4, 27, 9, 30, tzinfo=UTC)


def _plans(seed: int, count: int = 40):
    """Unsaved suppliers, introducers and offer plans, the same for the same seed."""
    rng = random.Random(seed)
    suppliers = [demo.supplier_build(rng, window_start=date(2020, 1, 6)) for _ in range(5)]
    introducers = [demo.introducer_build(rng) for _ in range(4)]
    plans = []
    for n in range(count):
        introducer = rng.choice(introducers) if n % 2 else None
        plans.append(
            demo.offer_plan_build(
                rng,
                supplier=rng.choice(suppliers),
                received_at=RECEIVED - timedelta(hours=n),
                introducer=introducer,
                channel=demo.channel_choose(rng, introducer),
            )
        )
    return suppliers, introducers, plans


def _write(save, seed: int):
    suppliers, introducers, plans = _plans(seed)
    save(Supplier, suppliers)
    save(Introducer, introducers)
    save(Offer, [p.offer for p in plans])
    save(OfferLine, [line for p in plans for line in p.lines])
    save(Introduction, [i for p in plans for i in p.introductions])
    cases = save(Case, [Case(offer=p.offer, opened_at=p.offer.received_at) for p in plans])
    return {
        Supplier: suppliers,
        Introducer: introducers,
        Offer: [p.offer for p in plans],
        OfferLine: [line for p in plans for line in p.lines],
        Introduction: [i for p in plans for i in p.introductions],
        Case: cases,
    }


def _row(model, obj, positions: dict) -> dict:
    """The stored row, with each foreign key as the position of the row it points to."""
    stored = model.objects.filter(pk=obj.pk).values().get()
    stored.pop(model._meta.pk.attname)
    for field in model._meta.concrete_fields:
        if field.is_relation and stored[field.attname] is not None:
            target = field.related_model
            stored[field.attname] = positions.get(target, {}).get(stored[field.attname], "?")
    return stored


def test_insert_all_writes_what_bulk_create_writes():
    # One moment for both, so that the auto_now_add stamps can be compared too.
    with mock.patch("django.utils.timezone.now", return_value=RECEIVED):
        by_copy = _write(insert_all, seed=7)
        by_orm = _write(lambda model, objs: model.objects.bulk_create(objs), seed=7)

    def positions(written):
        return {model: {obj.pk: n for n, obj in enumerate(objs)} for model, objs in written.items()}

    copy_positions, orm_positions = positions(by_copy), positions(by_orm)
    for model, objs in by_copy.items():
        assert len(objs) == len(by_orm[model]) > 0
        for ours, theirs in zip(objs, by_orm[model], strict=True):
            assert not ours._state.adding
            assert _row(model, ours, copy_positions) == _row(model, theirs, orm_positions)
    # Choices are stored as their values, JSON as JSON, prices as decimals.
    case = Case.objects.get(pk=by_copy[Case][0].pk)
    assert case.queue == Queue.TRIAGE == "triage"
    assert Supplier.objects.get(pk=by_copy[Supplier][0].pk).created_at == RECEIVED
    lines = OfferLine.objects.filter(pk__in=[line.pk for line in by_copy[OfferLine]])
    assert any(line.standards for line in lines)
    assert all(isinstance(line.standards, list) for line in lines)


def test_ids_follow_list_order_and_a_given_id_is_kept():
    suppliers, _, _ = _plans(seed=3)
    suppliers[2].pk = 990_001
    insert_all(Supplier, suppliers)
    ids = [s.pk for s in suppliers]
    assert ids[2] == 990_001
    others = ids[:2] + ids[3:]
    assert others == sorted(others)
    assert set(Supplier.objects.values_list("pk", flat=True)) == set(ids)


def test_a_failed_insert_leaves_nothing():
    first, _, _ = _plans(seed=5)
    insert_all(Supplier, first)
    again, _, _ = _plans(seed=6)
    again[-1].pk = first[0].pk  # already taken: the primary key refuses the last row
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_all(Supplier, again)
    assert set(Supplier.objects.values_list("pk", flat=True)) == {s.pk for s in first}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the COPY path is PostgreSQL's")
def test_postgresql_copies_rather_than_inserting(django_assert_max_num_queries):
    suppliers, _, _ = _plans(seed=9)
    with django_assert_max_num_queries(1) as captured:  # the ids; COPY is not a query
        insert_all(Supplier, suppliers)
    assert "nextval" in captured.captured_queries[0]["sql"]
    assert Supplier.objects.count() == len(suppliers)


AWKWARD_TEXT = 'Says "FFP3", a back\\slash, a tab\tand a line\nbreak, £1.85, ✓ and \u2028'


def _assessments(cases) -> list:
    from triage.models import TriageAssessment

    return [
        TriageAssessment(
            case=case,
            total=n,
            automatic_total=n,
            components=[{"name": "need", "points": n, "sentence": AWKWARD_TEXT}],
            flags=[{"code": "price", "text": AWKWARD_TEXT, "nested": {"list": [1, None, True]}}],
            eligible=bool(n % 2),
            ineligible_reasons=[AWKWARD_TEXT] if n % 2 == 0 else [],
            policy_version="test-1",
            inputs={"offer": {"lines": [{"description": AWKWARD_TEXT}]}, "today": "2020-04-27"},
            created_at=RECEIVED,
        )
        for n, case in enumerate(cases)
    ]


def test_assessments_with_awkward_json_are_written_as_bulk_create_writes_them():
    """Scoring writes its assessments with insert_all (triage/services.py): their JSON,
    with quotes, backslashes, tabs, line breaks and non-ASCII, is stored as bulk_create
    stores it."""
    from triage.models import TriageAssessment

    cases = _write(insert_all, seed=11)[Case]
    ours = insert_all(TriageAssessment, _assessments(cases))
    theirs = TriageAssessment.objects.bulk_create(_assessments(cases))
    positions = {Case: {case.pk: n for n, case in enumerate(cases)}}
    for mine, other in zip(ours, theirs, strict=True):
        assert _row(TriageAssessment, mine, positions) == _row(TriageAssessment, other, positions)
    stored = TriageAssessment.objects.get(pk=ours[0].pk)
    assert stored.components[0]["sentence"] == AWKWARD_TEXT
    assert stored.flags[0]["nested"] == {"list": [1, None, True]}
