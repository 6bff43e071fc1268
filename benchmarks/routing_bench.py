"""Routing throughput through a real Celery worker on Redis, beside a no-op task, and a
routing-policy transition over 100,000 open cases.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/vipcases REDIS_URL=redis://127.0.0.1:6379/0 \
        .venv/bin/python benchmarks/routing_bench.py [--cases 10000] [--transition 100000]

It works on a scratch database (vipcases_bench_routing, dropped and made again) and Redis
database 13 (flushed). Targets (issue 4): routing at least half the no-op rate; the
transition under 60 seconds. The worker's peak memory (VmHWM of its processes) is read
just before it is stopped. For the transition it also reports the CPU seconds spent in
the worker's processes and in the PostgreSQL backends serving the scratch database
(less noisy than wall-clock time on a shared machine).
"""

import argparse
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks._setup import (  # noqa: E402
    ROOT,
    add_json_argument,
    django_on,
    log,
    process_tree_peaks,
    redis_url,
    scratch_database,
    write_json,
)

REDIS_DB = 13
DATABASE = "vipcases_bench_routing"
TARGET_SHARE_OF_NOOP = 0.5
TARGET_TRANSITION_S = 60  # for 100,000 cases in train


def start_worker(env: dict) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "vipcases",
            "worker",
            "--concurrency=2",
            "--loglevel=warning",
            "--without-mingle",
            "--without-gossip",
            "--hostname=bench@localhost",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    from vipcases.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if app.control.ping(destination=["bench@localhost"], timeout=0.5):
            return process
    os.killpg(process.pid, signal.SIGKILL)
    sys.exit("the worker did not start")


def cpu_snapshot(worker_pid: int) -> dict[str, dict[int, float]]:
    """CPU seconds so far of the worker's processes and of this database's backends
    (other than the benchmark's own connection)."""
    from django.db import connection

    from benchmarks._setup import child_pids, cpu_seconds

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        backends = [pid for (pid,) in cursor.fetchall()]
    worker = [worker_pid, *child_pids(worker_pid)]
    return {
        "worker": {pid: cpu_seconds(pid) for pid in worker},
        "database": {pid: cpu_seconds(pid) for pid in backends},
    }


def cpu_used(before: dict, after: dict) -> dict[str, float]:
    """CPU seconds between two snapshots, per group (a backend that ended in between is
    missed; the worker keeps one connection per task, so the transition's is counted)."""
    return {
        group: sum(max(0.0, t - before[group].get(pid, 0.0)) for pid, t in after[group].items())
        for group in after
    }


def wait(predicate, what: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            sys.exit(f"timed out waiting for {what}")
        time.sleep(0.05)


def bulk_cases(n: int, *, queue: str, scored: bool):
    """n offers of one line each with their cases, inserted in bulk (set-up, not measured)."""
    from django.utils import timezone

    from offers.models import Offer, OfferLine, Supplier
    from vipcases.models import Case

    now = timezone.now()
    suppliers = Supplier.objects.bulk_create(
        [
            Supplier(
                name=f"Bench Supplies {i} Ltd",
                company_number=f"B{i:07d}",
                ppe_trading_history=i % 2 == 0,
                due_diligence_status="passed",
            )
            for i in range(max(1, n // 10))
        ]
    )
    cases = []
    for start in range(0, n, 5000):
        size = min(5000, n - start)
        offers = Offer.objects.bulk_create(
            [
                Offer(
                    supplier=suppliers[(start + i) % len(suppliers)],
                    channel="webform",
                    received_at=now,
                    value_gbp=Decimal(100_000 * (1 + (start + i) % 7)),
                )
                for i in range(size)
            ]
        )
        OfferLine.objects.bulk_create(
            [
                OfferLine(
                    offer=o,
                    category=("ffp3_respirator", "gown", "gloves", "iir_mask")[o.pk % 4],
                    description="Bench line",
                    quantity=10_000 * (1 + o.pk % 50),
                    unit_price=Decimal("1.10"),
                    currency="GBP",
                    standards=["EN 149 FFP3", "EN 13795", "EN 455", "EN 14683 Type IIR"],
                    certificate="CE 2797",
                    strap_type="head",
                    stock_location="uk",
                    lead_time_days=o.pk % 30,
                )
                for o in offers
            ]
        )
        cases += Case.objects.bulk_create(
            [
                Case(
                    offer=o,
                    queue=queue,
                    status="new" if queue == "triage" else "in_progress",
                    priority=o.pk % 100,
                    eligible=True if not scored else None,
                    opened_at=now,
                )
                for o in offers
            ]
        )
    if scored:
        from triage.services import cases_score

        cases_score([c.pk for c in cases])
    return [c.pk for c in cases]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--transition", type=int, default=100_000)
    add_json_argument(parser)
    args = parser.parse_args()

    broker = redis_url(REDIS_DB)
    os.environ["REDIS_URL"] = broker
    database = scratch_database(DATABASE)
    django_on(database)
    import redis

    client = redis.Redis.from_url(broker)
    client.flushdb()

    from vipcases.celery import app

    env = {**os.environ, "DATABASE_URL": database, "REDIS_URL": broker}
    worker = start_worker(env)
    figures: dict = {"cases": args.cases}
    try:
        run(client, args.cases, args.transition, figures, worker.pid)
        figures["worker_memory"] = process_tree_peaks(worker.pid)
        memory = figures["worker_memory"]
        log(
            f"worker peak RSS: {memory['largest_child_mib']:.0f} MiB (largest of "
            f"{memory['children']} pool processes), {memory['parent_mib']:.0f} MiB (main process)"
        )
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
        app.close()
    write_json(args.json, figures)
    print("RESULT " + " ".join(f"{k}={v}" for k, v in figures.items() if not isinstance(v, dict)))


def run(client, n: int, t: int, figures: dict, worker_pid: int) -> None:
    from triage.tasks import case_route_task
    from vipcases.codes import Queue
    from vipcases.models import Case
    from vipcases.tasks import noop_task

    def drained() -> bool:
        return client.llen("celery") == 0 and client.hlen("unacked") == 0

    noop_task.delay()
    wait(drained, "warm-up")
    started = time.perf_counter()
    for _ in range(n):
        noop_task.delay()
    wait(drained, "no-op tasks")
    noop_rate = n / (time.perf_counter() - started)
    log(f"no-op task: {n:,} in {n / noop_rate:.1f} s = {noop_rate:,.0f} tasks/s")

    log(f"creating and scoring {n:,} cases (not timed)")
    ids = bulk_cases(n, queue=Queue.TRIAGE, scored=True)
    started = time.perf_counter()
    for case_id in ids:
        case_route_task.delay(case_id)
    wait(lambda: not Case.objects.filter(queue=Queue.TRIAGE).exists(), "routing")
    route_rate = n / (time.perf_counter() - started)
    log(
        f"routing: {n:,} cases in {n / route_rate:.1f} s = {route_rate:,.0f} cases/s "
        f"({route_rate / noop_rate:.0%} of the no-op rate; target at least 50%)"
    )
    figures.update(
        noop_tasks_per_s=noop_rate,
        routed_cases_per_s=route_rate,
        ratio=route_rate / noop_rate,
    )
    if not t:
        return
    # The routing tasks whose cases were routed by an earlier task are still queued: let
    # them run out, so that the transition's job does not wait behind them.
    wait(drained, "the routing tasks left over", 1800)
    log(f"creating {t:,} open cases in the VIP queue (not timed)")
    bulk_cases(t, queue=Queue.VIP, scored=False)
    from django.contrib.auth import get_user_model

    from triage import routing_services
    from vipcases.models import BackgroundJob

    manager = get_user_model().objects.create_superuser(
        "bench.manager", "bench@example.gov.uk", "x-bench-pass"
    )
    policy = routing_services.routing_policy_create(
        acting_user=manager,
        rapid_threshold=50,
        vip_value_threshold_gbp=Decimal("250000"),
        sla_days={"triage": 1, "rapid_response": 2, "vip": 5, "mp_inbox": 10},
        rationale="Benchmark transition",
    )
    preview_started = time.perf_counter()
    preview = routing_services.routing_policy_preview(policy)
    preview_seconds = time.perf_counter() - preview_started
    in_train = preview.moving + preview.unchanged + sum(c for _, c in preview.held)
    log(
        f"preview over {in_train:,} cases in train: "
        f"{preview_seconds * 1000:.0f} ms; moves {preview.moves}"
    )
    cpu_before = cpu_snapshot(worker_pid)
    started = time.perf_counter()
    job = routing_services.routing_policy_apply(policy_id=policy.pk, acting_user=manager)
    seen = {group: dict(pids) for group, pids in cpu_before.items()}
    while BackgroundJob.objects.get(pk=job.pk).state not in ("done", "failed"):
        if time.perf_counter() - started > 900:
            sys.exit("timed out waiting for the transition")
        # The job's backend appears once its task starts and goes with it: sample it.
        for group, pids in cpu_snapshot(worker_pid).items():
            seen[group].update(pids)
        time.sleep(0.2)
    seconds = time.perf_counter() - started
    for group, pids in cpu_snapshot(worker_pid).items():
        seen[group].update(pids)
    cpu = cpu_used(cpu_before, seen)
    job.refresh_from_db()
    log(
        f"transition: {job.done:,} cases in train considered, {job.changed:,} moved, in {seconds:.1f} s "
        f"({job.state}; target under 60 s); CPU: worker {cpu['worker']:.1f} s, "
        f"PostgreSQL {cpu['database']:.1f} s"
    )
    figures.update(
        preview_cases=in_train,
        preview_ms=preview_seconds * 1000,
        transition_cases=job.done,
        transition_moved=job.changed,
        transition_state=job.state,
        transition_s=seconds,
        transition_worker_cpu_s=cpu["worker"],
        transition_database_cpu_s=cpu["database"],
    )


if __name__ == "__main__":
    main()
