"""Celery tasks for case work: thin, take ids, call one service, safe to run twice."""

import logging

from celery import shared_task
from django.db import OperationalError

from vipcases import jobs, services

logger = logging.getLogger(__name__)


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=10,
)
def job_run_task(self, job_id: int) -> None:
    """Run a background job to the end; resumes from its last committed batch."""
    import triage.jobs  # noqa: F401 - registers the triage job steps

    try:
        jobs.job_run(job_id)
    except OperationalError:
        raise
    except Exception as exc:
        logger.exception("job %s failed", job_id)
        jobs.job_fail(job_id, f"{type(exc).__name__}: {exc}")
        raise


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def sla_breaches_task() -> int:
    """Periodic: flag every open case past its SLA and tell its owner (or the managers)."""
    flagged = 0
    while batch := services.cases_flag_sla_breaches():
        flagged += batch
    return flagged
