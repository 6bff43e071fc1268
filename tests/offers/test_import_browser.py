from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase

from offers import jobs as import_jobs
from offers.models import ImportUpload, Offer
from vipcases.jobs import job_run
from vipcases.models import BackgroundJob, Case

pytestmark = pytest.mark.django_db

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "offers.csv"
BAD = (
    b"external_ref,received_at,supplier_name,category,description,quantity,stock_location,lead_time_days\n"
    b"A-1,2020-04-23T10:20:58,Ltd,spacesuit,d,0,uk,1\n"
)


def _upload(client, content: bytes, name: str = "offers.csv"):
    return client.post("/offers/import/", {"file": SimpleUploadedFile(name, content)})


def test_it_is_for_managers_only(client_for, caseworker, mp_inbox_officer, client):
    assert client_for(caseworker).get("/offers/import/").status_code == 403
    assert client_for(mp_inbox_officer).get("/offers/import/").status_code == 403
    assert client.get("/offers/import/").status_code == 302  # sign in first


def test_the_upload_page_lists_the_columns(client_for, manager):
    page = client_for(manager).get("/offers/import/")
    assert page.status_code == 200
    assert b"<code>sterilisation_validation</code>" in page.content


def test_a_valid_file_shows_a_summary_and_saves_no_offer_until_confirmed(client_for, manager):
    client = client_for(manager)
    response = _upload(client, EXAMPLE.read_bytes())
    upload = ImportUpload.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/offers/import/{upload.pk}/"
    report = client.get(response["Location"])
    assert b"Confirm and import 3 offers" in report.content
    assert (upload.rows, upload.offers, upload.already_imported) == (4, 3, 0)
    assert not Offer.objects.exists()

    with TestCase.captureOnCommitCallbacks(execute=True):
        confirmed = client.post(f"/offers/import/{upload.pk}/confirm/")
    upload.refresh_from_db()
    job = upload.job
    assert confirmed["Location"] == f"/settings/jobs/{job.pk}/"
    assert (job.kind, job.state, job.done, job.total, job.changed) == ("import", "done", 3, 3, 3)
    assert Offer.objects.count() == 3
    assert not Case.objects.filter(queue="triage").exists()  # scored and routed
    assert b"Import offers from offers.csv" in client.get(confirmed["Location"]).content


def test_confirming_twice_starts_one_job(client_for, manager):
    client = client_for(manager)
    _upload(client, EXAMPLE.read_bytes())
    upload = ImportUpload.objects.get()
    first = client.post(f"/offers/import/{upload.pk}/confirm/")
    second = client.post(f"/offers/import/{upload.pk}/confirm/")
    assert first["Location"] == second["Location"]
    assert BackgroundJob.objects.filter(kind="import").count() == 1
    assert b"see its progress" in client.get(f"/offers/import/{upload.pk}/").content


def test_an_invalid_file_shows_every_error_and_cannot_be_confirmed(client_for, manager):
    client = client_for(manager)
    response = _upload(client, BAD)
    upload = ImportUpload.objects.get()
    page = client.get(response["Location"]).content.decode()
    assert "The file has 3 errors: nothing can be imported" in page
    for column in ("received_at", "category", "quantity"):
        assert f"<code>{column}</code>" in page
    assert "Confirm and import" not in page
    assert upload.content == b""  # an invalid file is not kept
    refused = client.post(f"/offers/import/{upload.pk}/confirm/", follow=True)
    assert b"The file has errors" in refused.content
    assert not BackgroundJob.objects.exists() and not Offer.objects.exists()
    errors = client.get(f"/offers/import/{upload.pk}/errors.csv")
    assert errors["Content-Type"].startswith("text/csv")
    assert errors.content.decode().splitlines()[0] == "row,column,message"
    assert "2,category," in errors.content.decode()


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"x", "offers.pdf", b"must be a .csv or .xlsx file"),
        (b"\xff\xfe\x00", "offers.csv", b"not UTF-8"),
        (b"junk", "offers.xlsx", b"not a readable XLSX"),
    ],
)
def test_it_refuses_a_file_it_cannot_read(client_for, manager, content, name, message):
    response = _upload(client_for(manager), content, name)
    assert response.status_code == 400
    assert message in response.content
    assert not ImportUpload.objects.exists()


def test_it_refuses_a_file_over_the_size_limit(client_for, manager, settings):
    settings.IMPORT_MAX_UPLOAD_BYTES = 100
    response = _upload(client_for(manager), EXAMPLE.read_bytes())
    assert response.status_code == 400
    assert b"smaller than" in response.content


def test_a_job_resumes_after_its_last_committed_batch(client_for, manager, monkeypatch):
    monkeypatch.setattr(import_jobs, "IMPORT_BATCH", 2)
    client = client_for(manager)
    _upload(client, EXAMPLE.read_bytes())
    upload = ImportUpload.objects.get()
    client.post(f"/offers/import/{upload.pk}/confirm/")  # the job waits: no commit here
    job = BackgroundJob.objects.get()
    step = import_jobs.import_step
    assert step(job) is False  # the first batch of two offers
    job.save()
    assert (job.done, job.changed, Offer.objects.count()) == (2, 2, 2)
    import_jobs._parsed.clear()  # as if the worker died and another took over
    job_run(job.pk)
    job.refresh_from_db()
    assert (job.state, job.done, job.changed, Offer.objects.count()) == ("done", 3, 3, 3)


def test_an_upload_of_offers_already_imported_creates_nothing(client_for, manager):
    client = client_for(manager)
    for _ in range(2):
        _upload(client, EXAMPLE.read_bytes())
        upload = ImportUpload.objects.latest("pk")
        with TestCase.captureOnCommitCallbacks(execute=True):
            client.post(f"/offers/import/{upload.pk}/confirm/")
    assert upload.already_imported == 3
    page = client.get(f"/offers/import/{upload.pk}/").content
    assert b"already been imported: there is nothing to do" not in page  # it ran: see progress
    upload.refresh_from_db()
    assert (upload.job.state, upload.job.changed) == ("done", 0)
    assert Offer.objects.count() == 3


def test_a_file_already_imported_offers_nothing_to_confirm(client_for, manager):
    client = client_for(manager)
    _upload(client, EXAMPLE.read_bytes())
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(f"/offers/import/{ImportUpload.objects.get().pk}/confirm/")
    response = _upload(client, EXAMPLE.read_bytes())
    page = client.get(response["Location"]).content
    assert b"already been imported: there is nothing to do" in page
    assert b"Confirm and import" not in page
