"""Server time of the case list (/cases/) and the case page (/cases/<id>/) at 1,000,000
cases, beside the same SQL run directly as the floor.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/vipcases \
        .venv/bin/python benchmarks/pages_bench.py [--cases 1000000] [--requests 20]

It works on the database benchmarks/dashboard_bench.py builds (vipcases_bench_dashboard;
built first unless it already holds --cases cases, or refused with --no-build). Each page
is requested through Django's test Client, in this process, as the demo caseworker
(signed in: the session is read from the database on every request, as in production):
three warm-up requests, then --requests timed ones; the median and p95 of the Client's
call are the server time (the whole request cycle: middleware, session, view, template;
no network), with the median CPU time of this process per request beside it (steadier
than wall time on a busy machine). The Client adds next to nothing of its own: calling
vipcases.wsgi.application with a prepared environ, as gunicorn does, makes the same
number of Python calls per page to within 1%.

One more request of each page runs under CaptureQueriesContext, which gives the SQL the
view sent with its parameters bound. The floor is that SQL replayed statement by
statement through a separate psycopg connection (autocommit), fetching every row,
timed as the sum over the statements; the median of --floor-repeats replays. The gap
between the floor and the page is Django: building the queries, turning rows into
objects, rendering the template.

Targets: each page's median under 60 ms and within 3× its floor.

Two reference pages (benchmarks/reference_urls.py) are measured the same way, with no
target: a signed-in page that answers "ok", and the GOV.UK base template with nothing in
it. They show what Django's request cycle costs beside its own SQL floor (the session,
user and role queries) before a page's query, form and rows come in.
"""

import argparse
import html
import math
import os
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import dashboard_bench  # noqa: E402
from benchmarks._setup import (  # noqa: E402
    add_json_argument,
    django_on,
    log,
    peak_rss_mib,
    redis_url,
    write_json,
)

TARGET_MEDIAN_MS = 60
TARGET_FLOOR_RATIO = 3
WARM_UP = 3
REDIS_DB = 11  # the cache, when REDIS_URL is set (flushed)

# (label, URL) of the case list pages; "page 2" and the case pages are found at run time.
LIST_PAGES = [
    ("Open cases (the default tab)", "/cases/"),
    ("My cases", "/cases/?tab=mine"),
    ("Rapid Response queue", "/cases/?tab=rapid_response"),
    ("gowns scoring 60 to 79", "/cases/?category=gown&score=60-79"),
    ("search: supplier name “kestrel”", "/cases/?q=kestrel"),
    ("search: reference PPE-000123", "/cases/?q=PPE-000123"),
    ("Closed tab, oldest first", "/cases/?tab=closed&sort=oldest"),
]
# (label, URL) of the reference pages in benchmarks/reference_urls.py: what a signed-in
# page costs before its own query, form and rows. Measured the same way, no target.
REFERENCE_PAGES = [
    ("a signed-in page that answers “ok” (no template)", "/__bench__/ok/"),
    ("the GOV.UK base template with one paragraph, signed in", "/__bench__/base/"),
]
NEXT_LINK = re.compile(r'href="([^"]+)" rel="next"')
TRANSACTION_CONTROL = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(share * len(ordered)) - 1]


def _get(client, url: str):
    response = client.get(url, secure=True)  # as behind TLS: no redirect to https
    if response.status_code != 200:
        raise RuntimeError(f"{url} answered {response.status_code}")
    return response


def _server_times(client, url: str, count: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU milliseconds of each timed request."""
    for _ in range(WARM_UP):
        _get(client, url)
    times, cpu_times = [], []
    for _ in range(count):
        started, cpu_started = time.perf_counter(), time.process_time()
        _get(client, url)
        times.append((time.perf_counter() - started) * 1000)
        cpu_times.append((time.process_time() - cpu_started) * 1000)
    return times, cpu_times


def _captured_sql(client, url: str) -> list[str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        _get(client, url)
    return [q["sql"] for q in captured.captured_queries]


def _floor_ms(raw, statements: list[str], repeats: int) -> float:
    """Median over `repeats` of the summed time to run and fetch every statement."""
    replayable = [s for s in statements if not s.startswith(TRANSACTION_CONTROL)]
    sums = []
    for _ in range(repeats + 1):  # the first replay warms the connection's caches
        started = time.perf_counter()
        for statement in replayable:
            with raw.cursor() as cursor:
                cursor.execute(statement.encode())
                if cursor.description is not None:
                    cursor.fetchall()
        sums.append((time.perf_counter() - started) * 1000)
    return statistics.median(sums[1:])


def _cases_to_open() -> list[tuple[str, int]]:
    """An open case someone is working and a case closed with a contract, each scored
    (the bulk-built cases have scores but no stored assessment: scoring these two,
    not timed, gives their pages the full breakdown)."""
    from triage.services import cases_score
    from vipcases.models import Case

    picks = []
    working = (
        Case.objects.filter(queue="rapid_response", owner__isnull=False)
        .exclude(status="closed")
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )
    if working:
        picks.append(("an open Rapid Response case", working))
    awarded = (
        Case.objects.filter(outcome="contract_awarded").order_by("pk").values_list("pk", flat=True)
    ).first()
    if awarded:
        picks.append(("a case closed with a contract", awarded))
    if not picks:
        first = Case.objects.order_by("pk").values_list("pk", flat=True).first()
        picks.append(("the first case", first))
    cases_score([pk for _, pk in picks], reason="benchmark set-up")
    return picks


def time_pages(requests: int, floor_repeats: int) -> tuple[list[dict], list[dict]]:
    """The pages' figures, and the reference pages' (see REFERENCE_PAGES)."""
    import psycopg
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.test import Client
    from django.urls import clear_url_caches

    # The app's URLs and the two reference pages (benchmarks/reference_urls.py).
    settings.ROOT_URLCONF = "benchmarks.reference_urls"
    clear_url_caches()
    user = get_user_model().objects.get(username="caseworker")
    client = Client()
    client.force_login(user)
    cache.clear()

    pages = [("case list", label, url) for label, url in LIST_PAGES]
    first = _get(client, "/cases/").content.decode()
    found = NEXT_LINK.search(first)
    if found:
        pages.insert(1, ("case list", "Open cases, page 2", html.unescape(found.group(1))))
    pages += [("case page", label, f"/cases/{pk}/") for label, pk in _cases_to_open()]
    references = [("reference", label, url) for label, url in REFERENCE_PAGES]

    db = settings.DATABASES["default"]
    raw = psycopg.connect(
        dbname=db["NAME"],
        user=db["USER"],
        password=db["PASSWORD"] or None,
        host=db["HOST"] or None,
        port=db["PORT"] or None,
        autocommit=True,
    )
    try:
        return (
            [_time_page(client, raw, page, requests, floor_repeats) for page in pages],
            [_time_page(client, raw, page, requests, floor_repeats) for page in references],
        )
    finally:
        raw.close()


def _time_page(client, raw, page: tuple[str, str, str], requests: int, floor_repeats: int):
    kind, label, url = page
    times, cpu_times = _server_times(client, url, requests)
    statements = _captured_sql(client, url)
    floor = _floor_ms(raw, statements, floor_repeats)
    row = {
        "kind": kind,
        "label": label,
        "url": url,
        "requests": requests,
        "median_ms": statistics.median(times),
        "p95_ms": _percentile(times, 0.95),
        "cpu_median_ms": statistics.median(cpu_times),
        "queries": len(statements),
        "floor_ms": floor,
    }
    row["ratio"] = row["median_ms"] / floor if floor else None
    log(
        f"{kind}: {label} ({url[:60]}): median {row['median_ms']:.1f} ms, "
        f"p95 {row['p95_ms']:.1f} ms, CPU {row['cpu_median_ms']:.1f} ms, "
        f"{len(statements)} queries; "
        f"floor {floor:.1f} ms ({row['ratio']:.1f}×)"
    )
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=20, help="timed requests per page")
    parser.add_argument("--floor-repeats", type=int, default=10, help="replays of the SQL")
    parser.add_argument(
        "--no-build", action="store_true", help="fail unless the database is already built"
    )
    add_json_argument(parser)
    args = parser.parse_args()
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")  # the test Client's host
    os.environ["REDIS_URL"] = redis_url(REDIS_DB, required=False)

    url = dashboard_bench.reuse(args.cases)
    if url:
        log(f"using {dashboard_bench.DATABASE} ({args.cases:,} cases)")
        django_on(url)
    elif args.no_build:
        sys.exit(f"{dashboard_bench.DATABASE} does not hold {args.cases:,} cases: build it first")
    else:
        dashboard_bench.build(args.cases)
    results, references = time_pages(args.requests, args.floor_repeats)
    peak = peak_rss_mib()
    log(f"peak RSS of this process (the web tier, in process): {peak:.0f} MiB")
    write_json(
        args.json,
        {
            "cases": args.cases,
            "pages": results,
            "references": references,
            "peak_rss_mib": peak,
            "target_median_ms": TARGET_MEDIAN_MS,
            "target_floor_ratio": TARGET_FLOOR_RATIO,
        },
    )
    print(
        "RESULT "
        + " ".join(
            f"{r['kind'].replace(' ', '_')}[{r['label']}]_median_ms={r['median_ms']:.1f}"
            for r in results
        )
    )
    return 0  # the targets are marked in BENCHMARKS.md, not enforced by the exit status


if __name__ == "__main__":
    sys.exit(main())
