"""Celery tasks for case work: thin, take ids, call one service, safe to run twice."""

import logging
from datetime import timedelta

from celery import shared_task
from django.db import OperationalError

from vipcases import jobs, report_cache, services
from vipcases.report_cache import REPORT_REFRESH_SECONDS

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
    import offers.jobs  # noqa: F401 - registers the import job step
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


# A job batch commits in seconds; one silent for this long has lost its worker.
JOB_STALL_AFTER = timedelta(minutes=2)


@shared_task(acks_late=True)
def jobs_resume_task() -> list[int]:
    """Periodic: start again every job whose worker died; it resumes from its cursor."""
    stalled = jobs.jobs_stalled(JOB_STALL_AFTER)
    for job_id in stalled:
        job_run_task.delay(job_id)
    return stalled


@shared_task(acks_late=True, expires=REPORT_REFRESH_SECONDS)
def reports_refresh_task() -> dict[str, str]:
    """Periodic: work out the fairness report and the dashboard's times to decision
    afresh and keep them in the cache, so managers never wait for them. Only reads;
    a refresh that is late or lost leaves the previous figures in the cache."""
    done = report_cache.figures_refresh()
    return {name: at.isoformat() for name, at in done.items()}


@shared_task(acks_late=True)
def noop_task() -> None:
    """Does nothing: benchmarks/routing_bench.py measures the broker's own throughput with it."""


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def housekeeping_task() -> dict[str, int]:
    """Daily: remove what is past its retention (vipcases/housekeeping.py). Safe to run
    twice: a second run finds nothing left to remove."""
    from vipcases.housekeeping import housekeeping_run

    return housekeeping_run(trigger="schedule")
