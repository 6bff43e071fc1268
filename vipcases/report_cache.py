"""The figures that read every case ever received, kept in the cache.

Three parts of the managers' pages aggregate many cases: the fairness report (every
case), the dashboard's median time to decision per queue (every case decided in 30
days) and its intake and clearances for the days before today (every case received or
closed in 29 days; today is counted on each visit). At a million cases they take from a
tenth of a second to two seconds to work out, so they are kept in Django's cache (Redis
when REDIS_URL is set, shared by every web process) and worked out again in the
background every REPORT_REFRESH_SECONDS by `reports_refresh_task` (celery beat), so
managers get them from the cache without waiting. A page that finds nothing in the
cache (no worker, or the first request after a restart) works them out itself and keeps
them; "Work it out again now" (`?refresh=1`) always does.
"""

from datetime import datetime

from django.core.cache import cache
from django.utils import timezone

from vipcases import dashboards, fairness

# Beat works the figures out this often; the cache keeps them a little longer, so a
# late or slow refresh never leaves managers with an empty cache.
REPORT_REFRESH_SECONDS = 4 * 60
REPORT_CACHE_SECONDS = 2 * REPORT_REFRESH_SECONDS
CACHE_PREFIX = "vipcases:dashboards:v2:"

DECISION_TIMES = "decision-times"
FAIRNESS = "fairness"
PAST_DAYS = "past-days"  # the dashboard's intake and clearances before today


def _compute(name: str, now: datetime):
    if name == DECISION_TIMES:
        return dashboards.time_to_decision(now)
    if name == FAIRNESS:
        return fairness.report(now=now)
    if name == PAST_DAYS:
        return dashboards.past_days_counted(now)
    raise KeyError(name)


def cached_figures(name: str, *, refresh: bool) -> tuple[datetime, object]:
    """(worked out at, value): from the cache unless `refresh` or absent, else worked
    out now and kept."""
    key = CACHE_PREFIX + name
    if not refresh:
        found = cache.get(key)
        if found is not None:
            return found
    now = timezone.now()
    found = (now, _compute(name, now))
    cache.set(key, found, REPORT_CACHE_SECONDS)
    return found


def figures_refresh() -> dict[str, datetime]:
    """Work out every cached figure afresh and keep it; returns when each was done."""
    done = {}
    for name in (DECISION_TIMES, FAIRNESS, PAST_DAYS):
        at, _ = cached_figures(name, refresh=True)
        done[name] = at
    return done
