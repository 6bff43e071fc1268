import pytest

from triage import scoring
from triage.models import RoutingPolicy
from triage.services import clinical_need_table

pytestmark = pytest.mark.django_db


def test_the_migrated_clinical_need_table_is_the_scoring_default():
    assert clinical_need_table() == dict(scoring.DEFAULT_NEED)


def test_one_routing_policy_is_active():
    active = RoutingPolicy.objects.get(is_active=True)
    assert active.version == 1
    assert active.rapid_threshold == 70


def test_the_scoring_codes_are_the_database_codes():
    from vipcases.codes import Category, Criticality, DueDiligence, StockLocation

    assert set(scoring.CATEGORIES) == set(Category.values)
    assert set(scoring.STOCK_LOCATIONS) == set(StockLocation.values)
    assert set(scoring.CRITICALITIES) == set(Criticality.values)
    assert set(scoring.DUE_DILIGENCE) == set(DueDiligence.values)
