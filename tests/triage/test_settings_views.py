import pytest
from django.test import TestCase

from tests import factories
from triage.models import ClinicalNeed, ClinicalNeedChange, RoutingPolicy
from vipcases.codes import EventKind
from vipcases.models import BackgroundJob, CaseEvent

pytestmark = pytest.mark.django_db

PAGES = [
    "/settings/",
    "/settings/clinical-need/",
    "/settings/clinical-need/gown/",
    "/settings/routing/",
]


@pytest.mark.parametrize("url", PAGES)
def test_only_managers_reach_the_settings(
    client, client_for, manager, caseworker, mp_inbox_officer, url
):
    assert client.get(url).status_code == 302
    assert client_for(caseworker).get(url).status_code == 403
    assert client_for(mp_inbox_officer).get(url).status_code == 403
    assert client_for(manager).get(url).status_code == 200


def test_a_manager_changes_clinical_need_and_watches_the_rescore(client_for, manager):
    factories.case(
        lines=[
            factories.line(
                category="gown", description="Gown", standards=["EN 13795"], strap_type=""
            )
        ]
    )
    client = client_for(manager)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(
            "/settings/clinical-need/gown/",
            {
                "criticality": "medium",
                "unmet_demand": "4000000",
                "required_standards": "EN 13795\nEN 14126",
                "benchmark_price_gbp": "4.20",
                "rationale": "National stock of gowns recovered.",
            },
        )
    job = BackgroundJob.objects.get()
    assert response.status_code == 302
    assert response.url == f"/settings/jobs/{job.pk}/"
    page = client.get(response.url).text
    assert "Finished" in page
    assert "1 of 1 cases" in page
    assert ClinicalNeed.objects.get(category="gown").criticality == "medium"
    assert ClinicalNeedChange.objects.get().changed_by == manager


def test_a_clinical_need_change_without_a_rationale_shows_the_error(client_for, manager):
    response = client_for(manager).post(
        "/settings/clinical-need/gown/",
        {"criticality": "medium", "unmet_demand": "-5", "required_standards": "", "rationale": ""},
    )
    assert response.status_code == 200
    assert "There is a problem" in response.text
    assert 'href="#id_rationale"' in response.text
    assert ClinicalNeed.objects.get(category="gown").criticality == "critical"


def test_a_manager_drafts_previews_and_applies_a_routing_policy(client_for, manager):
    weak = {"quantity": 500_000, "lead_time_days": 60, "stock_location": "overseas"}
    factories.case(
        lines=[factories.line(**weak)], introductions=[factories.introduction(role="minister")]
    )
    client = client_for(manager)
    response = client.post(
        "/settings/routing/",
        {
            "rapid_threshold": "30",
            "vip_value_threshold_gbp": "250000",
            "sla_rapid_response": "2",
            "sla_vip": "5",
            "sla_mp_inbox": "10",
            "sla_triage": "1",
            "rationale": "Rapid Response can take more.",
        },
    )
    assert response.status_code == 302
    assert response.url == "/settings/routing/2/"
    preview = client.get(response.url).text
    assert "move VIP → Rapid Response" in preview
    assert RoutingPolicy.objects.get(is_active=True).version == 1
    with TestCase.captureOnCommitCallbacks(execute=True):
        applied = client.post("/settings/routing/2/apply/", {"rationale": "Capacity review"})
    assert applied.status_code == 302
    assert RoutingPolicy.objects.get(is_active=True).version == 2
    assert CaseEvent.objects.filter(kind=EventKind.MOVED).count() == 1


def test_a_manager_overrides_a_score_from_the_case_page(client_for, manager, caseworker):
    case = factories.case()
    assert (
        client_for(caseworker)
        .post(f"/cases/{case.pk}/override/", {"total": 5, "rationale": "x"})
        .status_code
        == 403
    )
    response = client_for(manager).post(
        f"/cases/{case.pk}/override/", {"total": 5, "rationale": "Forged certificate"}
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.priority == 5
    page = client_for(manager).get(f"/cases/{case.pk}/").text
    assert "Forged certificate" in page
