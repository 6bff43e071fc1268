"""The figures that read every case are worked out in the background (beat) and served
from the cache: the page then reads them without working them out, and shows when."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.vipcases.dashboard_data import make_case, now_fixed
from vipcases.celery import app
from vipcases.codes import Outcome, Queue, Status
from vipcases.report_cache import DECISION_TIMES, FAIRNESS, PAST_DAYS, REPORT_REFRESH_SECONDS
from vipcases.tasks import reports_refresh_task

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def _decided_case(**extra):
    now = now_fixed()
    return make_case(
        now=now,
        opened=timedelta(days=5),
        closed=timedelta(days=1),
        status=Status.CLOSED,
        queue=Queue.CLOSED,
        outcome=Outcome.CONTRACT_AWARDED,
        routed_to=Queue.RAPID_RESPONSE,
        **extra,
    )


def test_beat_refreshes_the_cached_figures_more_often_than_they_expire():
    entry = next(
        e for e in app.conf.beat_schedule.values() if e["task"].endswith("reports_refresh_task")
    )
    assert entry["schedule"] == REPORT_REFRESH_SECONDS


def test_the_refresh_task_fills_the_cache_and_the_pages_serve_it(manager, client_for):
    _decided_case()
    client = client_for(manager)

    def fairness_queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get("/dashboard/fairness/")
        assert response.status_code == 200
        return len(captured.captured_queries)

    working_out = fairness_queries()  # an empty cache: the page works the report out
    cache.clear()
    before = timezone.now()
    done = reports_refresh_task.delay().get()
    assert set(done) == {DECISION_TIMES, FAIRNESS, PAST_DAYS}
    served = fairness_queries()
    # Served from the cache: only the session, the user and their roles are read.
    assert served < working_out - 3

    response = client.get("/dashboard/fairness/")
    assert response.context["worked_out_at"] >= before
    html = response.content.decode()
    assert "worked out in the background every 4 minutes" in html
    # The page defines "routed to" as the figures count it: each case once, last decision.
    assert "their latest routing decision sent to each queue" in html
    decisions_at = client.get("/dashboard/").context["decisions_at"]
    assert decisions_at >= before


def test_the_refresh_task_picks_up_new_decisions(manager, client_for):
    _decided_case()
    client = client_for(manager)
    reports_refresh_task.delay().get()
    first = client.get("/dashboard/fairness/").context["report"]
    _decided_case(roles=("mp",))
    # Still the cached figures until the next refresh...
    assert client.get("/dashboard/fairness/").context["report"].bands == first.bands
    reports_refresh_task.delay().get()
    again = client.get("/dashboard/fairness/").context["report"]

    def cases(report) -> int:
        return sum(row.cases.value for band in report.bands for row in band.rows[:2])

    assert cases(again) == cases(first) + 1


def test_each_case_keeps_its_lead_introducer_role_and_the_queue_routing_chose():
    from offers.services import offer_create
    from tests import factories
    from triage.services import cases_triage

    def opened(*roles):
        return offer_create(
            acting_user=None,
            supplier=factories.supplier(),
            channel="webform",
            received_at=timezone.now() - timedelta(hours=1),
            lines=[factories.line()],
            introductions=[
                factories.introduction(role=role, name=f"Kept Fact {i}")
                for i, role in enumerate(roles)
            ],
        )

    nobody, mp_and_minister, other = opened(), opened("mp", "minister"), opened("other")
    assert [c.lead_introducer_role for c in (nobody, mp_and_minister, other)] == [
        "",
        "minister",
        "other",
    ]
    assert nobody.routed_queue == ""

    cases_triage([nobody.pk, mp_and_minister.pk, other.pk])
    for case in (nobody, mp_and_minister, other):
        case.refresh_from_db()
        routed = case.events.filter(kind="routed").order_by("-created_at", "-id").first()
        assert case.routed_queue == routed.to_value == case.queue
