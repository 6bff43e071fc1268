import pytest

from tests import factories
from triage import services
from triage.models import TriageAssessment
from vipcases.codes import EventKind
from vipcases.models import CaseEvent

pytestmark = pytest.mark.django_db


def test_a_manager_overrides_with_a_rationale_and_both_scores_are_kept(manager):
    case = factories.case()
    automatic = case.priority
    services.score_override(
        case_id=case.pk, total=12, rationale="Certificate found to be forged", acting_user=manager
    )
    case.refresh_from_db()
    assert case.priority == 12
    override = TriageAssessment.objects.filter(case=case).first()
    assert (override.is_override, override.total, override.automatic_total) == (True, 12, automatic)
    event = CaseEvent.objects.get(case=case, kind=EventKind.SCORE_OVERRIDDEN)
    assert (event.from_value, event.to_value, event.actor) == (str(automatic), "12", manager)
    assert CaseEvent.objects.filter(case=case, kind=EventKind.SCORED).exists()


def test_the_override_survives_a_rescore(manager):
    case = factories.case()
    services.score_override(
        case_id=case.pk, total=3, rationale="Known counterfeit source", acting_user=manager
    )
    from triage.models import ClinicalNeed

    ClinicalNeed.objects.filter(category="ffp3_respirator").update(unmet_demand=3_000_000)
    services.cases_score([case.pk], reason="test")
    case.refresh_from_db()
    assert case.priority == 3
    assert (
        "override of 3 remains"
        in CaseEvent.objects.filter(case=case, kind=EventKind.SCORED).last().rationale
    )


@pytest.mark.parametrize(
    ("total", "rationale", "message"), [(50, "", "rationale"), (101, "x", "0 to 100")]
)
def test_it_refuses_bad_overrides(manager, total, rationale, message):
    case = factories.case()
    with pytest.raises(services.TriageError, match=message):
        services.score_override(
            case_id=case.pk, total=total, rationale=rationale, acting_user=manager
        )


def test_caseworkers_cannot_override(caseworker):
    case = factories.case()
    with pytest.raises(services.TriageError, match="Only managers"):
        services.score_override(case_id=case.pk, total=1, rationale="x", acting_user=caseworker)


def test_a_stored_score_replays_to_the_same_result():
    case = factories.case()
    assessment = TriageAssessment.objects.get(case=case)
    replayed = services.assessment_replay(assessment)
    assert replayed.total == assessment.total
    assert [c.points for c in replayed.components] == [c["points"] for c in assessment.components]


def test_a_stale_override_is_refused_and_nothing_changes(manager):
    case = factories.case()
    seen = case.version
    services.score_override(
        case_id=case.pk,
        total=40,
        rationale="First look",
        acting_user=manager,
        expected_version=seen,
    )
    with pytest.raises(services.TriageError, match="Someone else changed this case"):
        services.score_override(
            case_id=case.pk,
            total=90,
            rationale="Second look",
            acting_user=manager,
            expected_version=seen,
        )
    case.refresh_from_db()
    assert case.priority == 40
