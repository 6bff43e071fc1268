"""The intake API under load: POST /api/offers/ through gunicorn on PostgreSQL and Redis.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/vipcases REDIS_URL=redis://127.0.0.1:6379/0 \
        .venv/bin/python benchmarks/api_bench.py [--workers 4] [--connections 8] [--seconds 30]

Needs `wrk` (Debian: apt-get install wrk). It works on a scratch database
(vipcases_bench_api, dropped and made again) and Redis database 11 (flushed): gunicorn
(sync workers, as in docker-compose.yml) on a free port of 127.0.0.1, DEBUG off; wrk on
loopback sends the contract's example body, each request with a new external_ref and
one of a few thousand suppliers, for a fixed time with a fixed number of connections.
Tasks go to Redis (REDIS_URL set) and no worker runs, so the figure is the web tier's:
validate, write the offer, lines, case and events in one transaction, queue triage.
The rate limit stays on (counted in Redis) but is raised out of the way. Target
(issue 7): 300 offers a second with no errors. The workers' peak memory (VmHWM) is read
just before gunicorn is stopped.

Throughput on a shared machine is noisy, so the timed run also reports CPU time per
request (utime + stime from /proc, before and after): the gunicorn workers, the
PostgreSQL backends serving the scratch database, redis-server (shared, so an upper
bound) and wrk itself.

Then gunicorn is stopped as a deployment stops it (SIGTERM) and the triage tasks left in
Redis are read: every case recorded must be in one, once (each web process sends its new
cases a batch at a time, and what it holds when told to stop).
"""

import argparse
import base64
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks._setup import (  # noqa: E402
    ROOT,
    add_json_argument,
    child_pids,
    cpu_seconds,
    django_on,
    log,
    process_tree_peaks,
    redis_url,
    scratch_database,
    write_json,
)

REDIS_DB = 11
DATABASE = "vipcases_bench_api"
TARGET_PER_SECOND = 300

LUA = r"""
local counter = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function init(args)
  run = args[1] or "run"
end

local template = '{"external_ref": "BENCH-%s-%d-%d", "channel": "webform", ' ..
  '"received_at": "2020-04-23T10:20:58+01:00", ' ..
  '"supplier": {"name": "Bench Medical Supplies %d Ltd", "company_number": "B%d%05d", ' ..
  '"country": "GB", "incorporated_on": "2009-06-01", "ppe_trading_history": true}, ' ..
  '"introducer": {"name": "A. Example", "role": "mp", "office": "Member for Somewhere", ' ..
  '"relationship": "constituent business"}, ' ..
  '"lines": [{"category": "ffp3_respirator", "description": "FFP3 respirator, head straps", ' ..
  '"quantity": 2000000, "unit_price": "1.85", "currency": "GBP", ' ..
  '"standards": ["EN 149:2001+A1:2009 FFP3"], "certificate": "CE 2797", ' ..
  '"strap_type": "head", "sterile": false, "sterilisation_validation": null, ' ..
  '"stock_location": "uk", "lead_time_days": 5}]}'

request = function()
  counter = counter + 1
  local supplier = counter % 2000
  local body = string.format(template, run, id, counter, supplier, id, supplier)
  return wrk.format("POST", "/api/offers/", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN"),
  }, body)
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d seconds=%.2f p50_ms=%.1f p90_ms=%.1f p99_ms=%.1f max_ms=%.1f non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int, timeout: float = 60) -> None:
    """Until gunicorn answers /health/ with 200 (its socket opens before a worker is up)."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/", timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    sys.exit("gunicorn did not start")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def cpu_by_tier(server_pid: int) -> dict[str, float]:
    """CPU seconds used so far by the gunicorn workers, the PostgreSQL backends of the
    scratch database, redis-server and this process's finished children (wrk)."""
    backends = [
        pid
        for pid in map(int, filter(str.isdigit, os.listdir("/proc")))
        if _cmdline(pid).startswith("postgres: ") and f" {DATABASE} " in _cmdline(pid)
    ]
    redis_pids = [
        pid
        for pid in map(int, filter(str.isdigit, os.listdir("/proc")))
        if _cmdline(pid).startswith("redis-server")
    ]
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "gunicorn": sum(cpu_seconds(pid) for pid in child_pids(server_pid)),
        "postgres": sum(cpu_seconds(pid) for pid in backends),
        "redis": sum(cpu_seconds(pid) for pid in redis_pids),
        "wrk": children.ru_utime + children.ru_stime,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--warm-up", type=int, default=5, help="seconds of load before timing")
    parser.add_argument("--read-seconds", type=int, default=10, help="the GET comparison")
    add_json_argument(parser)
    args = parser.parse_args()
    broker = redis_url(REDIS_DB)
    os.environ["REDIS_URL"] = broker

    database = scratch_database(DATABASE)
    django_on(database)
    import redis

    redis.Redis.from_url(broker).flushdb()
    from offers.models import Offer
    from offers.tokens import api_token_create
    from vipcases.models import Case

    _, token = api_token_create(name="bench")
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "REDIS_URL": broker,
        "SECRET_KEY": "benchmark-only-key",
        "DEBUG": "false",
        # Plain http on loopback: no redirect to https (production ends TLS in front).
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "API_RATE_LIMIT_PER_MINUTE": "100000000",
        "LOG_LEVEL": "WARNING",
        "BENCH_TOKEN": token,
    }
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "vipcases.wsgi:application",
            f"--bind=127.0.0.1:{port}",
            f"--workers={args.workers}",
            "--log-level=warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    try:
        wait_for(port)
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(LUA)
        url = f"http://127.0.0.1:{port}"
        log(
            f"gunicorn: {args.workers} sync workers on {url}; "
            f"warming up for {args.warm_up} s (not counted)"
        )
        subprocess.run(
            ["wrk", "-t2", "-c4", f"-d{args.warm_up}s", "-s", script.name, url, "--", "warmup"],
            env=env,
            check=True,
            capture_output=True,
        )
        before = Offer.objects.count()
        cpu_before = cpu_by_tier(server.pid)
        log(f"wrk: {args.connections} connections, 2 threads, {args.seconds} s")
        done = subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{args.connections}",
                f"-d{args.seconds}s",
                "--timeout=10s",
                "-s",
                script.name,
                url,
                "--",
                "run",
            ],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        cpu_after = cpu_by_tier(server.pid)
        os.unlink(script.name)
        figures = dict(re.findall(r"(\w+)=([\d.]+)", re.search(r"RESULT .*", done.stdout).group(0)))
        created = Offer.objects.count() - before
        requests = int(figures["requests"])
        errors = sum(int(figures[k]) for k in ("non2xx", "connect", "read", "write", "timeout"))
        rate = requests / float(figures["seconds"])
        log(
            f"{requests:,} requests in {float(figures['seconds']):.1f} s = {rate:,.0f} requests/s; "
            f"latency p50 {figures['p50_ms']} ms, p90 {figures['p90_ms']} ms, "
            f"p99 {figures['p99_ms']} ms, max {figures['max_ms']} ms; errors {errors}"
        )
        cpu_ms = {
            tier: 1000 * (cpu_after[tier] - cpu_before[tier]) / max(requests, 1)
            for tier in cpu_before
        }
        log(
            "CPU per request (ms): "
            + ", ".join(f"{tier} {ms:.2f}" for tier, ms in cpu_ms.items())
            + f"; total {sum(cpu_ms.values()):.2f}"
        )
        log(f"offers created during the run: {created:,}")
        case_id = Case.objects.order_by("pk").values_list("pk", flat=True).first()
        read = subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{args.connections}",
                f"-d{args.read_seconds}s",
                "--latency",
                "-H",
                f"Authorization: Bearer {token}",
                f"{url}/api/cases/{case_id}/",
            ],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        read_rate = float(re.search(r"Requests/sec:\s+([\d.]+)", read.stdout).group(1))
        read_p99 = re.search(r"99%\s+(\S+)", read.stdout).group(1)
        read_errors = re.search(r"Non-2xx or 3xx responses: (\d+)", read.stdout)
        log(
            f"for comparison, GET /api/cases/{case_id}/ ({args.read_seconds} s, same connections): "
            f"{read_rate:,.0f} requests/s, p99 {read_p99}, "
            f"non-2xx {read_errors.group(1) if read_errors else 0}"
        )
        memory = process_tree_peaks(server.pid)
        log(
            f"gunicorn peak RSS: {memory['largest_child_mib']:.0f} MiB (largest of "
            f"{memory['children']} workers), {memory['parent_mib']:.0f} MiB (master)"
        )
        # Stopped as a deployment stops it: each worker sends the case ids it still holds.
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        sent = queued_case_ids(redis.Redis.from_url(broker))
        cases = set(Case.objects.values_list("pk", flat=True))
        log(
            f"triage tasks in Redis once gunicorn stopped: {len(sent['ids']):,} distinct cases "
            f"of the {len(cases):,} recorded ({sent['messages']:,} messages, "
            f"{sent['repeats']:,} ids sent twice)"
        )
        write_json(
            args.json,
            {
                "workers": args.workers,
                "connections": args.connections,
                "seconds": float(figures["seconds"]),
                "requests": requests,
                "requests_per_s": rate,
                "p50_ms": float(figures["p50_ms"]),
                "p90_ms": float(figures["p90_ms"]),
                "p99_ms": float(figures["p99_ms"]),
                "errors": errors,
                "offers_created": created,
                "get_requests_per_s": read_rate,
                "get_p99": read_p99,
                "get_errors": int(read_errors.group(1)) if read_errors else 0,
                "cpu_ms_per_request": cpu_ms,
                "cases": len(cases),
                "cases_sent_to_triage": len(sent["ids"] & cases),
                "triage_messages": sent["messages"],
                "triage_ids_repeated": sent["repeats"],
                "worker_memory": memory,
                "target_per_s": TARGET_PER_SECOND,
            },
        )
        print(
            f"RESULT workers={args.workers} connections={args.connections} requests={requests} "
            f"rps={rate:.0f} p50_ms={figures['p50_ms']} p99_ms={figures['p99_ms']} "
            f"errors={errors} offers_created={created} get_rps={read_rate:.0f} "
            f"cpu_ms={sum(cpu_ms.values()):.2f}"
        )
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)


def queued_case_ids(client) -> dict:
    """The case ids carried by the triage tasks waiting in Redis (no worker runs): each
    message is Celery's protocol 2, its body base64 of [args, kwargs, embed], and the
    API's task takes one argument, a list of case ids."""
    ids, repeats, messages = set(), 0, 0
    for message in client.lrange("celery", 0, -1):
        envelope = json.loads(message)
        args, _kwargs, _embed = json.loads(base64.b64decode(envelope["body"]))
        messages += 1
        for case_id in args[0]:
            repeats += case_id in ids
            ids.add(case_id)
    return {"ids": ids, "messages": messages, "repeats": repeats}


if __name__ == "__main__":
    main()
