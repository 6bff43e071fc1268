"""Drill 1: Redis stops while offers arrive through the intake API, then comes back empty.

Offers keep arriving through POST /api/offers/ (gunicorn, real worker) while the drill's
Redis is stopped for a few seconds and started again with nothing in it (no
persistence: every queued or unacknowledged message is gone). Every submission must be
answered 201 promptly, outage or not; once Redis is back the web and the worker carry on
without a restart, and the `triage-sweep` task picks up every case whose task was lost.
"""

import time

from tests.drills.invariants import (
    assert_global_invariants,
    assert_submitted_once,
    assert_triaged_exactly_once,
)
from tests.drills.stack import unique_ref, wait_for

OUTAGE_SECONDS = 2.5
# The app gives up publishing within half a second (README, "Background work"); a
# request during the outage may take that, plus the cache's own half-second timeout.
MAX_SECONDS_DURING_OUTAGE = 3


def submit(stack, phase: str, refs: dict, timings: list) -> None:
    ref = unique_ref(f"redis-{phase}")
    started = time.monotonic()
    answer = stack.submit_offer(ref)
    elapsed = time.monotonic() - started
    assert answer.status_code == 201, (
        f"submission during phase {phase!r} answered {answer.status_code}: {answer.text[:300]}"
    )
    refs[ref] = phase
    timings.append((phase, elapsed))


def submit_for(stack, phase: str, seconds: float, refs: dict, timings: list) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        submit(stack, phase, refs, timings)


def worker_still_running(stack) -> bool:
    """Fail at once, saying why, if the worker process died during the outage."""
    if not stack.worker.is_alive():
        log = stack.worker.log_path.read_text(errors="replace")
        crash = [line for line in log.splitlines() if "Unrecoverable error" in line]
        raise AssertionError(
            f"the Celery worker exited (status {stack.worker.process.returncode}) when Redis "
            f"went away, so nothing is routed until someone restarts it: {crash[-1:]}"
        )
    return True


def test_offers_submitted_while_redis_restarts_are_all_routed_once(stack):
    refs: dict[str, str] = {}
    timings: list[tuple[str, float]] = []

    submit_for(stack, "before", 1.0, refs, timings)
    stack.redis.stop()
    submit_for(stack, "outage", OUTAGE_SECONDS, refs, timings)
    stack.redis.start()  # empty: what was queued when it stopped is lost
    submit_for(stack, "after", 1.5, refs, timings)

    slow = [(phase, round(t, 2)) for phase, t in timings if t > MAX_SECONDS_DURING_OUTAGE]
    assert not slow, f"submissions that held the caller too long: {slow}"
    assert sum(1 for phase in refs.values() if phase == "outage") >= 2

    cases = assert_submitted_once(stack, refs)
    by_phase = {
        phase: [cases[ref] for ref, p in refs.items() if p == phase]
        for phase in ("before", "outage", "after")
    }

    # The web and the worker recover by themselves: an offer sent once Redis is back is
    # scored and routed by its own task, with no sweep and no restart.
    wait_for(
        lambda: worker_still_running(stack) and not stack.unrouted(by_phase["after"][-3:]),
        30,
        "offers submitted after Redis came back to be routed by their own tasks",
        interval=0.2,
    )
    stack.wait_broker_idle(timeout=30)

    # The outage's cases lost their tasks (each web process sends its new cases a tenth
    # of a second at a time, so the last batch of the outage may go once Redis is back):
    # they wait in triage for the sweep.
    stuck = set(stack.unrouted(cases.values()))
    assert stuck & set(by_phase["outage"]), "the outage did not cost any task?"

    # The sweep takes cases unchanged for a minute (triage.tasks.SWEEP_AFTER); rather
    # than wait, the drill makes that minute pass for the cases still in triage, then
    # sends the task beat would send.
    stack.sql(
        "UPDATE vipcases_case SET updated_at = updated_at - interval '5 minutes' "
        "WHERE queue = 'triage' AND status = 'new'"
    )
    stack.send_task("triage.tasks.triage_sweep_task")
    stack.wait_routed(cases.values(), "the sweep to score and route every case left in triage")
    stack.wait_broker_idle(timeout=30)

    assert_triaged_exactly_once(stack, cases.values())
    assert_global_invariants(stack)
