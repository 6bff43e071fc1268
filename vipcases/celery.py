"""The Celery app: `celery -A vipcases worker` and `celery -A vipcases beat`.

With no REDIS_URL, tasks run in process (CELERY_TASK_ALWAYS_EAGER), which is the
embedded demo default. Every periodic schedule lives here, in one place.
"""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vipcases.settings")

app = Celery("vipcases")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    # Cases whose task was lost while the broker was down are scored and routed here.
    "triage-sweep": {"task": "triage.tasks.triage_sweep_task", "schedule": 60.0},
    # Background jobs whose worker died resume from their last committed batch.
    "jobs-resume": {"task": "vipcases.tasks.jobs_resume_task", "schedule": 60.0},
    "sla-breaches": {"task": "vipcases.tasks.sla_breaches_task", "schedule": 15 * 60.0},
    # The figures that read every case (fairness report, times to decision), kept warm
    # in the cache; the interval is vipcases.report_cache.REPORT_REFRESH_SECONDS.
    "reports-refresh": {"task": "vipcases.tasks.reports_refresh_task", "schedule": 4 * 60.0},
    # Rows past their retention (vipcases/housekeeping.py), daily at 03:30 London time:
    # quiet, and clear of the hour the clocks change.
    "housekeeping": {
        "task": "vipcases.tasks.housekeeping_task",
        "schedule": crontab(hour=3, minute=30),
    },
}
