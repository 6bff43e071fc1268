"""Enqueue Celery tasks after the database commit, without ever hanging on the broker.

If the broker is down the write has already been committed; the task is dropped
with a warning and the periodic sweep (triage.tasks.triage_sweep_task) finds the
case again once the broker is back, so no offer is lost.
"""

import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def enqueue_on_commit(task, *args) -> None:
    def send():
        try:
            task.delay(*args)
        except Exception as exc:  # noqa: BLE001 - kombu/redis raise many types when the broker is away
            if task.app.conf.task_always_eager:
                raise
            logger.warning("broker unavailable; %s%r left for the sweep: %s", task.name, args, exc)

    transaction.on_commit(send)
