"""Drill 6: the web stops, or is killed, while it holds new cases it has not yet sent.

Each web process sends the intake API's new cases to the workers a batch at a time
(vipcases.queueing.IdBatcher). The drill restarts the web with a 30-second batch
(INTAKE_TRIAGE_BATCH_MS), so the cases of a few submissions are certainly held in the
web processes' memory, committed but not yet sent, then:

1. stops the web as a deployment does (SIGTERM): each process sends what it holds on
   the way out, and the worker routes every case with no sweep;
2. SIGKILLs the web's every process: what they held is gone, the cases wait in triage,
   and the `triage-sweep` task routes each of them once.
"""

import pytest

from tests.drills.invariants import (
    assert_global_invariants,
    assert_submitted_once,
    assert_triaged_exactly_once,
)
from tests.drills.stack import unique_ref

OFFERS = 8
HELD = {"INTAKE_TRIAGE_BATCH_MS": "30000"}


@pytest.fixture
def web_holding_its_cases(stack):
    """The web restarted with a 30-second batch; restarted as before afterwards."""
    stack.web.stop()
    stack.web.env = {**stack.env, **HELD}
    stack.web.start()
    try:
        yield stack
    finally:
        stack.web.stop()
        stack.web.env = stack.env
        stack.web.start()


def submit_held(stack, phase: str) -> dict[str, int]:
    refs = [unique_ref(phase) for _ in range(OFFERS)]
    for ref in refs:
        answer = stack.submit_offer(ref)
        assert answer.status_code == 201, answer.text[:300]
    cases = assert_submitted_once(stack, refs)
    stack.wait_broker_idle(settle=1.0)
    assert sorted(stack.unrouted(cases.values())) == sorted(cases.values()), (
        "the web sent its cases before the 30-second batch was up"
    )
    return cases


def test_a_web_stopped_as_a_deployment_does_sends_the_cases_it_holds(web_holding_its_cases):
    stack = web_holding_its_cases
    cases = submit_held(stack, "web-stopped")

    stack.web.stop()  # SIGTERM: each process sends what it holds, then exits

    stack.wait_routed(cases.values(), "the worker to route what the web sent on its way out")
    stack.wait_broker_idle()
    assert_triaged_exactly_once(stack, cases.values())
    assert_global_invariants(stack)


def test_a_web_killed_outright_loses_only_tasks_and_the_sweep_routes_its_cases(
    web_holding_its_cases,
):
    stack = web_holding_its_cases
    cases = submit_held(stack, "web-killed")

    stack.web.kill()
    stack.wait_broker_idle(settle=1.0)
    assert sorted(stack.unrouted(cases.values())) == sorted(cases.values())

    # The sweep takes cases unchanged for a minute (triage.tasks.SWEEP_AFTER); the drill
    # makes that minute pass for these cases, then sends the task beat would send.
    stack.sql(
        "UPDATE vipcases_case SET updated_at = updated_at - interval '5 minutes' "
        "WHERE id = ANY(%s)",
        (list(cases.values()),),
    )
    stack.send_task("triage.tasks.triage_sweep_task")
    stack.wait_routed(cases.values(), "the sweep to route the cases the web held")
    stack.wait_broker_idle()
    assert_triaged_exactly_once(stack, cases.values())
    assert_global_invariants(stack)
