"""Server time of the backlog dashboard and the fairness report at 1,000,000 cases.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/vipcases \
        .venv/bin/python benchmarks/dashboard_bench.py [--cases 1000000] [--reuse] [--explain]

It works on a scratch database (vipcases_bench_dashboard, dropped and made again unless
--reuse finds it already built with the same number of cases). Building:

1. `seed_demo --cases N --no-triage --force`: offers, lines, introductions (about 40%),
   cases and their `created` events, in bulk (vipcases/demo.py);
2. a few set-based SQL statements give the cases what months of work would have: scores,
   eligibility, the routing decision (with its `routed` event), casework on the routed
   cases (owners, statuses, closures with outcomes and rationales, SLA breaches), and a
   few hundred score overrides and manual moves; then the case table's indexes are
   rebuilt (see SHAPE_SQL) and VACUUM ANALYZE.

Then each page is requested through Django's test Client as a signed-in manager: two
warm-up requests, then 20 timed ones as managers get them (the figures that read every
case served from the cache for REPORT_CACHE_SECONDS after each calculation), then 5
with `?refresh=1` (every figure worked out afresh, as on a cold cache). The median and
p95 of the server time (the Client's call: the whole request cycle, no network) are
printed. Target (issue 6): under 300 ms median each.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks._setup import django_on, log, scratch_database  # noqa: E402

DATABASE = "vipcases_bench_dashboard"
REQUESTS = 20
WARM_UP = 2
REFRESH_REQUESTS = 5
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
    # The routing decision of every case, as routing writes it.
    """
    INSERT INTO vipcases_caseevent
        (case_id, actor_id, kind, created_at, from_value, to_value, rationale, restricted, data)
    SELECT f.id, NULL, 'routed', f.routed_at, 'triage', f.routed_queue,
           'Routed by rule ' || f.rule || ' of routing policy version 1 (benchmark data).',
           false,
           jsonb_build_object('rule', f.rule, 'policy_version', 1,
                              'outcome', CASE WHEN f.routed_queue = 'closed'
                                              THEN f.final_outcome ELSE '' END)
    FROM bench_final f
    """,
    # Every decision a person closed, with its rationale.
    """
    INSERT INTO vipcases_caseevent
        (case_id, actor_id, kind, created_at, from_value, to_value, rationale, restricted, data)
    SELECT f.id, c.owner_id, 'closed', f.closed_when, 'awaiting_approval', 'closed',
           'Closed as ' || replace(f.final_outcome, '_', ' ') || ' (benchmark data).', false,
           jsonb_build_object('outcome', f.final_outcome)
    FROM bench_final f JOIN vipcases_case c ON c.id = f.id
    WHERE f.closed AND f.routed_queue <> 'closed'
    """,
    # A few hundred score overrides and manual moves by a manager, with their reasons.
    """
    INSERT INTO vipcases_caseevent
        (case_id, actor_id, kind, created_at, from_value, to_value, rationale, restricted, data)
    SELECT f.id, (SELECT id FROM auth_user WHERE username = 'manager'), 'score_overridden',
           f.routed_at + interval '2 hours', f.priority::text, LEAST(100, f.priority + 5)::text,
           'Clinical lead confirmed the stock is already in the UK (benchmark data).', false,
           jsonb_build_object('automatic_total', f.priority)
    FROM bench_final f WHERE f.id % 2003 = 0
    """,
    """
    INSERT INTO vipcases_caseevent
        (case_id, actor_id, kind, created_at, from_value, to_value, rationale, restricted, data)
    SELECT f.id, (SELECT id FROM auth_user WHERE username = 'manager'), 'moved',
           f.routed_at + interval '3 hours', f.routed_queue, 'rapid_response',
           'Moved to Rapid Response: the trust asked for these gowns this week (benchmark data).',
           false, '{}'::jsonb
    FROM bench_final f WHERE f.id % 2011 = 0 AND f.routed_queue IN ('vip', 'mp_inbox')
    """,
    # Every case was open while the statements above ran, and 95% closed in one UPDATE:
    # the partial indexes over open cases were left holding a million dead entries'
    # pages, a state a live system never reaches (its cases close a few at a time, and
    # VACUUM recycles the emptied pages). Rebuild them to the size they would have.
    "REINDEX TABLE vipcases_case",
]


def build(cases: int) -> str:
    url = scratch_database(DATABASE)
    django_on(url)
    from django.core.management import call_command

    started = time.perf_counter()
    log(f"seed_demo --cases {cases:,} --no-triage --force")
    call_command("seed_demo", cases=cases, no_triage=True, force=True, verbosity=0)
    log(f"  bulk insert done in {time.perf_counter() - started:.0f} s")
    shape()
    log(f"  database built in {time.perf_counter() - started:.0f} s")
    return url


def shape() -> None:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        for statement in SHAPE_SQL:
            cursor.execute(statement)
        for table in ("bench_people", "bench_final", "bench_cases", "bench_routed", "bench_facts"):
            cursor.execute(f"DROP TABLE {table}")
    log(f"  shaped with {len(SHAPE_SQL)} SQL statements in {time.perf_counter() - started:.0f} s")
    vacuum()


def vacuum() -> None:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    log(f"  VACUUM ANALYZE in {time.perf_counter() - started:.0f} s")


def reuse(cases: int) -> str | None:
    """The scratch database's URL if it is already built with `cases` cases."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    parts = urlsplit(os.environ.get("DATABASE_URL", ""))
    url = urlunsplit(parts._replace(path=f"/{DATABASE}"))
    try:
        with psycopg.connect(url) as conn:
            found = conn.execute("SELECT count(*) FROM vipcases_case").fetchone()[0]
    except psycopg.Error:
        return None
    return url if found == cases else None


def summary() -> None:
    from django.db.models import Count

    from vipcases.models import Case, CaseEvent

    total = Case.objects.count()
    open_cases = Case.objects.exclude(status="closed").count()
    by_queue = dict(
        Case.objects.exclude(status="closed").values_list("queue").annotate(n=Count("id"))
    )
    log(f"{total:,} cases, {open_cases:,} open ({by_queue}); {CaseEvent.objects.count():,} events")


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
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            sys.exit(f"{url} answered {response.status_code}")
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def time_pages() -> dict[str, dict[str, tuple[float, float]]]:
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
        served = _time(client, url, REQUESTS)
        fresh = _time(client, url + "?refresh=1", REFRESH_REQUESTS)
        results[label] = {"served": served, "worked out": fresh}
        log(
            f"{label} ({url}): served median {served[0]:.0f} ms, p95 {served[1]:.0f} ms over "
            f"{REQUESTS} requests; worked out afresh (?refresh=1) median {fresh[0]:.0f} ms, "
            f"p95 {fresh[1]:.0f} ms over {REFRESH_REQUESTS}"
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument(
        "--reuse", action="store_true", help="keep the scratch database if already built"
    )
    parser.add_argument("--explain", action="store_true", help="print the query plans")
    args = parser.parse_args()
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")  # the test Client's host

    url = reuse(args.cases) if args.reuse else None
    if url:
        log(f"reusing {DATABASE} ({args.cases:,} cases)")
        django_on(url)  # applies any new migration
        vacuum()
    else:
        build(args.cases)
    summary()
    if args.explain:
        explain()
    results = time_pages()
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
