"""vipcases.queueing.IdBatcher: the intake API's new cases go to the broker a batch at a
time, from a thread of each web process, after the commit. The task here is a stand-in
that records what it is sent (the real task, on a real worker, is in
tests/triage/test_routing_reliability.py and the drills)."""

import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from django.db import transaction

from vipcases.queueing import IdBatcher

ROOT = Path(__file__).resolve().parents[2]


class Conf:
    task_always_eager = False


class App:
    conf = Conf()


class RecordingTask:
    """Records each batch sent; refuses while `down` (as kombu does with Redis away)."""

    name = "tests.recording_task"
    app = App()

    def __init__(self, name: str = "tests.recording_task"):
        self.name = name
        self.sent: list[list[int]] = []
        self.down = False
        self.changed = threading.Condition()

    def delay(self, ids):
        if self.down:
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        with self.changed:
            self.sent.append(list(ids))
            self.changed.notify_all()

    def wait_for(self, predicate, timeout=5.0):
        with self.changed:
            assert self.changed.wait_for(lambda: predicate(self.sent), timeout), self.sent

    def all_ids(self) -> list[int]:
        return sorted(i for batch in self.sent for i in batch)


def add_committed(batcher, ids) -> None:
    """Each id added in its own committed transaction, as each API request does."""
    for case_id in ids:
        with transaction.atomic():
            batcher.add(case_id)


@pytest.fixture
def task():
    return RecordingTask()


@pytest.mark.django_db(transaction=True)
def test_ids_committed_together_go_as_one_task(task):
    batcher = IdBatcher(task, linger=0.3)
    add_committed(batcher, [11, 12, 13, 14, 15])
    task.wait_for(lambda sent: sent)
    assert task.sent == [[11, 12, 13, 14, 15]]


@pytest.mark.django_db(transaction=True)
def test_ids_from_many_request_threads_are_each_sent_once(task):
    batcher = IdBatcher(task, linger=0.05, most=7)
    threads = [
        threading.Thread(target=add_committed, args=(batcher, range(n * 100, n * 100 + 40)))
        for n in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = sorted(n * 100 + i for n in range(4) for i in range(40))
    task.wait_for(lambda sent: sorted(i for batch in sent for i in batch) == expected)
    assert all(len(batch) <= 7 for batch in task.sent)
    assert len(task.sent) < len(expected)


@pytest.mark.parametrize("attempt", range(30))
def test_request_threads_committing_their_first_case_together_start_one_sender(attempt):
    """A new gunicorn worker's first requests may commit at the same instant: one sending
    thread must start, and no id may go into a queue another thread then replaces."""
    task = RecordingTask(name=f"tests.first_commits_{attempt}")
    batcher = IdBatcher(task, linger=0.05)
    together = threading.Barrier(8)

    def first_commit(case_id):
        together.wait()
        batcher._add_now(case_id)  # what add() does on commit

    threads = [threading.Thread(target=first_commit, args=(n,)) for n in range(8)]
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads interleave at every few bytecodes, not every 5 ms
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switch_interval)
    task.wait_for(lambda sent: sorted(i for batch in sent for i in batch) == list(range(8)))
    senders = [t for t in threading.enumerate() if t.name == f"send {task.name}"]
    assert len(senders) == 1


@pytest.mark.django_db(transaction=True)
def test_a_full_batch_goes_without_waiting_for_the_linger(task):
    batcher = IdBatcher(task, linger=30, most=3)
    add_committed(batcher, [1, 2, 3])
    task.wait_for(lambda sent: sent, timeout=5)
    assert task.sent == [[1, 2, 3]]


@pytest.mark.django_db(transaction=True)
def test_nothing_is_sent_for_a_rolled_back_transaction(task):
    batcher = IdBatcher(task, linger=0.05)
    with transaction.atomic():
        batcher.add(21)
        transaction.set_rollback(True)
    add_committed(batcher, [22])
    task.wait_for(lambda sent: sent)
    time.sleep(0.2)
    assert task.sent == [[22]]


@pytest.mark.django_db(transaction=True)
def test_a_refused_batch_is_logged_for_the_sweep_and_later_ones_still_go(task, caplog):
    batcher = IdBatcher(task, linger=0.05)
    task.down = True
    with caplog.at_level(logging.WARNING, logger="vipcases.queueing"):
        add_committed(batcher, [31, 32])
        deadline = time.monotonic() + 5
        while "left for the sweep" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.02)
    assert "broker unavailable; tests.recording_task([31, 32],) left for the sweep" in caplog.text
    task.down = False
    add_committed(batcher, [33])
    task.wait_for(lambda sent: sent)
    assert task.sent == [[33]]


@pytest.mark.django_db(transaction=True)
def test_with_tasks_run_in_process_each_id_runs_at_once(task, monkeypatch):
    monkeypatch.setattr(Conf, "task_always_eager", True)
    batcher = IdBatcher(task, linger=30)
    add_committed(batcher, [41, 42])
    assert task.sent == [[41], [42]]  # no thread, no wait


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.django_db(transaction=True)
def test_a_forked_process_sends_its_own_ids_not_its_parents(task):
    batcher = IdBatcher(task, linger=30)
    add_committed(batcher, [51])  # the parent's thread now holds 51
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a gunicorn worker forked from a master that used the app
        status = 1
        try:
            os.close(reader)
            batcher._add_now(52)
            batcher.flush()
            os.write(writer, repr(task.sent).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(writer)
    with os.fdopen(reader) as pipe:
        child_sent = pipe.read()
    assert os.waitpid(pid, 0)[1] == 0
    assert child_sent == "[[52]]"
    batcher.flush()
    assert task.sent == [[51]]


def test_a_process_that_exits_normally_sends_what_it_holds(tmp_path):
    """A gunicorn worker told to stop (or to restart after max_requests) exits through
    Python's atexit: the ids it holds are sent first, not left for the sweep."""
    out = tmp_path / "sent.txt"
    script = textwrap.dedent(
        f"""
        import django, os
        os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
        django.setup()
        from vipcases.queueing import IdBatcher

        class Conf: task_always_eager = False
        class App: conf = Conf()
        class Task:
            name = "t"
            app = App()
            def delay(self, ids):
                with open({str(out)!r}, "a") as f:
                    f.write(repr(ids))

        batcher = IdBatcher(Task(), linger=60)
        for case_id in (61, 62, 63):
            batcher._add_now(case_id)  # what add() does on commit
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_text() == "[61, 62, 63]"
