"""Background jobs that work through many cases in batches, resumably.

Each job kind registers a step function that does ONE batch in one transaction and
records its progress (a cursor in job.params, job.done) in that same transaction.
So a worker killed mid-job loses at most an uncommitted batch; the redelivered task
(acks late) resumes from the committed cursor and never applies a batch twice.
"""

import logging
from collections.abc import Callable

from django.db import transaction
from django.utils import timezone

from vipcases.models import BackgroundJob

logger = logging.getLogger(__name__)

# kind -> step(job) -> True when the job has nothing left to do
STEPS: dict[str, Callable[[BackgroundJob], bool]] = {}


def job_step(kind: str):
    def register(step):
        STEPS[kind] = step
        return step

    return register


def job_create(
    *, kind: str, description: str, params: dict, total: int, acting_user
) -> BackgroundJob:
    """Record a job and start it after commit. Call inside the caller's transaction."""
    from vipcases.queueing import enqueue_on_commit
    from vipcases.tasks import job_run_task

    job = BackgroundJob.objects.create(
        kind=kind, description=description, params=params, total=total, created_by=acting_user
    )
    enqueue_on_commit(job_run_task, job.pk)
    return job


def job_run(job_id: int) -> None:
    """Run a job's batches until it is finished. Safe to call twice or after a crash."""
    while True:
        with transaction.atomic():
            job = BackgroundJob.objects.select_for_update().get(pk=job_id)
            if job.state in (BackgroundJob.State.DONE, BackgroundJob.State.FAILED):
                return
            if job.state == BackgroundJob.State.PENDING:
                job.state = BackgroundJob.State.RUNNING
                job.save(update_fields=["state", "updated_at"])
            finished = STEPS[job.kind](job)
            if finished:
                job.state = BackgroundJob.State.DONE
                job.finished_at = timezone.now()
            job.save(
                update_fields=["state", "finished_at", "done", "changed", "params", "updated_at"]
            )
        if finished:
            return


def job_fail(job_id: int, error: str) -> None:
    BackgroundJob.objects.filter(pk=job_id).exclude(state=BackgroundJob.State.DONE).update(
        state=BackgroundJob.State.FAILED, error=error[:2000], finished_at=timezone.now()
    )


def jobs_stalled(older_than) -> list[int]:
    """Unfinished jobs with no committed batch for `older_than`: their worker died."""
    cutoff = timezone.now() - older_than
    return list(
        BackgroundJob.objects.filter(
            state__in=[BackgroundJob.State.PENDING, BackgroundJob.State.RUNNING],
            updated_at__lt=cutoff,
        ).values_list("pk", flat=True)
    )
