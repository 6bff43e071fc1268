"""Where a case list page's server time goes, phase by phase (a diagnostic, not a target).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/vipcases \
        .venv/bin/python benchmarks/page_phases.py [--cases 1000000] [--requests 30] [URL ...]

It works on the database benchmarks/dashboard_bench.py builds (vipcases_bench_dashboard,
which must already hold --cases cases; `make bench BENCH_ARGS="--keep"` or
`dashboard_bench.py --build-only` leaves one). Each URL (the case list's default tab,
"My cases" and the reference search unless given) is requested through Django's test
Client as the demo caseworker: three warm-up requests, then --requests timed ones. Around
each request, the view's steps are timed by wrapping them in place:

- `selector`: `selectors.case_list_for`, of which `owners` (the people offered in the
  owner filter), `page` (`keyset.page_after`: build, compile and run the page query,
  make the rows' objects) and `count` (the total, when the page does not hold it);
- `context`: `views._case_list_context` (the rows as strings, the filter options);
- `render`: the template;
- `view`: the whole view; the request less the view is the middleware, session and user.

It prints the median of each, in milliseconds of wall time. The SQL of each phase is in
it: pages_bench.py gives the SQL floor.
"""

import argparse
import functools
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import dashboard_bench  # noqa: E402
from benchmarks._setup import django_on, log  # noqa: E402

URLS = ["/cases/", "/cases/?tab=mine", "/cases/?q=PPE-000123"]
WARM_UP = 3


def _timed(owner, name: str, label: str, spent: dict[str, list[float]]) -> None:
    """Replace owner.name by a wrapper adding each call's milliseconds to spent[label]."""
    inner = getattr(owner, name)

    @functools.wraps(inner)
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            spent.setdefault(label, []).append((time.perf_counter() - started) * 1000)

    setattr(owner, name, wrapper)


def phases(urls: list[str], requests: int) -> list[dict]:
    from django.contrib.auth import get_user_model
    from django.db.models import QuerySet
    from django.test import Client

    from vipcases import keyset, selectors, views

    spent: dict[str, list[float]] = {}
    _timed(selectors, "case_list_for", "selector", spent)
    _timed(selectors, "case_owners", "owners", spent)
    _timed(keyset, "page_after", "page", spent)
    _timed(QuerySet, "count", "count", spent)
    _timed(views, "_case_list_context", "context", spent)
    _timed(views, "render", "render", spent)
    _timed(views, "case_list", "view", spent)

    client = Client()
    client.force_login(get_user_model().objects.get(username="caseworker"))
    results = []
    for url in urls:
        for _ in range(WARM_UP):
            client.get(url, secure=True)
        spent.clear()
        totals = []
        for _ in range(requests):
            started = time.perf_counter()
            answer = client.get(url, secure=True)
            totals.append((time.perf_counter() - started) * 1000)
            if answer.status_code != 200:
                raise RuntimeError(f"{url} answered {answer.status_code}")
        row = {"url": url, "request": statistics.median(totals)}
        row.update({label: statistics.median(times) for label, times in spent.items()})
        results.append(row)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("urls", nargs="*", default=URLS)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")  # the test Client's host
    os.environ["REDIS_URL"] = ""  # the cache in process: no Redis round trips in the figures
    url = dashboard_bench.reuse(args.cases)
    if not url:
        sys.exit(f"{dashboard_bench.DATABASE} does not hold {args.cases:,} cases: build it first")
    django_on(url)
    order = ["request", "view", "selector", "owners", "page", "count", "context", "render"]
    for row in phases(args.urls, args.requests):
        log(
            f"{row['url']}: "
            + ", ".join(f"{label} {row[label]:.1f}" for label in order if label in row)
            + " ms (medians)"
        )


if __name__ == "__main__":
    main()
