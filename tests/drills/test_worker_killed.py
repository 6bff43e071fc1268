"""Drill 3: the worker is SIGKILLed in the middle of a routing-policy transition.

A manager applies a routing policy that moves a few thousand cases in train; the worker
moves them in batches (triage.routing_services.transition_step, 2,000 a batch), each
batch committing its moves with the job's cursor. The drill holds a row lock on one case
of the second batch, so the worker is caught for certain inside that batch's
transaction (the first batch committed, the second begun and holding row locks and the
job's lock), and then kills the worker's whole process group with SIGKILL, as a crashed
machine would.

A new worker is started. Two things then try to finish the job, as in production: the
killed task, delivered again by Redis once its visibility timeout (5 s here, through
CELERY_VISIBILITY_TIMEOUT) has passed, and `jobs_resume_task`, which restarts jobs with
no committed batch for JOB_STALL_AFTER (two minutes, not configurable: the drill makes
that time pass for the job instead). The job must end done, every case the new policy
moves moved exactly once (one `moved` event), none skipped, nothing else touched.
"""

import json

import psycopg

from tests.drills.invariants import assert_global_invariants
from tests.drills.stack import wait_for

SEED_CASES = 2700
TRANSITION_BATCH = 2000  # triage.routing_services.TRANSITION_BATCH_SIZE
IN_TRAIN_SQL = (
    "SELECT id FROM vipcases_case WHERE queue IN ('vip', 'rapid_response', 'mp_inbox') "
    "AND status <> 'closed' ORDER BY id"
)


def job_row(stack, job_id: int) -> dict:
    (row,) = stack.sql(
        "SELECT state, done, changed, total, error FROM vipcases_backgroundjob WHERE id = %s",
        (job_id,),
    )
    return dict(zip(("state", "done", "changed", "total", "error"), row, strict=True))


def a_worker_waits_on_our_lock(stack) -> bool:
    return bool(
        stack.sql(
            "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query ILIKE '%FOR UPDATE%'"
        )
    )


def blocked_in_second_batch(stack, job_id: int) -> bool:
    return job_row(stack, job_id)["done"] >= TRANSITION_BATCH and a_worker_waits_on_our_lock(stack)


def test_a_transition_resumes_after_its_worker_is_killed_and_moves_each_case_once(stack):
    if len(stack.sql(IN_TRAIN_SQL)) <= TRANSITION_BATCH + 100:
        stack.app_python("-m", "tests.drills.stackctl", "seed", str(SEED_CASES))
        stack.sql("ANALYZE")  # as autovacuum soon would: fresh tables have no statistics
    in_train = [pk for (pk,) in stack.sql(IN_TRAIN_SQL)]
    assert len(in_train) > TRANSITION_BATCH + 100, "too few cases in train for two batches"
    held_case = in_train[TRANSITION_BATCH + 50]

    # Hold one case of the second batch: the worker will block inside that batch.
    blocker = psycopg.connect(stack.postgres.url(), connect_timeout=3)
    try:
        blocker.execute("SELECT id FROM vipcases_case WHERE id = %s FOR UPDATE", (held_case,))
        plan = json.loads(
            stack.app_python("-m", "tests.drills.stackctl", "transition", "50", "100000")
        )
        job_id = plan["job_id"]
        wait_for(
            lambda: blocked_in_second_batch(stack, job_id),
            30,
            "the worker to commit the first batch and block inside the second",
            interval=0.05,
        )
        stack.worker.kill()  # SIGKILL to the worker and its pool processes at once
        killed_at = job_row(stack, job_id)
    finally:
        blocker.rollback()
        blocker.close()

    assert killed_at["state"] == "running" and killed_at["done"] == TRANSITION_BATCH, killed_at
    moved_before_restart = stack.sql(
        "SELECT count(*) FROM vipcases_caseevent WHERE kind = 'moved' AND data->>'job_id' = %s",
        (str(job_id),),
    )[0][0]
    assert 0 < moved_before_restart < plan["moving"], "the kill was not mid-transition"

    log_offset = stack.worker.log_path.stat().st_size
    stack.worker.start()
    # What beat's `jobs-resume` does once the job has been silent for JOB_STALL_AFTER.
    stack.sql(
        "UPDATE vipcases_backgroundjob SET updated_at = now() - interval '10 minutes' "
        "WHERE id = %s",
        (job_id,),
    )
    stack.send_task("vipcases.tasks.jobs_resume_task")
    wait_for(
        lambda: job_row(stack, job_id)["state"] in ("done", "failed"),
        60,
        "the transition to finish after the worker was replaced",
        interval=0.2,
    )
    # The killed task comes back after its visibility timeout; it must find nothing to do.
    stack.wait_broker_idle(timeout=60)

    job = job_row(stack, job_id)
    assert job["state"] == "done", job
    assert job["done"] == job["total"] == len(plan["targets"]), job
    assert job["changed"] == plan["moving"], job
    with open(stack.worker.log_path, "rb") as log:
        log.seek(log_offset)
        runs = sum(
            "vipcases.tasks.job_run_task[" in line and line.endswith("received")
            for line in log.read().decode(errors="replace").splitlines()
        )
    assert runs >= 2, "the killed task was not delivered again beside the resumed one"

    moved = {
        case_id: (n, from_value, to_value)
        for case_id, n, from_value, to_value in stack.sql(
            "SELECT case_id, count(*), min(from_value), min(to_value) FROM vipcases_caseevent "
            "WHERE kind = 'moved' AND data->>'job_id' = %s GROUP BY case_id",
            (str(job_id),),
        )
    }
    queues = dict(stack.sql(IN_TRAIN_SQL.replace("SELECT id", "SELECT id, queue")))
    expected_moves = {
        int(pk): (before, target)
        for pk, (before, target) in plan["targets"].items()
        if target not in (before, "closed")
    }
    assert len(expected_moves) == plan["moving"]
    wrong = {
        pk: moved.get(pk)
        for pk, (before, target) in expected_moves.items()
        if moved.get(pk) != (1, before, target) or queues.get(pk) != target
    }
    assert not wrong, f"cases not moved exactly once to their new queue: {list(wrong.items())[:10]}"
    extra = set(moved) - set(expected_moves)
    assert not extra, f"cases moved that the policy leaves where they are: {sorted(extra)[:10]}"
    assert_global_invariants(stack)
