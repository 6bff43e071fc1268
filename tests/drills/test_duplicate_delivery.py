"""Drill 5: the broker delivers the same task more than once.

With the worker stopped, offers arrive through the intake API and their scoring tasks
wait in Redis. The drill then copies every waiting message byte for byte (same task id,
same delivery tag: what Redis hands out again after a visibility timeout), sends each
case's scoring task once more and its routing task twice, and starts the worker, whose
two pool processes take the copies at the same time. Each case must still be scored
once (one assessment, one `scored` event) and routed once (one `routed` event).
"""

from tests.drills.invariants import (
    assert_global_invariants,
    assert_submitted_once,
    assert_triaged_exactly_once,
)
from tests.drills.stack import unique_ref

OFFERS = 6


def test_a_task_delivered_twice_scores_and_routes_each_case_once(stack):
    stack.wait_broker_idle()
    stack.worker.stop()
    refs = [unique_ref("twice") for _ in range(OFFERS)]
    for ref in refs:
        assert stack.submit_offer(ref).status_code == 201
    case_ids = list(assert_submitted_once(stack, refs).values())

    broker = stack.redis.client()
    try:
        waiting = broker.lrange("celery", 0, -1)
        assert len(waiting) == OFFERS, f"expected {OFFERS} scoring tasks waiting: {len(waiting)}"
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
    # Each case's scoring task arrived three times; its routing task twice, plus once
    # from each scoring run (case_score_task always sends it after its commit).
    assert sum("triage.tasks.case_score_task[" in line for line in received) >= 3 * OFFERS
    assert sum("triage.tasks.case_route_task[" in line for line in received) >= 5 * OFFERS
    assert "raised unexpected" not in ran
    assert_triaged_exactly_once(stack, case_ids)
    assert_global_invariants(stack)
