from decimal import Decimal

import pytest
from django.test import TestCase

from tests import factories
from triage import services
from triage.models import ClinicalNeed, ClinicalNeedChange, TriageAssessment
from vipcases.codes import EventKind
from vipcases.models import BackgroundJob, CaseEvent

pytestmark = pytest.mark.django_db


def update(user, category="gown", **changes):
    row = ClinicalNeed.objects.get(category=category)
    fields = {
        "criticality": row.criticality,
        "unmet_demand": row.unmet_demand,
        "required_standards": row.required_standards,
        "benchmark_price_gbp": row.benchmark_price_gbp,
        "rationale": "Gown stocks recovered after the April deliveries.",
    }
    fields.update(changes)
    with TestCase.captureOnCommitCallbacks(execute=True):
        return services.clinical_need_update(category=category, acting_user=user, **fields)


def gown_line(**fields):
    defaults = {
        "category": "gown",
        "description": "Surgical gown",
        "standards": ["EN 13795-1"],
        "unit_price": Decimal("4.00"),
        "strap_type": "",
    }
    defaults.update(fields)
    return factories.line(**defaults)


def test_it_records_the_change_and_rescores_the_open_cases_of_that_category(manager):
    gown_case = factories.case(lines=[gown_line()])
    mask_case = factories.case()
    before = gown_case.priority
    change = update(manager, criticality="low")
    assert change.before["criticality"] == "critical"
    assert change.after["criticality"] == "low"
    assert change.changed_by == manager
    job = BackgroundJob.objects.get(pk=change.rescore_job_id)
    assert (job.state, job.total, job.done, job.changed) == ("done", 1, 1, 1)
    gown_case.refresh_from_db()
    assert gown_case.priority < before
    assert TriageAssessment.objects.filter(case=gown_case).count() == 2
    assert TriageAssessment.objects.filter(case=mask_case).count() == 1
    rescored = CaseEvent.objects.filter(case=gown_case, kind=EventKind.SCORED).last()
    assert "Clinical need for gowns changed" in rescored.rationale


def test_it_refuses_without_a_rationale_or_a_manager(manager, caseworker):
    with pytest.raises(services.TriageError, match="rationale"):
        update(manager, criticality="low", rationale=" ")
    with pytest.raises(services.TriageError, match="Only managers"):
        update(caseworker, criticality="low")
    with pytest.raises(services.TriageError, match="Nothing changed"):
        update(manager)
    assert ClinicalNeedChange.objects.count() == 0
    assert ClinicalNeed.objects.get(category="gown").criticality == "critical"


def test_running_the_job_again_changes_nothing(manager):
    factories.case(lines=[gown_line()])
    change = update(manager, unmet_demand=1_000)
    events = CaseEvent.objects.count()
    BackgroundJob.objects.filter(pk=change.rescore_job_id).update(
        state="running", params={"categories": ["gown"]}
    )
    from vipcases.jobs import job_run

    job_run(change.rescore_job_id)
    assert CaseEvent.objects.count() == events
