"""Job step for the browser import: write a confirmed upload's offers in batches.

The upload was validated in full before the manager could confirm it. Each step writes
the next batch of offers (offers.services.offers_import_bulk) and records its cursor in
the same transaction, so a worker killed mid-import resumes after the last committed
batch; offers already recorded are skipped in any case. The batch's new cases are scored
and routed just after the batch commits (the triage sweep catches any that a dying
worker leaves behind).
"""

from functools import partial

from django.db import transaction
from django.utils import timezone

from offers.importing import ParsedImport, import_parse
from offers.models import ImportUpload
from offers.services import offers_import_bulk
from triage.services import cases_triage
from vipcases.jobs import job_step
from vipcases.models import BackgroundJob

IMPORT_BATCH = 1000

# The parsed upload, kept between the steps of a job in the worker that runs it: parsing
# a large file once per batch would cost more than writing it.
_parsed: dict[tuple[int, str], ParsedImport] = {}


def _parsed_upload(upload: ImportUpload) -> ParsedImport:
    key = (upload.pk, upload.sha256)
    if key not in _parsed:
        _parsed.clear()
        parsed = import_parse(bytes(upload.content), filename=upload.filename, now=timezone.now())
        if not parsed.is_valid:
            raise ValueError(f"the upload no longer validates: {parsed.errors[0]}")
        _parsed[key] = parsed
    return _parsed[key]


@job_step(BackgroundJob.Kind.IMPORT)
def import_step(job: BackgroundJob) -> bool:
    """Import the next batch of the upload's offers; True when none are left."""
    upload = ImportUpload.objects.get(pk=job.params["upload_id"])
    offers = _parsed_upload(upload).offers
    start = job.params.get("cursor", 0)
    batch = offers[start : start + IMPORT_BATCH]
    if batch:
        outcome = offers_import_bulk(acting_user=job.created_by, intakes=batch)
        if outcome.created_case_ids:
            transaction.on_commit(partial(cases_triage, outcome.created_case_ids), robust=True)
        job.changed += len(outcome.created_case_ids)
    job.params["cursor"] = start + len(batch)
    job.done = min(job.total, job.params["cursor"])
    finished = job.params["cursor"] >= len(offers)
    if finished:
        _parsed.pop((upload.pk, upload.sha256), None)
    return finished
