"""Job steps for triage: re-scoring open cases after the clinical-need table changes."""

from django.db.models import Exists, OuterRef

from offers.models import OfferLine
from triage import services
from vipcases.codes import Status
from vipcases.jobs import job_step
from vipcases.models import BackgroundJob, Case

RESCORE_BATCH = 500


def rescore_queryset(categories: list[str] | None):
    """Open cases that hold a line in one of `categories` (all open cases when None)."""
    qs = Case.objects.exclude(status=Status.CLOSED)
    if categories:
        qs = qs.filter(
            Exists(OfferLine.objects.filter(offer_id=OuterRef("offer_id"), category__in=categories))
        )
    return qs


@job_step(BackgroundJob.Kind.RESCORE)
def rescore_step(job: BackgroundJob) -> bool:
    """Re-score the next batch of open cases after the cursor; True when none are left."""
    cursor = job.params.get("cursor", 0)
    ids = list(
        rescore_queryset(job.params.get("categories"))
        .filter(pk__gt=cursor)
        .order_by("pk")
        .values_list("pk", flat=True)[:RESCORE_BATCH]
    )
    if not ids:
        return True
    outcome = services.cases_score(ids, reason=job.params.get("reason", ""))
    job.params["cursor"] = ids[-1]
    job.done = min(job.total, job.done + len(ids)) if job.total else job.done + len(ids)
    job.changed += len(outcome.changed)
    return len(ids) < RESCORE_BATCH


@job_step(BackgroundJob.Kind.TRANSITION)
def transition_step(job: BackgroundJob) -> bool:
    from triage.routing_services import transition_step as step

    return step(job)
