from decimal import Decimal
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import factories
from triage import routing, routing_services
from triage.models import RoutingPolicy
from triage.services import TriageError
from vipcases.codes import EventKind, Queue
from vipcases.jobs import job_run
from vipcases.models import BackgroundJob, Case, CaseEvent

pytestmark = pytest.mark.django_db

WEAK = {"quantity": 500_000, "lead_time_days": 60, "stock_location": "overseas"}


@pytest.fixture
def in_train(caseworker):
    """Cases in each in-train queue; the VIP ones owned by a caseworker."""
    rapid = factories.case()
    vip = [
        factories.case(
            lines=[factories.line(**WEAK)], introductions=[factories.introduction(role="minister")]
        )
        for _ in range(3)
    ]
    tracked = factories.case(
        lines=[factories.line(**WEAK)], introductions=[factories.introduction(role="mp")]
    )
    caseworker.email = "cw@example.gov.uk"
    caseworker.save()
    Case.objects.filter(pk__in=[c.pk for c in vip]).update(owner=caseworker)
    assert [c.queue for c in (rapid, *vip, tracked)] == [
        "rapid_response",
        "vip",
        "vip",
        "vip",
        "mp_inbox",
    ]
    return {"rapid": rapid, "vip": vip, "tracked": tracked}


def draft(manager, **changes):
    fields = {
        "rapid_threshold": 70,
        "vip_value_threshold_gbp": Decimal("250000"),
        "sla_days": {"triage": 1, "rapid_response": 2, "vip": 5, "mp_inbox": 10},
        "rationale": "Rapid Response now has capacity for more cases.",
    }
    fields.update(changes)
    return routing_services.routing_policy_create(acting_user=manager, **fields)


def apply(manager, policy):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return routing_services.routing_policy_apply(policy_id=policy.pk, acting_user=manager)


def apply_without_running(manager, policy) -> BackgroundJob:
    with TestCase.captureOnCommitCallbacks(execute=False):
        job = routing_services.routing_policy_apply(policy_id=policy.pk, acting_user=manager)
    return job


def test_the_preview_counts_moves_and_writes_nothing(manager, in_train):
    policy = draft(manager, vip_value_threshold_gbp=Decimal("10000000"))
    events = CaseEvent.objects.count()
    preview = routing_services.routing_policy_preview(policy)
    assert preview.moves == [("vip", "mp_inbox", 3)]
    assert preview.unchanged == 2
    assert {c.pk for c in preview.sample} == {c.pk for c in in_train["vip"]}
    assert CaseEvent.objects.count() == events
    assert RoutingPolicy.objects.get(is_active=True).version == 1


def test_applying_moves_exactly_the_previewed_cases_once_each_and_tells_the_owner(
    manager, in_train, caseworker
):
    policy = draft(manager, rapid_threshold=20)
    preview = routing_services.routing_policy_preview(policy)
    assert preview.moves == [("mp_inbox", "rapid_response", 1), ("vip", "rapid_response", 3)]
    job = apply(manager, policy)
    job.refresh_from_db()
    assert (job.state, job.total, job.done, job.changed) == ("done", 5, 5, 4)
    assert RoutingPolicy.objects.get(is_active=True) == policy
    assert Case.objects.filter(queue=Queue.RAPID_RESPONSE).count() == 5
    moved = CaseEvent.objects.filter(kind=EventKind.MOVED)
    assert moved.count() == 4
    assert set(moved.values_list("actor", flat=True)) == {manager.pk}
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["cw@example.gov.uk"]
    assert "3 of your cases moved" in mail.outbox[0].subject
    # The job run again (a redelivered task) finds nothing left to do.
    BackgroundJob.objects.filter(pk=job.pk).update(
        state="running", params={**job.params, "cursor": 0}
    )
    job_run(job.pk)
    assert CaseEvent.objects.filter(kind=EventKind.MOVED).count() == 4


def test_the_moves_are_chained_to_each_case_timeline(manager, in_train):
    apply(manager, draft(manager, rapid_threshold=20))
    for case in (in_train["tracked"], *in_train["vip"]):
        events = list(CaseEvent.objects.filter(case=case).order_by("id"))
        assert events[-1].kind == EventKind.MOVED
        assert events[-1].prev_hash == events[-2].hash
    call_command("verify_events", stdout=StringIO())  # exits 1 on a break


def test_a_batch_costs_the_same_queries_however_many_cases_move(manager, in_train):
    def step_queries(policy) -> tuple[int, int]:
        job = apply_without_running(manager, policy)
        with CaptureQueriesContext(connection) as queries:
            routing_services.transition_step(job)
        return len(queries), job.changed

    # The VIP cases to the MP inbox, then they and the tracked case to Rapid Response.
    few = step_queries(
        draft(manager, rapid_threshold=100, vip_value_threshold_gbp=Decimal("10000000"))
    )
    many = step_queries(draft(manager, rapid_threshold=20))
    assert (few[1], many[1]) == (3, 4)
    assert few[0] == many[0]


def test_a_transition_never_closes_a_case(manager, in_train):
    policy = draft(manager, vip_value_threshold_gbp=Decimal("10000000"), rapid_threshold=100)
    Case.objects.filter(pk=in_train["tracked"].pk).update(eligible=False)
    preview = routing_services.routing_policy_preview(policy)
    assert ("mp_inbox", 1) in preview.held
    apply(manager, policy)
    assert Case.objects.get(pk=in_train["tracked"].pk).queue == Queue.MP_INBOX
    assert not Case.objects.filter(queue=Queue.CLOSED).exists()


def test_only_managers_draft_and_apply(caseworker, manager):
    with pytest.raises(TriageError, match="Only managers"):
        draft(caseworker)
    policy = draft(manager)
    with pytest.raises(TriageError, match="Only managers"):
        routing_services.routing_policy_apply(policy_id=policy.pk, acting_user=caseworker)
    assert policy.version == 2
    with pytest.raises(TriageError, match="rationale"):
        draft(manager, rationale="")


@settings(max_examples=60, deadline=None)
@given(
    score=st.integers(0, 100),
    eligible=st.booleans(),
    value=st.decimals(min_value=0, max_value=2_000_000, places=2),
    roles=st.sets(
        st.sampled_from(["minister", "mp", "peer", "senior_official", "other"]), max_size=2
    ),
    threshold=st.integers(0, 100),
)
def test_the_sql_preview_agrees_with_the_routing_rules(score, eligible, value, roles, threshold):
    """routing_target_sql() must choose what routing.route() chooses, for any case in train."""
    from django.db import transaction

    from offers.models import Introducer, Introduction

    rules = routing.RoutingRules(
        version=9, rapid_threshold=threshold, vip_value_threshold_gbp=Decimal("250000")
    )
    with transaction.atomic():
        case = factories.case()
        Case.objects.filter(pk=case.pk).update(queue=Queue.VIP, priority=score, eligible=eligible)
        type(case.offer).objects.filter(pk=case.offer_id).update(value_gbp=value)
        for role in roles:
            Introduction.objects.create(
                offer=case.offer,
                introducer=Introducer.objects.create(name="Sam Example", role=role),
                introduced_at=case.opened_at,
            )
        row = (
            routing_services.with_routing_facts(Case.objects.filter(pk=case.pk))
            .annotate(target=routing_services.routing_target_sql(rules))
            .select_related("offer")
            .get()
        )
        expected = routing.route(routing_services.routing_facts_for(row, (), False), rules).queue
        assert row.target == expected
        transaction.set_rollback(True)
