from unittest import mock

import pytest
from django.db import OperationalError, connection

from vipcases.celery import app as celery_app

pytestmark = pytest.mark.django_db


def test_it_answers_200_when_the_database_answers(client, settings):
    settings.REDIS_URL = ""

    response = client.get("/health/")

    assert response.status_code == 200
    assert response.json() == {
        "database": "ok",
        "broker": "not configured (tasks run in process)",
        "status": "ok",
    }


def test_it_answers_503_when_the_database_is_unreachable(client):
    with mock.patch.object(connection, "cursor", side_effect=OperationalError("server closed")):
        response = client.get("/health/")

    assert response.status_code == 503
    assert response.json()["database"] == "unavailable: OperationalError"
    assert response.json()["status"] == "unavailable"


def test_it_reports_an_unreachable_broker_without_failing(client, settings, monkeypatch):
    # Port 1 refuses connections at once: the check gives up within its one-second budget.
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    monkeypatch.setattr(celery_app.conf, "broker_url", settings.REDIS_URL)
    # Publishing connections use broker_write_url, which Celery reads from this variable
    # first (setting the conf key instead would outlive the test and misdirect others).
    monkeypatch.setenv("CELERY_BROKER_WRITE_URL", settings.REDIS_URL)

    response = client.get("/health/")

    assert response.status_code == 200
    assert response.json()["broker"].startswith("unavailable: ")


@pytest.mark.redis
def test_it_reports_the_broker_ok_when_redis_answers(client):
    response = client.get("/health/")

    assert response.status_code == 200
    assert response.json()["broker"] == "ok"


def test_it_needs_no_sign_in(client):
    response = client.get("/health/")

    assert response.status_code == 200


class FailingAfterTheView:
    """A middleware whose work after the view fails, as the session save does when the
    database goes away mid-request."""

    error: Exception = OperationalError("server closed the connection unexpectedly")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        self.get_response(request)
        raise type(self).error


@pytest.fixture
def failing_middleware(settings):
    settings.MIDDLEWARE = [f"{__name__}.FailingAfterTheView", *settings.MIDDLEWARE]
    yield FailingAfterTheView
    FailingAfterTheView.error = OperationalError("server closed the connection unexpectedly")


def test_a_database_error_outside_any_view_is_a_503_page_not_a_500(
    caseworker, client_for, failing_middleware
):
    """The 503 middleware wraps views only; handler500 turns a database error raised by
    another middleware (such as the session save) into the same 503 page."""
    client = client_for(caseworker)
    client.raise_request_exception = False

    response = client.get("/cases/")

    assert response.status_code == 503
    assert response["Retry-After"] == "30"


def test_any_other_error_outside_a_view_is_still_a_500(caseworker, client_for, failing_middleware):
    failing_middleware.error = RuntimeError("not a database error")
    client = client_for(caseworker)
    client.raise_request_exception = False

    assert client.get("/cases/").status_code == 500
