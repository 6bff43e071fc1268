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
