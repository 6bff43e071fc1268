from datetime import timedelta

import pytest
from django.test import TestCase
from django.utils import timezone

from offers.services import offer_create
from tests import factories
from triage.tasks import triage_sweep_task
from vipcases.codes import Queue
from vipcases.models import Case

pytestmark = pytest.mark.django_db


def lost_case():
    """An offer saved while the broker was down: its on-commit task never ran."""
    case = offer_create(
        acting_user=None,
        supplier=factories.supplier(),
        channel="webform",
        received_at=timezone.now(),
        lines=[factories.line()],
    )
    Case.objects.filter(pk=case.pk).update(updated_at=timezone.now() - timedelta(minutes=5))
    return case


def test_the_sweep_scores_and_routes_a_case_whose_task_was_lost():
    case = lost_case()
    assert Case.objects.get(pk=case.pk).queue == Queue.TRIAGE
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert triage_sweep_task() == 1
    case.refresh_from_db()
    assert case.queue == Queue.RAPID_RESPONSE
    assert case.assessments.count() == 1
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert triage_sweep_task() == 0


def test_the_sweep_leaves_a_fresh_case_to_its_own_task():
    case = offer_create(
        acting_user=None,
        supplier=factories.supplier(),
        channel="webform",
        received_at=timezone.now(),
        lines=[factories.line()],
    )
    assert triage_sweep_task() == 0
    assert Case.objects.get(pk=case.pk).queue == Queue.TRIAGE
