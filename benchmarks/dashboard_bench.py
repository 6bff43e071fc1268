"""Server time of the backlog dashboard and the fairness report at 1,000,000 cases.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/vipcases \
        .venv/bin/python benchmarks/dashboard_bench.py [--cases 1000000] [--reuse] [--explain]

It works on a scratch database (vipcases_bench_dashboard, dropped and made again unless
--reuse finds it already built with the same number of cases). Building:

1. `seed_demo --cases N --no-triage --force`: offers, lines, introductions (about 40%),
   cases and their `created` events, in bulk (vipcases/demo.py);
2. a few set-based SQL statements give the cases what months of work would have: scores,
   eligibility, the routing decision, casework on the routed cases (owners, statuses,
   closures with outcomes and rationales, SLA breaches) (SHAPE_SQL);
3. the events of that history, made in SQL (EVENTS_SQL), chained to each case's
   `created` event and hashed by `vipcases.events.event_hash`, and copied in: a `routed`
   event per case, a `closed` event per decision, a few hundred score overrides and
   manual moves; then the case table's indexes are rebuilt and VACUUM ANALYZE.

Then each page is requested through Django's test Client as a signed-in manager: two
warm-up requests, then 20 timed ones as managers get them (the figures that read every
case served from the cache for REPORT_CACHE_SECONDS after each calculation), then 5
with `?refresh=1` (every figure worked out afresh, as on a cold cache). The median and
p95 of the server time (the Client's call: the whole request cycle, no network) are
printed. Target (issue 6): under 300 ms median each.

`--jobs J` writes the cases with J `seed_demo` processes side by side (seeds 2020,
2021, …), which on two cores builds a million cases about a quarter faster than one;
`--build-only` stops once the database is built (benchmarks/run_all.py times the build
and the pages separately); `--no-build` refuses to build (fails unless --cases cases are
already there). When REDIS_URL is set the cache is Redis database 11 (flushed).
"""

import argparse
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks._setup import (  # noqa: E402
    ROOT,
    add_json_argument,
    database_url,
    django_on,
    log,
    peak_rss_mib,
    redis_url,
    scratch_database,
    write_json,
)

DATABASE = "vipcases_bench_dashboard"
REQUESTS = 20
WARM_UP = 2
REFRESH_REQUESTS = 5
REDIS_DB = 11  # the cache, when REDIS_URL is set (flushed)
SEED = 2020
TARGET_MEDIAN_MS = 300
PAGES = {"dashboard": "/dashboard/", "fairness report": "/dashboard/fairness/"}

# The shaping statements, run in order in one session. Each is one set-based statement:
# nothing here loops over cases in Python.
SHAPE_SQL = [
    "SELECT setseed(0.2020)",
    # Who introduced each offer (the most senior role counts), and the facts routing reads.
    """
    CREATE TEMP TABLE bench_facts AS
    SELECT c.id, c.offer_id, c.opened_at, o.value_gbp,
           i.vip, i.offer_id IS NOT NULL AS introduced,
           random() AS r_eligible, random() AS r_score1, random() AS r_score2,
           random() AS r_close, random() AS r_outcome, random() AS r_when,
           random() AS r_status, random() AS r_owner
    FROM vipcases_case c
    JOIN offers_offer o ON o.id = c.offer_id
    LEFT JOIN (
        SELECT it.offer_id,
               bool_or(ir.role IN ('minister', 'peer', 'senior_official')) AS vip
        FROM offers_introduction it JOIN offers_introducer ir ON ir.id = it.introducer_id
        GROUP BY it.offer_id
    ) i ON i.offer_id = c.offer_id
    """,
    # Scores (about 18% ineligible, low), then the routing rules of the default policy.
    """
    CREATE TEMP TABLE bench_routed AS
    SELECT f.*,
           f.r_eligible >= 0.18 AS eligible,
           CASE WHEN f.r_eligible >= 0.18
                THEN LEAST(100, GREATEST(5, round(55 + 17 * sqrt(-2 * ln(1 - f.r_score1))
                                                  * cos(2 * pi() * f.r_score2))))::int
                ELSE floor(f.r_score1 * 35)::int END AS priority,
           LEAST(f.opened_at + interval '30 minutes', now()) AS routed_at
    FROM bench_facts f
    """,
    """
    CREATE TEMP TABLE bench_cases AS
    SELECT r.*,
           CASE WHEN NOT r.eligible THEN 'closed'
                WHEN r.priority >= 70 THEN 'rapid_response'
                WHEN r.vip AND r.value_gbp >= 250000 THEN 'vip'
                WHEN r.introduced THEN 'mp_inbox'
                ELSE 'closed' END AS routed_queue,
           CASE WHEN NOT r.eligible THEN 'ineligible'
                WHEN r.priority >= 70 THEN 'rapid'
                WHEN r.vip AND r.value_gbp >= 250000 THEN 'vip'
                WHEN r.introduced THEN 'introduced'
                ELSE 'standard_route' END AS rule,
           EXTRACT(EPOCH FROM now() - r.opened_at) / 86400 AS age_days
    FROM bench_routed r
    """,
    # Casework on the routed cases: the older a case, the likelier it is decided.
    """
    CREATE TEMP TABLE bench_final AS
    SELECT b.*,
           CASE WHEN b.routed_queue = 'closed' THEN true
                ELSE b.r_close < LEAST(0.95, b.age_days / 12) END AS closed,
           CASE WHEN b.routed_queue = 'closed' THEN b.routed_at
                ELSE LEAST(now() - interval '5 minutes',
                           b.routed_at + (b.r_when * LEAST(b.age_days, 20)) * interval '1 day')
                END AS closed_when,
           CASE WHEN NOT b.eligible THEN 'not_progressed'
                WHEN b.routed_queue = 'closed' THEN 'referred_to_standard_route'
                WHEN b.routed_queue = 'mp_inbox' THEN
                     CASE WHEN b.r_outcome < 0.55 THEN 'referred_to_standard_route'
                          WHEN b.r_outcome < 0.85 THEN 'withdrawn' ELSE 'rejected' END
                WHEN b.r_outcome < 0.12 + 0.006 * GREATEST(0, b.priority - 40)
                     THEN 'contract_awarded'
                WHEN b.r_outcome < 0.75 THEN 'rejected'
                ELSE 'withdrawn' END AS final_outcome,
           (ARRAY['new', 'in_progress', 'technical_assurance', 'due_diligence',
                  'negotiation', 'awaiting_approval'])[1 + floor(b.r_status * 6)::int]
               AS open_status,
           CASE b.routed_queue WHEN 'rapid_response' THEN 2 WHEN 'vip' THEN 5 ELSE 10 END
               AS sla_days
    FROM bench_cases b
    """,
    "CREATE TEMP TABLE bench_people AS "
    "SELECT array_agg(u.id ORDER BY u.username) AS ids FROM auth_user u "
    "JOIN auth_user_groups ug ON ug.user_id = u.id JOIN auth_group g ON g.id = ug.group_id "
    "WHERE g.name = 'caseworker'",
    """
    UPDATE vipcases_case c SET
        priority = f.priority,
        eligible = f.eligible,
        queue = CASE WHEN f.closed THEN 'closed' ELSE f.routed_queue END,
        routed_queue = f.routed_queue,
        status = CASE WHEN f.closed THEN 'closed' ELSE f.open_status END,
        outcome = CASE WHEN f.closed THEN f.final_outcome ELSE '' END,
        closed_at = CASE WHEN f.closed THEN f.closed_when END,
        sla_due_at = CASE WHEN f.routed_queue = 'closed' THEN NULL
                          ELSE f.routed_at + f.sla_days * interval '1 day' END,
        sla_breached_at = CASE WHEN NOT f.closed
                               AND f.routed_at + f.sla_days * interval '1 day' < now()
                               THEN f.routed_at + f.sla_days * interval '1 day'
                                    + interval '15 minutes' END,
        owner_id = CASE WHEN f.routed_queue = 'closed' THEN NULL
                        WHEN NOT f.closed AND f.open_status = 'new' THEN NULL
                        ELSE p.ids[1 + floor(f.r_owner * array_length(p.ids, 1))::int] END,
        version = c.version + 2
    FROM bench_final f, bench_people p
    WHERE f.id = c.id
    """,
]

# The events that go with the cases' history, in one temporary table: a `routed` event
# per case, a `closed` event per decision a person made, a few hundred score overrides and
# manual moves by a manager. `seq` orders a case's new events (routing before closing).
EVENTS_SQL = [
    """
    CREATE TEMP TABLE bench_events AS
    SELECT f.id AS case_id, 1 AS seq, NULL::integer AS actor_id, 'routed'::text AS kind,
           f.routed_at AS created_at, 'triage'::text AS from_value,
           f.routed_queue AS to_value,
           'Routed by rule ' || f.rule || ' of routing policy version 1 (benchmark data).'
               AS rationale,
           false AS restricted,
           jsonb_build_object('rule', f.rule, 'policy_version', 1,
                              'outcome', CASE WHEN f.routed_queue = 'closed'
                                              THEN f.final_outcome ELSE '' END) AS data
    FROM bench_final f
    UNION ALL
    SELECT f.id, 2, c.owner_id, 'closed', f.closed_when, 'awaiting_approval', 'closed',
           'Closed as ' || replace(f.final_outcome, '_', ' ') || ' (benchmark data).', false,
           jsonb_build_object('outcome', f.final_outcome)
    FROM bench_final f JOIN vipcases_case c ON c.id = f.id
    WHERE f.closed AND f.routed_queue <> 'closed'
    UNION ALL
    SELECT f.id, 3, (SELECT id FROM auth_user WHERE username = 'manager'), 'score_overridden',
           f.routed_at + interval '2 hours', f.priority::text, LEAST(100, f.priority + 5)::text,
           'Clinical lead confirmed the stock is already in the UK (benchmark data).', false,
           jsonb_build_object('automatic_total', f.priority)
    FROM bench_final f WHERE f.id % 2003 = 0
    UNION ALL
    SELECT f.id, 4, (SELECT id FROM auth_user WHERE username = 'manager'), 'moved',
           f.routed_at + interval '3 hours', f.routed_queue, 'rapid_response',
           'Moved to Rapid Response: the trust asked for these gowns this week '
           || '(benchmark data).',
           false, '{}'::jsonb
    FROM bench_final f WHERE f.id % 2011 = 0 AND f.routed_queue IN ('vip', 'mp_inbox')
    """,
    "CREATE INDEX ON bench_events (case_id, seq)",
    "ANALYZE bench_events",
]
# A batch of those events, with the hash of each case's last event so far (its `created`
# event): the chain continues from it.
EVENTS_BATCH_SQL = """
    SELECT e.case_id, e.actor_id, e.kind, e.created_at, e.from_value, e.to_value,
           e.rationale, e.restricted, e.data::text, coalesce(tip.hash, '')
    FROM bench_events e
    LEFT JOIN (
        SELECT DISTINCT ON (case_id) case_id, hash FROM vipcases_caseevent
        WHERE case_id > %(after)s AND case_id <= %(upto)s ORDER BY case_id, id DESC
    ) tip ON tip.case_id = e.case_id
    WHERE e.case_id > %(after)s AND e.case_id <= %(upto)s
    ORDER BY e.case_id, e.seq
"""
EVENT_COLUMNS = (
    "case_id",
    "actor_id",
    "kind",
    "created_at",
    "from_value",
    "to_value",
    "rationale",
    "restricted",
    "data",
)
CASES_PER_EVENT_BATCH = 20_000

# Every case was open while the statements above ran, and 95% closed in one UPDATE: the
# partial indexes over open cases were left holding a million dead entries' pages, a
# state a live system never reaches (its cases close a few at a time, and VACUUM
# recycles the emptied pages). Rebuild them to the size they would have.
AFTER_SQL = ["REINDEX TABLE vipcases_case"]


def build(cases: int, jobs: int = 1) -> dict:
    """Build the database; the seconds each step took."""
    url = scratch_database(DATABASE)
    django_on(url)
    started = time.perf_counter()
    log(
        f"seed_demo --cases {cases:,} --no-triage --force"
        + (f", {jobs} processes" if jobs > 1 else "")
    )
    if jobs > 1:
        _seed_in_parallel(url, cases, jobs)
    else:
        from django.core.management import call_command

        call_command("seed_demo", cases=cases, no_triage=True, force=True, verbosity=0)
    seeded = time.perf_counter() - started
    log(f"  bulk insert done in {seeded:.0f} s")
    shaped = shape()
    vacuumed = vacuum()
    from django.db import connection

    with connection.cursor() as cursor:  # what reuse() looks for
        cursor.execute(f"COMMENT ON DATABASE \"{DATABASE}\" IS '{_built_mark(cases)}'")
    total = time.perf_counter() - started
    log(f"  database built in {total:.0f} s")
    return {
        "cases": cases,
        "jobs": jobs,
        "seed_s": seeded,
        "shape_s": shaped,
        "vacuum_s": vacuumed,
        "build_s": total,
    }


def _seed_in_parallel(url: str, cases: int, jobs: int) -> None:
    """`jobs` seed_demo processes, each writing its share of the cases with its own seed.
    The demo users are made here first, so that no two processes race to create them."""
    from vipcases import demo
    from vipcases.management.commands.seed_demo import DEFAULT_PASSWORD

    demo.demo_users_ensure(password=DEFAULT_PASSWORD)
    env = {**os.environ, "DATABASE_URL": url}
    shares = [cases // jobs + (1 if i < cases % jobs else 0) for i in range(jobs)]
    processes = [
        subprocess.Popen(
            [sys.executable, "manage.py", "seed_demo", f"--cases={share}", f"--seed={SEED + i}"]
            + ["--no-triage", "--force"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        for i, share in enumerate(shares)
        if share
    ]
    from vipcases.models import Case

    try:
        last = time.monotonic()
        while any(p.poll() is None for p in processes):
            time.sleep(1)
            if time.monotonic() - last >= 30:
                last = time.monotonic()
                log(f"  {Case.objects.count():,} / {cases:,} cases written")
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
    failed = [p.returncode for p in processes if p.returncode]
    if failed:
        sys.exit(f"seed_demo failed (exit status {failed})")


def shape() -> float:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        for statement in SHAPE_SQL:
            cursor.execute(statement)
        log(f"  shaped the cases with {len(SHAPE_SQL)} SQL statements")
        for statement in EVENTS_SQL:
            cursor.execute(statement)
        counts = _events_write(cursor)
        log("  events of that history: " + ", ".join(f"{n:,} {k}" for k, n in counts.items()))
        for statement in AFTER_SQL:
            cursor.execute(statement)
        for table in (
            "bench_events",
            "bench_people",
            "bench_final",
            "bench_cases",
            "bench_routed",
            "bench_facts",
        ):
            cursor.execute(f"DROP TABLE {table}")
    seconds = time.perf_counter() - started
    log(f"  shaped in {seconds:.0f} s")
    return seconds


def _events_write(cursor) -> dict[str, int]:
    """Chain the events of bench_events to each case's last event, hashing each with the
    application's own `vipcases.events.event_hash` (so `manage.py verify_events` finds
    every chain whole), and COPY them in, a batch of cases at a time.

    COPY rather than `events_append`: the same hashes at a tenth of the cost, which at
    1.4 million events is minutes. The columns are HASHED_FIELDS and the two hashes."""
    import json
    from collections import Counter

    from vipcases.events import HASHED_FIELDS, event_hash

    assert set(HASHED_FIELDS) == set(EVENT_COLUMNS), "the hashed fields changed: update EVENTS_SQL"
    cursor.execute("SELECT min(case_id), max(case_id) FROM bench_events")
    low, high = cursor.fetchone()
    counts: Counter = Counter()
    if low is None:
        return counts
    raw = cursor.connection  # the psycopg connection, with the session's temporary tables
    columns = ", ".join((*EVENT_COLUMNS, "prev_hash", "hash"))
    for after in range(low - 1, high, CASES_PER_EVENT_BATCH):
        cursor.execute(EVENTS_BATCH_SQL, {"after": after, "upto": after + CASES_PER_EVENT_BATCH})
        rows = cursor.fetchall()
        tips: dict[int, str] = {}
        with raw.cursor().copy(f"COPY vipcases_caseevent ({columns}) FROM STDIN") as copy:
            for *values, data, tip in rows:
                event = dict(zip(EVENT_COLUMNS[:-1], values, strict=True))
                event["data"] = json.loads(data)
                prev = tips.get(event["case_id"], tip)
                digest = event_hash(**event, prev_hash=prev)
                tips[event["case_id"]] = digest
                copy.write_row((*values, data, prev, digest))
                counts[event["kind"]] += 1
    return counts


def vacuum() -> float:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    seconds = time.perf_counter() - started
    log(f"  VACUUM ANALYZE in {seconds:.0f} s")
    return seconds


def _built_mark(cases: int) -> str:
    return f"vipcases benchmark database: {cases} cases, built and shaped"


def reuse(cases: int) -> str | None:
    """The scratch database's URL if a build of `cases` cases finished in it."""
    import psycopg

    url = database_url(DATABASE)
    try:
        with psycopg.connect(url) as conn:
            mark = conn.execute(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                "WHERE datname = current_database()"
            ).fetchone()[0]
    except psycopg.Error:
        return None
    return url if mark == _built_mark(cases) else None


def summary() -> dict:
    from django.db import connection
    from django.db.models import Count

    from offers.models import Introduction, OfferLine
    from vipcases.models import Case, CaseEvent

    total = Case.objects.count()
    open_cases = Case.objects.exclude(status="closed").count()
    by_queue = dict(
        Case.objects.exclude(status="closed").values_list("queue").annotate(n=Count("id"))
    )
    events = CaseEvent.objects.count()
    log(f"{total:,} cases, {open_cases:,} open ({by_queue}); {events:,} events")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        size = cursor.fetchone()[0]
    return {
        "cases": total,
        "open_cases": open_cases,
        "open_by_queue": by_queue,
        "offer_lines": OfferLine.objects.count(),
        "introductions": Introduction.objects.count(),
        "events": events,
        "database_bytes": size,
    }


def explain() -> None:
    """EXPLAIN ANALYZE of every query the two pages run."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from vipcases import dashboards, fairness

    for name, build_page in (("dashboard", dashboards.backlog), ("fairness", fairness.report)):
        with CaptureQueriesContext(connection) as captured:
            build_page()
        for query in captured.captured_queries:
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
                plan = "\n".join(row[0] for row in cursor.fetchall())
            print(f"--- {name}: {query['sql'][:160]}\n{plan}\n")


def _time(client, url: str, count: int) -> tuple[float, float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(url, secure=True)  # as behind TLS: no redirect
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            sys.exit(f"{url} answered {response.status_code}")
    times.sort()
    return statistics.median(times), times[math.ceil(0.95 * len(times)) - 1]


def time_pages(
    requests: int = REQUESTS, refresh_requests: int = REFRESH_REQUESTS
) -> dict[str, dict[str, tuple[float, float]]]:
    """Per page: served (the figures that read every case taken from the cache, as
    managers get them for REPORT_CACHE_SECONDS after each calculation) and worked out
    (`?refresh=1`: every figure calculated afresh, as on the first request)."""
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.test import Client

    manager = get_user_model().objects.get(username="manager")
    client = Client()
    client.force_login(manager)
    cache.clear()
    results = {}
    for label, url in PAGES.items():
        _time(client, url, WARM_UP)
        served = _time(client, url, requests)
        fresh = _time(client, url + "?refresh=1", refresh_requests)
        results[label] = {"served": served, "worked out": fresh}
        log(
            f"{label} ({url}): served median {served[0]:.0f} ms, p95 {served[1]:.0f} ms over "
            f"{requests} requests; worked out afresh (?refresh=1) median {fresh[0]:.0f} ms, "
            f"p95 {fresh[1]:.0f} ms over {refresh_requests}"
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument(
        "--reuse", action="store_true", help="keep the scratch database if already built"
    )
    parser.add_argument(
        "--no-build", action="store_true", help="fail unless the database is already built"
    )
    parser.add_argument("--build-only", action="store_true", help="build, then stop")
    parser.add_argument("--jobs", type=int, default=1, help="seed_demo processes side by side")
    parser.add_argument("--requests", type=int, default=REQUESTS)
    parser.add_argument("--refresh-requests", type=int, default=REFRESH_REQUESTS)
    parser.add_argument("--explain", action="store_true", help="print the query plans")
    add_json_argument(parser)
    args = parser.parse_args()
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")  # the test Client's host
    os.environ["REDIS_URL"] = redis_url(REDIS_DB, required=False)

    figures: dict = {}
    url = reuse(args.cases) if args.reuse or args.no_build else None
    if url:
        log(f"reusing {DATABASE} ({args.cases:,} cases)")
        django_on(url)  # applies any new migration
        if args.reuse:
            vacuum()
    elif args.no_build:
        sys.exit(f"{DATABASE} does not hold {args.cases:,} cases: build it first")
    else:
        figures["build"] = build(args.cases, args.jobs)
    figures["database"] = summary()
    if args.build_only:
        write_json(args.json, figures)
        return
    if args.explain:
        explain()
    results = time_pages(args.requests, args.refresh_requests)
    figures["pages"] = {
        label: {kind: {"median_ms": m, "p95_ms": p} for kind, (m, p) in kinds.items()}
        for label, kinds in results.items()
    }
    figures["requests"] = {"served": args.requests, "worked out": args.refresh_requests}
    figures["peak_rss_mib"] = peak_rss_mib()
    figures["target_median_ms"] = TARGET_MEDIAN_MS
    write_json(args.json, figures)
    print(
        "RESULT "
        + " ".join(
            f"{label.replace(' ', '_')}_{kind.replace(' ', '_')}_median_ms={m:.0f}"
            f" {label.replace(' ', '_')}_{kind.replace(' ', '_')}_p95_ms={p:.0f}"
            for label, kinds in results.items()
            for kind, (m, p) in kinds.items()
        )
    )


if __name__ == "__main__":
    main()
