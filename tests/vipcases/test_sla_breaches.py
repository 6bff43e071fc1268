from datetime import timedelta

import pytest
from django.core import mail
from django.test import TestCase
from django.utils import timezone

from tests import factories
from vipcases.codes import EventKind
from vipcases.models import Case, CaseEvent
from vipcases.tasks import sla_breaches_task

pytestmark = pytest.mark.django_db


def overdue(**fields):
    case = factories.case()
    Case.objects.filter(pk=case.pk).update(sla_due_at=timezone.now() - timedelta(hours=2), **fields)
    return case


def run():
    with TestCase.captureOnCommitCallbacks(execute=True):
        return sla_breaches_task()


def test_it_flags_a_breach_once_and_tells_the_owner(caseworker):
    caseworker.email = "owner@example.gov.uk"
    caseworker.save()
    case = overdue(owner=caseworker)
    on_time = factories.case()
    assert run() == 1
    assert run() == 0
    assert CaseEvent.objects.filter(case=case, kind=EventKind.SLA_BREACHED).count() == 1
    assert not CaseEvent.objects.filter(case=on_time, kind=EventKind.SLA_BREACHED).exists()
    assert Case.objects.get(pk=case.pk).sla_breached_at is not None
    assert [m.to for m in mail.outbox] == [["owner@example.gov.uk"]]


def test_it_tells_the_managers_when_nobody_owns_the_case(manager):
    manager.email = "manager@example.gov.uk"
    manager.save()
    overdue()
    run()
    assert [m.to for m in mail.outbox] == [["manager@example.gov.uk"]]


def test_it_ignores_closed_cases():
    overdue(status="closed", queue="closed", outcome="withdrawn")
    assert run() == 0
