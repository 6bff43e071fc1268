"""Celery tasks for intake: thin, take ids, call one service, safe to run twice."""

from celery import shared_task
from django.db import OperationalError

from triage.services import cases_triage


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=10,
)
def imported_cases_triage_task(case_ids: list[int]) -> None:
    """Score, then route, a batch of imported cases. A second delivery finds them scored
    and routed and changes nothing (cases_triage scores only unscored cases and routes
    only cases still new in triage)."""
    cases_triage(case_ids)
