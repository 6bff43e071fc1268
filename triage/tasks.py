"""Celery tasks for triage: thin, take ids, call one service, safe to run twice."""

from celery import shared_task
from django.db import OperationalError

from triage import services
from vipcases.queueing import enqueue_on_commit

RETRY = {
    "autoretry_for": (OperationalError,),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "max_retries": 10,
    "acks_late": True,
}


@shared_task(**RETRY)
def case_score_task(case_id: int) -> None:
    """Score a new case, then route it. A second delivery finds it scored and stops."""
    services.cases_score([case_id], only_unscored=True)
    enqueue_on_commit(case_route_task, case_id)


@shared_task(**RETRY)
def case_route_task(case_id: int) -> None:
    """Route a scored case still in triage; a second delivery finds it routed and stops."""
    services.cases_route([case_id])
