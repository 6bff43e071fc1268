"""Housekeeping: remove what the service no longer needs from tables that would
otherwise grow for ever. Run daily by beat (vipcases.tasks.housekeeping_task) and by
`manage.py housekeeping [--dry-run]`; README "Housekeeping" lists the retention periods.

- Intake API idempotency records older than IDEMPOTENCY_KEY_RETENTION_DAYS. A retry
  after that with the same key is treated as a new request; one that repeats an
  `external_ref` is still answered with the existing case (offers/api.py), so only a
  body without `external_ref` could then make a second offer.
- Expired sessions (what `manage.py clearsessions` does), with a database-backed
  SESSION_ENGINE.
- django-axes sign-in failures (AccessAttempt) whose last failure is older than the
  cool-off: they no longer lock anyone, and axes only counts failures within it.
- django-axes' sign-in records (AccessLog) older than SIGN_IN_LOG_RETENTION_DAYS.
- Spreadsheet imports: the file's content of a confirmed upload, once its job ended
  IMPORT_FILE_RETENTION_DAYS ago (the row stays: who uploaded which file, by name and
  SHA-256, when, its counts and its job); an upload never confirmed, that long after
  it was uploaded (nothing was imported from it; its report page then answers 404).

Each step works in batches of a few thousand rows, one short transaction each, so a
large backlog never holds long locks. The statement that removes a batch checks the
condition again, so a row that changed meanwhile (a session in use again, an upload
just confirmed) stays. (AccessAttempt rows go through Django's collector, for axes'
delete signal, without that second check; a fresh failure makes axes remove an
expired row itself first, so nothing changes.) Every step is safe to run twice.
"""

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

BATCH_SIZE = 5_000
# An upload's content can be tens of megabytes: clear fewer at a time.
UPLOAD_BATCH_SIZE = 100


def _batches(queryset: QuerySet, batch_size: int, *, by_pk: bool) -> Iterator[list]:
    """Lists of the matching primary keys, at most batch_size each, until none are left.

    by_pk walks the primary key upwards (for tables whose ids grow with time), so no
    batch scans again past the rows removed before it; otherwise each batch takes the
    first matches left (for a filter on an indexed column)."""
    queryset = queryset.order_by("pk") if by_pk else queryset.order_by()
    last = None
    while True:
        page = queryset if last is None else queryset.filter(pk__gt=last)
        ids = list(page.values_list("pk", flat=True)[:batch_size])
        if not ids:
            return
        last = ids[-1]
        yield ids


def _delete(queryset: QuerySet, *, dry_run: bool, by_pk: bool = True) -> int:
    if dry_run:
        return queryset.count()
    label = queryset.model._meta.label
    deleted = 0
    for ids in _batches(queryset, BATCH_SIZE, by_pk=by_pk):
        with transaction.atomic():
            _, per_model = queryset.filter(pk__in=ids).delete()
        deleted += per_model.get(label, 0)
        if not by_pk and not per_model.get(label):
            break  # the same rows would come back: never loop on them
    return deleted


def _now(now: datetime | None) -> datetime:
    return now if now is not None else timezone.now()


# --- one function per table -----------------------------------------------------------------


def idempotency_records_purge(now: datetime | None = None, *, dry_run: bool = False) -> int:
    """Idempotency-Key answers older than IDEMPOTENCY_KEY_RETENTION_DAYS."""
    from offers.models import IdempotencyRecord

    cutoff = _now(now) - timedelta(days=settings.IDEMPOTENCY_KEY_RETENTION_DAYS)
    return _delete(IdempotencyRecord.objects.filter(created_at__lt=cutoff), dry_run=dry_run)


def expired_sessions_purge(now: datetime | None = None, *, dry_run: bool = False) -> int:
    """Sessions past their expiry date (database-backed session engines only)."""
    from importlib import import_module

    from django.contrib.sessions.backends.db import SessionStore as DatabaseStore

    store = import_module(settings.SESSION_ENGINE).SessionStore
    if not issubclass(store, DatabaseStore):
        return 0  # cookie, file or cache sessions: not in the database
    expired = store.get_model_class().objects.filter(expire_date__lt=_now(now))
    # The session key is random: walk the expiry date's index instead.
    return _delete(expired, dry_run=dry_run, by_pk=False)


def axes_attempts_purge(now: datetime | None = None, *, dry_run: bool = False) -> int:
    """Sign-in failures whose last failure is older than the cool-off: they lock nobody.

    axes counts a username's failures only within AXES_COOLOFF_TIME of the last one
    (attempt_time, which failures during a lock do not move), and removes such rows
    itself only when the next failure comes."""
    from axes.helpers import get_cool_off
    from axes.models import AccessAttempt

    cool_off = get_cool_off()
    if cool_off is None:
        return 0  # no cool-off: a lock lasts until an admin lifts it
    cutoff = _now(now) - cool_off
    return _delete(AccessAttempt.objects.filter(attempt_time__lt=cutoff), dry_run=dry_run)


def axes_access_logs_purge(now: datetime | None = None, *, dry_run: bool = False) -> int:
    """django-axes' sign-in records older than SIGN_IN_LOG_RETENTION_DAYS."""
    from axes.models import AccessLog

    cutoff = _now(now) - timedelta(days=settings.SIGN_IN_LOG_RETENTION_DAYS)
    return _delete(AccessLog.objects.filter(attempt_time__lt=cutoff), dry_run=dry_run)


def import_files_clear(now: datetime | None = None, *, dry_run: bool = False) -> int:
    """Drop the content of uploads whose import job ended IMPORT_FILE_RETENTION_DAYS ago.

    Nothing reads it afterwards: the report page defers it, and a finished or failed
    job never runs again. A job still pending or running keeps its file."""
    from offers.models import ImportUpload
    from vipcases.models import BackgroundJob

    cutoff = _now(now) - timedelta(days=settings.IMPORT_FILE_RETENTION_DAYS)
    ended = ImportUpload.objects.filter(
        job__state__in=[BackgroundJob.State.DONE, BackgroundJob.State.FAILED],
        job__finished_at__lt=cutoff,
    ).exclude(content=b"")
    if dry_run:
        return ended.count()
    cleared = 0
    for ids in _batches(ended, UPLOAD_BATCH_SIZE, by_pk=True):
        with transaction.atomic():
            cleared += ended.filter(pk__in=ids).update(content=b"")
    return cleared


def import_uploads_unconfirmed_purge(now: datetime | None = None, *, dry_run: bool = False) -> int:
    """Uploads never confirmed, IMPORT_FILE_RETENTION_DAYS after they were uploaded.

    Nothing was imported from them and nothing refers to them; a manager who still
    wants the file imported uploads it again."""
    from offers.models import ImportUpload

    cutoff = _now(now) - timedelta(days=settings.IMPORT_FILE_RETENTION_DAYS)
    stale = ImportUpload.objects.filter(job__isnull=True, uploaded_at__lt=cutoff)
    return _delete(stale, dry_run=dry_run)


STEPS: dict[str, Callable[..., int]] = {
    "idempotency_records": idempotency_records_purge,
    "expired_sessions": expired_sessions_purge,
    "sign_in_failures": axes_attempts_purge,
    "sign_in_records": axes_access_logs_purge,
    "import_files_cleared": import_files_clear,
    "import_uploads_unconfirmed": import_uploads_unconfirmed_purge,
}


def housekeeping_run(
    now: datetime | None = None, *, dry_run: bool = False, trigger: str = "schedule"
) -> dict[str, int]:
    """Run every step; {step: rows removed (or cleared), or that would be if dry_run}.

    A real run writes one `housekeeping` line to the security log with the counts: the
    record that the system removed them, for retention."""
    from vipcases.security import log_event

    now = _now(now)
    counts = {name: step(now, dry_run=dry_run) for name, step in STEPS.items()}
    if not dry_run:
        log_event(
            "housekeeping",
            request=None,
            username=None,
            actor="system",
            trigger=trigger,
            reason="retention",
            **counts,
        )
    return counts
