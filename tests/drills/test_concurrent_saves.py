"""Drill 4: two people save the same case.

Two signed-in people load the same case page (each form carries the case `version` they
saw) and both submit a change through the live web, first one after the other and then
at the same instant from two threads (two gunicorn workers, two database connections,
one row lock). The second save must be refused with a readable message, never a 500; the
case must show only the first change, with exactly one event for it.
"""

import re
import threading

import requests

from tests.drills.invariants import (
    assert_global_invariants,
    assert_submitted_once,
    event_counts,
)
from tests.drills.stack import csrf_token, unique_ref

CONFLICT = "Someone else changed this case while you were looking at it."
CASEWORK_EVENTS = ("status_changed", "closed", "score_overridden")


def routed_open_cases(stack, n: int) -> list[int]:
    refs = [unique_ref("saves") for _ in range(n)]
    for ref in refs:
        assert stack.submit_offer(ref).status_code == 201
    case_ids = list(assert_submitted_once(stack, refs).values())
    stack.wait_routed(case_ids, "the new offers to be routed")
    closed = stack.sql(
        "SELECT id, queue FROM vipcases_case WHERE id = ANY(%s) AND status <> 'new'", (case_ids,)
    )
    assert not closed, f"expected open cases in a casework queue, got {closed}"
    return case_ids


class Person:
    """One browser: a signed-in session that opens the case page and posts its forms."""

    def __init__(self, stack, username: str):
        self.base = stack.web.base
        self.session = stack.signed_in(username)
        self.form: dict[str, str] = {}

    def open_case(self, case_id: int) -> None:
        page = self.session.get(f"{self.base}/cases/{case_id}/", timeout=10)
        assert page.status_code == 200, page.status_code
        version = re.search(r'name="version" value="(\d+)"', page.text)
        assert version, "no version on the case page's forms"
        self.form = {"csrfmiddlewaretoken": csrf_token(page.text), "version": version.group(1)}

    def post(self, case_id: int, action: str, **fields) -> requests.Response:
        """Submit a form from the page opened earlier; the page it lands on."""
        answer = self.session.post(
            f"{self.base}/cases/{case_id}/{action}/",
            data={**self.form, **fields},
            allow_redirects=False,
            timeout=15,
        )
        assert answer.status_code == 302, f"{action} answered {answer.status_code}"
        landing = self.session.get(self.base + answer.headers["Location"], timeout=10)
        assert landing.status_code == 200, landing.status_code
        return landing


def advance(person, case_id):
    return person.post(case_id, "status", to_status="in_progress", outcome="", rationale="")


def close(person, case_id):
    return person.post(
        case_id,
        "status",
        to_status="closed",
        outcome="withdrawn",
        rationale="The supplier withdrew the offer by telephone.",
    )


def casework_events(stack, case_id: int) -> dict[str, int]:
    counts = event_counts(stack, [case_id])[case_id]
    return {kind: counts[kind] for kind in CASEWORK_EVENTS if counts[kind]}


def case_state(stack, case_id: int) -> tuple:
    return stack.sql(
        "SELECT status, queue, outcome, priority, version FROM vipcases_case WHERE id = %s",
        (case_id,),
    )[0]


def test_the_second_of_two_saves_is_refused_and_nothing_is_overwritten(stack):
    first_case, *raced_cases = routed_open_cases(stack, 4)
    ada, ben = Person(stack, "cw.ada"), Person(stack, "cw.ben")

    # One after the other: Ada moves the case on, then Ben's stale close is refused.
    ada.open_case(first_case)
    ben.open_case(first_case)
    assert "The case is now in progress." in advance(ada, first_case).text
    refused = close(ben, first_case)
    assert CONFLICT in refused.text and "The case is closed" not in refused.text
    status, queue, outcome, _, _ = case_state(stack, first_case)
    assert (status, outcome) == ("in_progress", "") and queue != "closed"
    assert casework_events(stack, first_case) == {"status_changed": 1}

    # Two managers override the same score: the second is refused, the first stands.
    cleo, dev = Person(stack, "mgr.cleo"), Person(stack, "mgr.dev")
    cleo.open_case(first_case)
    dev.open_case(first_case)
    done = cleo.post(first_case, "override", total="42", rationale="Certificate checked.")
    assert "Score overridden" in done.text
    refused = dev.post(first_case, "override", total="77", rationale="Stock seen in UK.")
    assert CONFLICT in refused.text
    assert case_state(stack, first_case)[3] == 42
    assert casework_events(stack, first_case) == {"status_changed": 1, "score_overridden": 1}
    overrides = stack.sql(
        "SELECT count(*) FROM triage_triageassessment WHERE case_id = %s AND is_override",
        (first_case,),
    )[0][0]
    assert overrides == 1

    # At the same instant: two threads, two gunicorn workers, one winner.
    for case_id in raced_cases:
        ada.open_case(case_id)
        ben.open_case(case_id)
        version_seen = case_state(stack, case_id)[4]
        start = threading.Barrier(2)
        pages: dict[str, str] = {}

        def save(name, person, action, case_id=case_id, start=start, pages=pages):
            start.wait()
            pages[name] = action(person, case_id).text

        threads = [
            threading.Thread(target=save, args=("ada", ada, advance)),
            threading.Thread(target=save, args=("ben", ben, close)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert set(pages) == {"ada", "ben"}, "a save did not come back"
        refused_by = [name for name, text in pages.items() if CONFLICT in text]
        assert len(refused_by) == 1, f"expected one refusal, got {refused_by}"
        status, queue, outcome, _, version = case_state(stack, case_id)
        assert version == version_seen + 1
        if refused_by == ["ben"]:
            assert "The case is now in progress." in pages["ada"]
            assert (status, outcome) == ("in_progress", "")
            assert casework_events(stack, case_id) == {"status_changed": 1}
        else:
            assert "The case is closed: withdrawn." in pages["ben"]
            assert (status, queue, outcome) == ("closed", "closed", "withdrawn")
            assert casework_events(stack, case_id) == {"closed": 1}

    assert_global_invariants(stack)
