"""Drill 5: the broker delivers the same task more than once.

With the worker stopped, offers arrive through the intake API and their triage tasks
wait in Redis (each web process sends its new cases a batch at a time, so six offers make
one or two messages). The drill then copies every waiting message byte for byte (same
task id, same delivery tag: what Redis hands out again after a visibility timeout), sends
each case's own scoring task once and its routing task twice, and starts the worker,
whose two pool processes take the copies at the same time. Each case must still be
scored once (one assessment, one `scored` event) and routed once (one `routed` event).
"""

import base64
import json

from tests.drills.invariants import (
    assert_global_invariants,
    assert_submitted_once,
    assert_triaged_exactly_once,
)
from tests.drills.stack import unique_ref, wait_for

OFFERS = 6
BATCH_TASK = "triage.tasks.cases_triage_task"


def task_and_ids(message: bytes) -> tuple[str, list[int]]:
    """The task a waiting message names, and the case ids it carries (Celery's message
    protocol 2: the body is base64 of [args, kwargs, embed])."""
    envelope = json.loads(message)
    args, _kwargs, _embed = json.loads(base64.b64decode(envelope["body"]))
    return envelope["headers"]["task"], args[0]


def carried_ids(broker) -> list[int]:
    """The case ids of every message waiting in the queue."""
    return sorted(i for m in broker.lrange("celery", 0, -1) for i in task_and_ids(m)[1])


def test_a_task_delivered_twice_scores_and_routes_each_case_once(stack):
    stack.wait_broker_idle()
    stack.worker.stop()
    refs = [unique_ref("twice") for _ in range(OFFERS)]
    for ref in refs:
        assert stack.submit_offer(ref).status_code == 201
    case_ids = list(assert_submitted_once(stack, refs).values())

    broker = stack.redis.client()
    try:
        # Sent within a tenth of a second of the last offer, in one or two messages.
        wait_for(lambda: carried_ids(broker) == sorted(case_ids), 5, "the web to send the cases")
        waiting = broker.lrange("celery", 0, -1)
        assert {task_and_ids(message)[0] for message in waiting} == {BATCH_TASK}
        for message in waiting:
            broker.lpush("celery", message)  # the very same message, delivered again
    finally:
        broker.close()
    for case_id in case_ids:
        stack.send_task("triage.tasks.case_score_task", case_id)
        stack.send_task("triage.tasks.case_route_task", case_id)
        stack.send_task("triage.tasks.case_route_task", case_id)

    offset = stack.worker.log_path.stat().st_size
    stack.worker.start()
    stack.wait_routed(case_ids, "the worker to route the cases")
    stack.wait_broker_idle()

    with open(stack.worker.log_path, "rb") as log:
        log.seek(offset)
        ran = log.read().decode(errors="replace")
    received = [line for line in ran.splitlines() if line.endswith("received")]
    # Each batch arrived twice; each case's scoring task once, and its routing task
    # twice plus once from the scoring run (case_score_task always sends it on commit).
    assert sum(f"{BATCH_TASK}[" in line for line in received) >= 2 * len(waiting)
    assert sum("triage.tasks.case_score_task[" in line for line in received) >= OFFERS
    assert sum("triage.tasks.case_route_task[" in line for line in received) >= 3 * OFFERS
    assert "raised unexpected" not in ran
    assert_triaged_exactly_once(stack, case_ids)
    assert_global_invariants(stack)
