"""The real-worker fixture works: the worker answers, and survives a kill and a restart."""

import pytest

from vipcases.celery import app as celery_app

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def ping(worker, timeout: float = 5) -> list:
    return celery_app.control.ping(destination=[worker.nodename], timeout=timeout)


def test_it_answers_a_ping(celery_worker_process):
    assert ping(celery_worker_process) == [{celery_worker_process.nodename: {"ok": "pong"}}]


def test_it_sends_tasks_to_the_broker_not_in_process(celery_worker_process):
    assert celery_app.conf.task_always_eager is False
    assert celery_app.conf.broker_url == celery_worker_process.broker_url


def test_health_reports_the_broker_ok_while_the_worker_runs(client, celery_worker_process):
    response = client.get("/health/")

    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "ok", "status": "ok"}


def test_it_comes_back_after_a_kill(celery_worker_process):
    celery_worker_process.kill()
    assert not celery_worker_process.is_alive()
    assert ping(celery_worker_process, timeout=1) == []

    celery_worker_process.restart()

    assert ping(celery_worker_process) == [{celery_worker_process.nodename: {"ok": "pong"}}]
