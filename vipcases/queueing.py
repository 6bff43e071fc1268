"""Enqueue Celery tasks after the database commit, without ever hanging on the broker.

If the broker is down the write has already been committed; the task is dropped
with a warning and the periodic sweep (triage.tasks.triage_sweep_task) finds the
case again once the broker is back, so no offer is lost.

`IdBatcher` does the same for ids that arrive many a second (the intake API): each web
process gathers the ids committed within `linger` seconds of the first and sends them as
one task, from a thread of its own, so a request never waits on the broker at all.
"""

import atexit
import logging
import os
import threading

from django.db import transaction

logger = logging.getLogger(__name__)


def _send(task, *args) -> None:
    try:
        task.delay(*args)
    except Exception as exc:  # noqa: BLE001 - kombu/redis raise many types when the broker is away
        if task.app.conf.task_always_eager:
            raise
        logger.warning("broker unavailable; %s%r left for the sweep: %s", task.name, args, exc)


def enqueue_on_commit(task, *args) -> None:
    transaction.on_commit(lambda: _send(task, *args))


class IdBatcher:
    """Sends the ids given to `add` as `task(ids)`, a batch at a time: the ids added within
    `linger` seconds of a batch's first, or `most` of them if that comes sooner.

    Why: one publish costs a web process about 0.4 ms of CPU, a tenth of an intake API
    request; a batch of ids costs the same as one. The price is up to `linger` seconds
    before the worker hears of a case.

    What can be lost, and what finds it: ids not yet sent when the process is killed
    outright (SIGKILL, out of memory), and a batch the broker refuses. Their cases are
    committed and still new in triage, so the sweep scores and routes them, as it does a
    task lost with the broker. A process that exits normally (a gunicorn worker told to
    stop or restart) sends what it holds first (atexit).

    With tasks run in process (no broker: the embedded default and most tests) `add`
    runs the task at once, as enqueue_on_commit would: nothing is left pending.

    Thread-safe; one sending thread per process, started on the first `add` in that
    process (so a gunicorn master that loaded the app before forking hands none down).
    """

    def __init__(self, task, *, linger: float = 0.1, most: int = 200):
        self.task = task
        self.linger = linger
        self.most = most
        self._pid = None
        self._start_lock = threading.Lock()
        # A forked child starts afresh, even if the parent was starting at that moment.
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._pid = None
        self._start_lock = threading.Lock()

    def _start(self) -> None:
        """This process's queue and sending thread, once, however many request threads
        commit their first case at the same moment."""
        with self._start_lock:
            if self._pid == os.getpid():
                return
            self._lock = threading.Lock()
            self._ids: list[int] = []
            self._first_added = threading.Event()  # set while ids wait to be sent
            self._full = threading.Event()
            name = f"send {self.task.name}"
            threading.Thread(target=self._run, name=name, daemon=True).start()
            atexit.register(self.flush)
            self._pid = os.getpid()  # last: another thread seeing it finds everything set

    def add(self, case_id: int) -> None:
        """Send `case_id` with the next batch once the current transaction commits."""
        transaction.on_commit(lambda: self._add_now(case_id))

    def _add_now(self, case_id: int) -> None:
        if self.task.app.conf.task_always_eager:
            _send(self.task, [case_id])
            return
        if self._pid != os.getpid():
            self._start()
        with self._lock:
            self._ids.append(case_id)
            if len(self._ids) >= self.most:
                self._full.set()
        self._first_added.set()

    def _run(self) -> None:
        while True:
            self._first_added.wait()
            self._full.wait(self.linger)
            self.flush()

    def flush(self) -> None:
        """Send every id held now (in batches of at most `most`)."""
        if self._pid != os.getpid():
            return
        with self._lock:
            ids, self._ids = self._ids, []
            self._first_added.clear()
            self._full.clear()
        for start in range(0, len(ids), self.most):
            _send(self.task, ids[start : start + self.most])
