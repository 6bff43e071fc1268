"""Celery tasks for triage and routing: thin, take ids, call one service, safe to run twice."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from triage import routing_services, services
from vipcases.locks import advisory_lock
from vipcases.queueing import IdBatcher, enqueue_on_commit

RETRY = {
    "autoretry_for": (OperationalError,),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "max_retries": 10,
    "acks_late": True,
}
# A case still new in triage this long after its last change lost its task (broker down,
# worker killed before it acknowledged): the sweep scores and routes it.
SWEEP_AFTER = timedelta(minutes=1)


@shared_task(**RETRY)
def case_score_task(case_id: int) -> None:
    """Score a new case, then route it. A second delivery finds it scored and stops."""
    services.cases_score([case_id], only_unscored=True)
    enqueue_on_commit(case_route_task, case_id)


@shared_task(**RETRY)
def case_route_task(case_id: int) -> None:
    """Route a scored case still in triage (with any others waiting); a second delivery
    finds it routed and stops."""
    routing_services.cases_route_pending(include=case_id)


@shared_task(**RETRY)
def cases_triage_task(case_ids: list[int]) -> None:
    """Score, then route, a batch of new cases (the intake API's, an import's). A second
    delivery finds them scored and routed and changes nothing (cases_triage scores only
    unscored cases and routes only cases still new in triage)."""
    services.cases_triage(case_ids)


# The intake API's new cases, sent to cases_triage_task a batch at a time from each web
# process (vipcases.queueing.IdBatcher: INTAKE_TRIAGE_BATCH_MS' worth per task).
new_cases_batcher = IdBatcher(cases_triage_task, linger=settings.INTAKE_TRIAGE_BATCH_MS / 1000)


@shared_task(**RETRY)
def triage_sweep_task() -> int:
    """Periodic: score and route every case whose task was lost. One runner at a time."""
    with advisory_lock("triage_sweep") as acquired:
        if not acquired:
            return 0
        ids = routing_services.cases_unrouted(SWEEP_AFTER)
        services.cases_triage(ids)
        return len(ids)
