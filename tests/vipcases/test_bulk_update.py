"""vipcases.bulk.update_in_groups sets each row's own values, and the common ones once,
whether its rows share a few value sets (one UPDATE each) or many (on PostgreSQL, one
UPDATE from arrays)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from tests import factories
from vipcases.bulk import GROUPS_BEFORE_UNNEST, update_in_groups
from vipcases.codes import Queue, Status
from vipcases.models import Case

pytestmark = pytest.mark.django_db

MOMENT = datetime(2020, 4, 27, 9, 30, tzinfo=UTC)


@pytest.fixture
def cases():
    from offers.services import offer_create

    supplier = factories.supplier()
    return [
        offer_create(
            acting_user=None,
            supplier=supplier,
            channel="webform",
            received_at=MOMENT,
            lines=[factories.line()],
        )
        for _ in range(12)
    ]


def _state(pks) -> dict:
    return {
        row["pk"]: row
        for row in Case.objects.filter(pk__in=pks).values(
            "pk", "priority", "eligible", "queue", "status", "sla_due_at", "version", "updated_at"
        )
    }


def test_many_distinct_values_each_reach_their_row_and_common_values_apply_once(cases):
    pks = [case.pk for case in cases]
    before = _state(pks)
    untouched = pks[-1]
    rows = [(pk, {"priority": 10 + n, "eligible": n % 3 != 0}) for n, pk in enumerate(pks[:-1])]
    assert len(rows) > GROUPS_BEFORE_UNNEST

    changed = update_in_groups(Case, rows, version=F("version") + 1, updated_at=MOMENT)

    after = _state(pks)
    assert changed == len(rows)
    for n, pk in enumerate(pks[:-1]):
        assert after[pk]["priority"] == 10 + n
        assert after[pk]["eligible"] is (n % 3 != 0)
        assert after[pk]["version"] == before[pk]["version"] + 1
        assert after[pk]["updated_at"] == MOMENT
        assert after[pk]["queue"] == before[pk]["queue"]  # a field not given stays
    assert after[untouched] == before[untouched]


def test_rows_setting_different_fields_and_nulls_are_all_set(cases):
    pks = [case.pk for case in cases]
    due = MOMENT + timedelta(days=5)
    rows = [
        (pk, {"queue": Queue.VIP, "sla_due_at": due + timedelta(hours=n)})
        for n, pk in enumerate(pks[:6])
    ]
    rows += [
        (pk, {"queue": Queue.CLOSED, "status": Status.CLOSED, "sla_due_at": None})
        for pk in pks[6:9]
    ]
    before = _state(pks)

    assert update_in_groups(Case, rows, version=F("version") + 1) == 9

    after = _state(pks)
    for n, pk in enumerate(pks[:6]):
        assert (after[pk]["queue"], after[pk]["sla_due_at"]) == (
            Queue.VIP,
            due + timedelta(hours=n),
        )
        assert after[pk]["status"] == before[pk]["status"]
    for pk in pks[6:9]:
        assert (after[pk]["queue"], after[pk]["status"], after[pk]["sla_due_at"]) == (
            Queue.CLOSED,
            Status.CLOSED,
            None,
        )
    assert all(after[pk]["version"] == before[pk]["version"] + 1 for pk in pks[:9])
    assert all(after[pk] == before[pk] for pk in pks[9:])


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the arrays are PostgreSQL's")
def test_postgresql_sets_many_distinct_values_in_one_statement(cases):
    rows = [(case.pk, {"priority": n}) for n, case in enumerate(cases)]
    with CaptureQueriesContext(connection) as captured:
        update_in_groups(Case, rows, version=F("version") + 1)
    assert len(captured.captured_queries) == 1
    assert "unnest" in captured.captured_queries[0]["sql"]


def test_a_relation_among_the_values_is_set_as_update_sets_it(cases, caseworker, manager):
    owners = [caseworker, manager, None, caseworker, manager]
    rows = [
        (case.pk, {"owner": owner, "priority": n})
        for n, (case, owner) in enumerate(zip(cases, owners, strict=False))
    ]
    assert update_in_groups(Case, rows) == len(rows)
    stored = dict(Case.objects.filter(pk__in=[pk for pk, _ in rows]).values_list("pk", "owner_id"))
    assert [stored[pk] for pk, _ in rows] == [o.pk if o else None for o in owners]
