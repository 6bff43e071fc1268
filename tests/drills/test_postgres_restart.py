"""Drill 2: PostgreSQL restarts under a signed-in caseworker.

A caseworker keeps loading /cases/ while the drill stops the database (`pg_ctl stop -m
fast`, which also ends every open connection) and starts it again. While it is down the
web must answer 503 with the "service unavailable" page, quickly, never 500 and never
hang; once it is back the same web processes (no restart) answer 200 again within a few
seconds, the caseworker still signed in, and the worker routes new offers again.
"""

import time

import requests

from tests.drills.invariants import (
    assert_global_invariants,
    assert_submitted_once,
    assert_triaged_exactly_once,
)
from tests.drills.stack import browser, unique_ref, wait_for

DOWN_SECONDS = 2.5
ANSWER_WITHIN = 5  # seconds; the app's connect_timeout is 3
RECOVER_WITHIN = 10


def fetch(session: requests.Session, url: str) -> tuple[int, float, str]:
    started = time.monotonic()
    answer = session.get(url, allow_redirects=False, timeout=ANSWER_WITHIN + 5)
    return answer.status_code, time.monotonic() - started, answer.text


def event_total(stack) -> int:
    return stack.sql("SELECT count(*) FROM vipcases_caseevent")[0][0]


def test_the_web_answers_503_while_postgres_is_down_and_recovers_by_itself(stack):
    session = stack.signed_in("cw.ada")
    cases_url = stack.web.base + "/cases/"
    for _ in range(3):
        status, _, _ = fetch(session, cases_url)
        assert status == 200
    web_pid = stack.web.process.pid
    events_before = event_total(stack)

    stack.postgres.stop("fast")
    answers = []
    deadline = time.monotonic() + DOWN_SECONDS
    while time.monotonic() < deadline:
        answers.append(fetch(session, cases_url))
        answers.append(fetch(browser(), stack.web.base + "/health/"))
    statuses = [status for status, _, _ in answers]
    assert set(statuses) == {503}, f"answers while PostgreSQL was down: {statuses}"
    slowest = max(elapsed for _, elapsed, _ in answers)
    assert slowest < ANSWER_WITHIN, f"an answer took {slowest:.1f} s with the database down"
    assert "Sorry, the service is unavailable" in answers[0][2]

    stack.postgres.start()
    restarted = time.monotonic()
    wait_for(
        lambda: fetch(session, cases_url)[0] == 200,
        RECOVER_WITHIN,
        "/cases/ to answer 200 again without restarting the web",
        interval=0.2,
    )
    recovered_in = time.monotonic() - restarted
    assert recovered_in < RECOVER_WITHIN
    # Still the same gunicorn, and still signed in (sessions live in the database, and a
    # signed-out request would be redirected, not answered 200).
    assert stack.web.process.pid == web_pid and stack.web.is_alive()
    for _ in range(10):  # every web process and thread, not just the first to reconnect
        assert fetch(session, cases_url)[0] == 200
    assert event_total(stack) == events_before, "events were written while nothing changed"
    assert stack.worker.is_alive(), "the Celery worker exited when PostgreSQL restarted"

    # The worker's connections recover too: new offers are scored and routed.
    refs = [unique_ref("pg-after") for _ in range(3)]
    for ref in refs:
        assert stack.submit_offer(ref).status_code == 201
    cases = assert_submitted_once(stack, refs)
    stack.wait_routed(cases.values(), "the worker to route offers sent after the restart")
    stack.wait_broker_idle()
    assert_triaged_exactly_once(stack, cases.values())
    assert_global_invariants(stack)
