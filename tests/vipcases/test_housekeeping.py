"""Housekeeping removes what is past its retention and nothing still in use
(vipcases/housekeeping.py; daily by beat, or `manage.py housekeeping`)."""

from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from axes.models import AccessAttempt, AccessLog
from celery.schedules import crontab
from django.contrib.sessions.models import Session
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import TestCase
from django.utils import timezone

from offers.models import IdempotencyRecord, ImportUpload, Offer
from offers.tokens import api_token_create
from tests.conftest import PASSWORD
from tests.offers.conftest import ApiClient, offer_body
from vipcases import housekeeping
from vipcases.celery import app
from vipcases.housekeeping import housekeeping_run
from vipcases.models import BackgroundJob
from vipcases.tasks import housekeeping_task

pytestmark = pytest.mark.django_db

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "offers.csv"
DAY = timedelta(days=1)


def _runs(caplog) -> list[dict]:
    return [
        record.security
        for record in caplog.records
        if record.name == "vipcases.security" and record.security["event"] == "housekeeping"
    ]


@pytest.fixture
def api(db) -> ApiClient:
    _, raw = api_token_create(name="public webform")
    return ApiClient(raw)


def _aged(model, pk, field: str, age: timedelta) -> None:
    model.objects.filter(pk=pk).update(**{field: timezone.now() - age})


def _idempotency_record(key: str, age: timedelta) -> IdempotencyRecord:
    token, _ = api_token_create(name=f"token {key}")
    record = IdempotencyRecord.objects.create(
        api_token=token, key=key, request_hash="0" * 64, response_status=201, response_body={}
    )
    _aged(IdempotencyRecord, record.pk, "created_at", age)
    return record


def _session(key: str, expires_in: timedelta) -> Session:
    return Session.objects.create(
        session_key=key, session_data="", expire_date=timezone.now() + expires_in
    )


def _attempt(username: str, age: timedelta, failures: int = 5) -> AccessAttempt:
    attempt = AccessAttempt.objects.create(
        username=username,
        ip_address="203.0.113.7",
        user_agent="test",
        http_accept="*/*",
        path_info="/sign-in/",
        get_data="",
        post_data="",
        failures_since_start=failures,
    )
    _aged(AccessAttempt, attempt.pk, "attempt_time", age)
    return attempt


def _access_log(username: str, age: timedelta) -> AccessLog:
    log = AccessLog.objects.create(
        username=username, ip_address="203.0.113.7", user_agent="test", path_info="/sign-in/"
    )
    _aged(AccessLog, log.pk, "attempt_time", age)
    return log


def _upload(user, age: timedelta, content: bytes = b"external_ref\n") -> ImportUpload:
    upload = ImportUpload.objects.create(
        filename="offers.csv", content=content, sha256="0" * 64, uploaded_by=user
    )
    _aged(ImportUpload, upload.pk, "uploaded_at", age)
    return upload


def _with_job(upload: ImportUpload, state: str, ended_ago: timedelta | None) -> ImportUpload:
    upload.job = BackgroundJob.objects.create(
        kind=BackgroundJob.Kind.IMPORT,
        description="Import offers from offers.csv",
        state=state,
        finished_at=None if ended_ago is None else timezone.now() - ended_ago,
    )
    upload.save(update_fields=["job"])
    return upload


# --- each table ----------------------------------------------------------------------------


def test_idempotency_records_go_after_seven_days():
    old = _idempotency_record("old", 7 * DAY + timedelta(minutes=1))
    recent = _idempotency_record("recent", 7 * DAY - timedelta(minutes=1))
    assert housekeeping_run()["idempotency_records"] == 1
    assert list(IdempotencyRecord.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not IdempotencyRecord.objects.filter(pk=old.pk).exists()


def test_the_idempotency_retention_is_a_setting(settings):
    settings.IDEMPOTENCY_KEY_RETENTION_DAYS = 1
    _idempotency_record("two days", 2 * DAY)
    assert housekeeping_run()["idempotency_records"] == 1


def test_expired_sessions_go_and_live_ones_stay():
    _session("expired" * 4, -timedelta(seconds=1))
    _session("live" * 8, timedelta(minutes=30))
    assert housekeeping_run()["expired_sessions"] == 1
    assert list(Session.objects.values_list("session_key", flat=True)) == ["live" * 8]


def test_sign_in_failures_go_after_the_cool_off_and_a_lock_stays(client, caseworker):
    for _ in range(5):
        client.post("/sign-in/", {"username": caseworker.username, "password": "wrong"})
    expired = _attempt("someone.else", timedelta(minutes=15, seconds=1))

    assert housekeeping_run()["sign_in_failures"] == 1
    assert not AccessAttempt.objects.filter(pk=expired.pk).exists()
    assert AccessAttempt.objects.filter(username=caseworker.username).exists()
    # Still locked out, even with the right password.
    answer = client.post("/sign-in/", {"username": caseworker.username, "password": PASSWORD})
    assert answer.status_code == 429


def test_a_lock_ends_on_time_whether_or_not_housekeeping_removed_it(client, caseworker):
    _attempt(caseworker.username, timedelta(minutes=14))
    assert housekeeping_run()["sign_in_failures"] == 0
    assert (
        client.post(
            "/sign-in/", {"username": caseworker.username, "password": PASSWORD}
        ).status_code
        == 429
    )
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert housekeeping_run()["sign_in_failures"] == 1
    answer = client.post("/sign-in/", {"username": caseworker.username, "password": PASSWORD})
    assert answer.status_code == 302


def test_sign_in_records_go_after_a_year():
    _access_log("old", 366 * DAY)
    recent = _access_log("recent", 364 * DAY)
    assert housekeeping_run()["sign_in_records"] == 1
    assert list(AccessLog.objects.values_list("pk", flat=True)) == [recent.pk]


def test_an_imported_files_content_goes_30_days_after_its_import_and_its_record_stays(
    client_for, manager
):
    client = client_for(manager)
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(
            "/offers/import/", {"file": SimpleUploadedFile("offers.csv", EXAMPLE.read_bytes())}
        )
    upload = ImportUpload.objects.get()
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(f"/offers/import/{upload.pk}/confirm/")
    upload.refresh_from_db()
    assert upload.job.state == BackgroundJob.State.DONE and upload.content

    assert housekeeping_run()["import_files_cleared"] == 0  # finished just now
    BackgroundJob.objects.filter(pk=upload.job_id).update(
        finished_at=timezone.now() - 30 * DAY - timedelta(minutes=1)
    )
    assert housekeeping_run()["import_files_cleared"] == 1

    kept = ImportUpload.objects.get(pk=upload.pk)
    assert bytes(kept.content) == b""
    assert (kept.filename, kept.sha256, kept.uploaded_by, kept.job_id) == (
        upload.filename,
        upload.sha256,
        manager,
        upload.job_id,
    )
    assert (kept.rows, kept.offers) == (4, 3)
    report = client.get(f"/offers/import/{upload.pk}/")
    assert report.status_code == 200 and b"see its progress" in report.content
    assert client.get(f"/settings/jobs/{upload.job_id}/").status_code == 200
    assert housekeeping_run()["import_files_cleared"] == 0  # nothing twice


def test_a_failed_imports_file_goes_too_but_an_unfinished_ones_stays(manager):
    failed = _with_job(_upload(manager, 60 * DAY), BackgroundJob.State.FAILED, 31 * DAY)
    running = _with_job(_upload(manager, 60 * DAY), BackgroundJob.State.RUNNING, None)
    pending = _with_job(_upload(manager, 60 * DAY), BackgroundJob.State.PENDING, None)
    assert housekeeping_run()["import_files_cleared"] == 1
    assert bytes(ImportUpload.objects.get(pk=failed.pk).content) == b""
    for upload in (running, pending):
        assert bytes(ImportUpload.objects.get(pk=upload.pk).content) == b"external_ref\n"


def test_uploads_never_confirmed_go_after_30_days(manager):
    stale = _upload(manager, 30 * DAY + timedelta(minutes=1))
    invalid = _upload(manager, 31 * DAY, content=b"")
    recent = _upload(manager, 29 * DAY)
    assert housekeeping_run()["import_uploads_unconfirmed"] == 2
    assert list(ImportUpload.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not ImportUpload.objects.filter(pk__in=[stale.pk, invalid.pk]).exists()


def test_large_backlogs_go_in_batches(monkeypatch):
    monkeypatch.setattr(housekeeping, "BATCH_SIZE", 2)
    for n in range(5):
        _idempotency_record(f"old-{n}", 8 * DAY)
    keep = _idempotency_record("recent", DAY)
    assert housekeeping_run()["idempotency_records"] == 5
    assert list(IdempotencyRecord.objects.values_list("pk", flat=True)) == [keep.pk]


# --- idempotency through the API -----------------------------------------------------------


def test_a_retry_within_the_window_still_replays_the_first_answer(api):
    body = offer_body()
    del body["external_ref"]  # only the key protects this retry
    first = api.post_offer(body, **{"Idempotency-Key": "retry-1"})
    assert housekeeping_run(now=timezone.now() + 7 * DAY - timedelta(minutes=1)) == {
        **dict.fromkeys(housekeeping.STEPS, 0)
    }
    again = api.post_offer(body, **{"Idempotency-Key": "retry-1"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Offer.objects.count() == 1


def test_after_the_window_a_repeated_external_ref_still_makes_no_second_offer(api):
    body = offer_body()
    first = api.post_offer(body, **{"Idempotency-Key": "retry-1"})
    assert housekeeping_run(now=timezone.now() + 7 * DAY + timedelta(minutes=1)) == {
        **dict.fromkeys(housekeeping.STEPS, 0),
        "idempotency_records": 1,
    }
    again = api.post_offer(body, **{"Idempotency-Key": "retry-1"})
    assert (first.status_code, again.status_code) == (201, 200)  # new key, known offer
    assert again.json()["case_id"] == first.json()["case_id"]
    assert Offer.objects.count() == 1


def test_after_the_window_a_retry_without_external_ref_is_a_new_offer(api):
    """As README "Housekeeping" says: the key alone protects a retry for 7 days only."""
    body = offer_body()
    del body["external_ref"]
    api.post_offer(body, **{"Idempotency-Key": "retry-1"})
    housekeeping_run(now=timezone.now() + 8 * DAY)
    assert api.post_offer(body, **{"Idempotency-Key": "retry-1"}).status_code == 201
    assert Offer.objects.count() == 2


# --- runs -----------------------------------------------------------------------------------


def _one_of_each_past_retention(manager) -> None:
    _idempotency_record("old", 8 * DAY)
    _session("expired" * 4, -DAY)
    _attempt("someone", DAY)
    _access_log("someone", 400 * DAY)
    _with_job(_upload(manager, 60 * DAY), BackgroundJob.State.DONE, 31 * DAY)
    _upload(manager, 31 * DAY)


def _table_counts() -> tuple:
    return (
        IdempotencyRecord.objects.count(),
        Session.objects.count(),
        AccessAttempt.objects.count(),
        AccessLog.objects.count(),
        ImportUpload.objects.exclude(content=b"").count(),
        ImportUpload.objects.count(),
    )


def test_a_dry_run_counts_but_removes_nothing_and_logs_nothing(manager, security_log):
    _one_of_each_past_retention(manager)
    before = _table_counts()
    out = StringIO()
    call_command("housekeeping", "--dry-run", stdout=out)
    assert _table_counts() == before
    assert "intake API idempotency records: 1" in out.getvalue()
    assert "Dry run: 6 would go; nothing was removed." in out.getvalue()
    assert housekeeping_run(dry_run=True) == dict.fromkeys(housekeeping.STEPS, 1)
    assert _runs(security_log) == []


def test_the_command_removes_and_logs_who_and_why(manager, security_log):
    _one_of_each_past_retention(manager)
    out = StringIO()
    call_command("housekeeping", stdout=out)
    assert _table_counts() == (0, 0, 0, 0, 0, 1)
    assert "Removed 6." in out.getvalue()
    [run] = _runs(security_log)
    assert run["actor"] == "system" and run["reason"] == "retention"
    assert run["trigger"] == "command"
    assert run["idempotency_records"] == 1 and run["import_uploads_unconfirmed"] == 1


def test_the_daily_task_runs_it(manager, security_log):
    _one_of_each_past_retention(manager)
    counts = housekeeping_task.delay().get()
    assert counts == dict.fromkeys(housekeeping.STEPS, 1)
    assert _table_counts() == (0, 0, 0, 0, 0, 1)
    [run] = _runs(security_log)
    assert run["trigger"] == "schedule"
    assert housekeeping_task.delay().get() == dict.fromkeys(housekeeping.STEPS, 0)


def test_beat_runs_it_daily():
    [entry] = [
        e
        for e in app.conf.beat_schedule.values()
        if e["task"] == "vipcases.tasks.housekeeping_task"
    ]
    assert entry["schedule"] == crontab(hour=3, minute=30)
