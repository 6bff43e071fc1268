"""The fairness report: Fisher's exact test on known tables, each figure against an
independent count, the warning only when introduced offers do better at the same score,
rationale share, overrides and moves, access and a fixed number of queries."""

import math
import random
import statistics
from collections import Counter, defaultdict
from datetime import timedelta
from fractions import Fraction

import pytest
from django.core.cache import cache
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext

from tests.vipcases.dashboard_data import make_case, now_fixed
from triage.models import TriageAssessment
from triage.services import score_override
from vipcases import fairness, selectors, services
from vipcases.codes import EventKind, Outcome, Queue, Status
from vipcases.events import event_append, events_append
from vipcases.models import Case, CaseEvent

pytestmark = pytest.mark.django_db

# Written out again here, not imported, so the test counts independently.
SENIORITY = ["minister", "peer", "senior_official", "mp", "other"]
BANDS = {
    "0-39": range(0, 40),
    "40-59": range(40, 60),
    "60-79": range(60, 80),
    "80-100": range(80, 101),
}


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def now():
    return now_fixed()


# --- Fisher's exact test ------------------------------------------------------------------


def fisher_by_enumeration(a, b, c, d) -> float:
    """Two-sided Fisher p-value by listing every table with these margins, in exact
    fractions (R's rule: tables at most as likely as the observed one)."""
    row1, col1, n = a + b, a + c, a + b + c + d
    tables = {
        k: Fraction(math.comb(col1, k) * math.comb(n - col1, row1 - k), math.comb(n, row1))
        for k in range(max(0, row1 + col1 - n), min(row1, col1) + 1)
    }
    observed = tables[a] * Fraction(10**7 + 1, 10**7)
    return float(sum(p for p in tables.values() if p <= observed))


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        # Fisher's lady tasting tea: 34/70.
        ((3, 1, 1, 3), 0.4857142857142857),
        # SciPy's documented example, fisher_exact([[6, 2], [1, 4]]): 132/1287.
        ((6, 2, 1, 4), 0.10256410256410256),
        # Identical rows: nothing to see.
        ((5, 5, 5, 5), 1.0),
        ((10, 0, 0, 10), 2 / math.comb(20, 10)),
        ((0, 0, 4, 7), 1.0),
    ],
)
def test_it_gives_known_fisher_p_values(table, expected):
    assert fairness.fisher_exact(*table) == pytest.approx(expected, rel=1e-9)


def test_it_agrees_with_fisher_by_enumeration_on_many_tables():
    rng = random.Random(2020)
    for _ in range(400):
        table = [rng.randint(0, 30) for _ in range(4)]
        assert fairness.fisher_exact(*table) == pytest.approx(
            fisher_by_enumeration(*table), rel=1e-9, abs=1e-15
        ), table


def test_it_is_exact_and_fast_on_large_tables():
    # 250,000 decided cases in a band: a large difference is overwhelming, none is not.
    assert fairness.fisher_exact(12_000, 38_000, 20_000, 180_000) < 1e-100
    assert fairness.fisher_exact(10_000, 40_000, 40_000, 160_000) == pytest.approx(1.0, abs=1e-6)
    assert fairness.fisher_exact(21, 79, 200, 800) == pytest.approx(
        fisher_by_enumeration(21, 79, 200, 800), rel=1e-9
    )


# --- the figures ----------------------------------------------------------------------------


@pytest.fixture
def fairness_cases(now):
    """Cases in three bands, not introduced and introduced by each role (one by a
    minister and an MP together), decided or open, routed to various queues."""
    specs = [
        # (priority, roles, routed to, closed days ago or None, outcome, days open)
        (25, (), Queue.CLOSED, 0.9, Outcome.NOT_PROGRESSED, 1),
        (30, ("mp",), Queue.MP_INBOX, 2, Outcome.WITHDRAWN, 6),
        (45, (), Queue.CLOSED, 3, Outcome.REFERRED_TO_STANDARD_ROUTE, 3.1),
        (50, (), Queue.CLOSED, 4, Outcome.REFERRED_TO_STANDARD_ROUTE, 4.2),
        (55, ("peer",), Queue.VIP, 1, Outcome.CONTRACT_AWARDED, 9),
        (58, ("minister", "mp"), Queue.VIP, 2, Outcome.REJECTED, 12),
        (41, ("senior_official",), Queue.VIP, None, "", 5),
        (65, (), Queue.RAPID_RESPONSE, 1, Outcome.CONTRACT_AWARDED, 6),
        (72, (), Queue.RAPID_RESPONSE, 2, Outcome.REJECTED, 8),
        (75, (), Queue.RAPID_RESPONSE, None, "", 3),
        (78, ("mp",), Queue.RAPID_RESPONSE, 3, Outcome.CONTRACT_AWARDED, 10),
        (61, ("other",), Queue.MP_INBOX, 5, Outcome.WITHDRAWN, 15),
        (70, ("minister",), (Queue.MP_INBOX, Queue.RAPID_RESPONSE), 1, Outcome.CONTRACT_AWARDED, 4),
        (85, ("mp", "other"), Queue.RAPID_RESPONSE, None, "", 2),
    ]
    cases = [
        make_case(
            now=now,
            priority=priority,
            roles=roles,
            routed_to=routed,
            queue=routed if isinstance(routed, str) and routed != Queue.CLOSED else Queue.VIP,
            status=Status.IN_PROGRESS,
            opened=timedelta(days=opened),
            closed=timedelta(days=closed) if closed is not None else None,
            outcome=outcome,
        )
        for priority, roles, routed, closed, outcome, opened in specs
    ]
    make_case(now=now, eligible=None, priority=0)  # not scored yet: left out
    return cases


def _band(priority: int) -> str:
    return next(band for band, scores in BANDS.items() if priority in scores)


def _route(case: Case) -> str:
    roles = {i.introducer.role for i in case.offer.introductions.all()}
    return next((role for role in SENIORITY if role in roles), "none")


def _independent_figures():
    groups = defaultdict(lambda: {"cases": 0, "decided": 0, "awarded": 0, "seconds": []})
    routing = Counter()
    for case in Case.objects.filter(eligible__isnull=False).select_related("offer"):
        band, route = _band(case.priority), _route(case)
        keys = [(band, route)] + ([(band, "introduced")] if route != "none" else [])
        for key in keys:
            groups[key]["cases"] += 1
            if case.status == Status.CLOSED:
                groups[key]["decided"] += 1
                groups[key]["seconds"].append((case.closed_at - case.opened_at).total_seconds())
            groups[key]["awarded"] += case.outcome == Outcome.CONTRACT_AWARDED
            # The queue of the case's latest routing decision, if it has been routed.
            latest = (
                CaseEvent.objects.filter(case=case, kind=EventKind.ROUTED)
                .order_by("-created_at", "-id")
                .first()
            )
            if latest is not None:
                routing[(*key, latest.to_value)] += 1
    return groups, routing


def test_it_counts_every_band_and_route_like_an_independent_count(fairness_cases):
    groups, routing = _independent_figures()

    report = fairness.report()

    seen = 0
    for band in report.bands:
        for row in band.rows:
            expected = groups.get((band.key, row.route))
            if expected is None:
                assert row.cases.value == 0, (band.key, row.route)
                continue
            seen += 1
            assert row.cases.value == expected["cases"], (band.key, row.route)
            assert row.decided.value == expected["decided"], (band.key, row.route)
            assert row.awarded.value == expected["awarded"], (band.key, row.route)
            if expected["seconds"]:
                assert row.median_seconds == pytest.approx(
                    statistics.median(expected["seconds"]), abs=1
                ), (band.key, row.route)
            else:
                assert row.median_seconds is None
            total = sum(n for (b, r, _), n in routing.items() if (b, r) == (band.key, row.route))
            for share in row.routed:
                count = routing.get((band.key, row.route, share.queue), 0)
                assert share.count == count
                assert share.share == (count / total if total else None)
    assert seen == len(groups)


def test_it_counts_a_case_with_several_introducers_under_the_most_senior(fairness_cases):
    report = fairness.report()

    band = next(b for b in report.bands if b.key == "40-59")
    by_route = {row.route: row for row in band.rows}
    assert by_route["minister"].cases.value == 1  # introduced by a minister and an MP
    assert by_route["mp"].cases.value == 0
    assert by_route["introduced"].cases.value == 3


def test_it_leaves_out_cases_not_yet_scored(fairness_cases):
    report = fairness.report()

    total = sum(band.rows[0].cases.value + band.rows[1].cases.value for band in report.bands)
    assert total == Case.objects.filter(eligible__isnull=False).count() == 14


def test_it_links_decided_cases_to_the_closed_tab_with_the_band_and_route(fairness_cases, manager):
    report = fairness.report()

    for band in report.bands:
        for row in band.rows:
            if not row.decided.exact:
                continue
            path, _, query = row.decided.href.partition("?")
            assert path == "/cases/"
            page = selectors.case_list_for(manager, QueryDict(query))
            assert page.total == row.decided.value, row.decided.href
    band = next(b for b in report.bands if b.key == "60-79")
    assert band.rows[0].decided.href == "/cases/?tab=closed&score=60-79&introducer_role=none"
    assert band.rows[1].decided.href == (
        "/cases/?tab=closed&score=60-79&introducer_role=minister&introducer_role=peer"
        "&introducer_role=senior_official&introducer_role=mp&introducer_role=other"
    )
    assert band.rows[0].cases.href == "/cases/?score=60-79&introducer_role=none"
    assert not band.rows[0].cases.exact and not band.rows[0].awarded.exact


# --- the warning ------------------------------------------------------------------------------


def _band_of(now, *, introduced: tuple[int, int], others: tuple[int, int], priority=85):
    """Decided cases in one band: (awarded, not awarded) introduced and not."""
    for roles, (awarded, lost) in ((("peer",), introduced), ((), others)):
        for outcome, n in ((Outcome.CONTRACT_AWARDED, awarded), (Outcome.REJECTED, lost)):
            for _ in range(n):
                make_case(
                    now=now,
                    priority=priority,
                    roles=roles,
                    routed_to=Queue.RAPID_RESPONSE,
                    opened=timedelta(days=5),
                    closed=timedelta(days=1),
                    outcome=outcome,
                )


def test_it_warns_when_introduced_offers_win_more_often_at_the_same_score(now):
    _band_of(now, introduced=(9, 1), others=(1, 9))

    report = fairness.report()

    band = next(b for b in report.bands if b.key == "80-100")
    assert band.rows[1].p_value == pytest.approx(fisher_by_enumeration(9, 1, 1, 9))
    assert band.rows[1].converts_better
    assert {(w.band, w.route) for w in report.warnings} == {
        ("80-100", "introduced"),
        ("80-100", "peer"),
    }
    assert "introduced offers were awarded a contract more often" in report.warnings[0].text
    assert "90% of 10 decided, against 10% of 10" in report.warnings[0].text


def test_it_does_not_warn_when_others_win_more_often(now):
    _band_of(now, introduced=(1, 9), others=(9, 1))

    report = fairness.report()

    assert report.warnings == []
    band = next(b for b in report.bands if b.key == "80-100")
    assert band.rows[1].p_value < 0.05 and not band.rows[1].converts_better


def test_it_does_not_warn_on_a_difference_chance_explains(now):
    _band_of(now, introduced=(3, 2), others=(2, 3))

    report = fairness.report()

    assert report.warnings == []
    assert next(b for b in report.bands if b.key == "80-100").rows[1].p_value == pytest.approx(1.0)


def test_it_shows_the_warning_on_the_page(now, manager, client_for):
    _band_of(now, introduced=(9, 1), others=(1, 9))

    html = client_for(manager).get("/dashboard/fairness/").content.decode()

    assert "govuk-warning-text" in html
    assert "At the same score, who introduced an offer must make no difference" in html


def test_it_says_so_when_there_is_nothing_to_warn_about(now, manager, client_for):
    _band_of(now, introduced=(2, 8), others=(2, 8))

    html = client_for(manager).get("/dashboard/fairness/").content.decode()

    assert "In no score band did introduced offers" in html
    assert "At the same score, who introduced" not in html


# --- rationale, overrides and moves -----------------------------------------------------------


def test_it_counts_decisions_with_and_without_a_rationale(fairness_cases, now):
    case = fairness_cases[0]
    events_append(
        [
            CaseEvent(case=case, kind=EventKind.CLOSED, rationale="Closed: samples failed."),
            CaseEvent(case=case, kind=EventKind.CLOSED, rationale=""),
            CaseEvent(case=case, kind=EventKind.NOTE, rationale=""),  # not a decision
        ]
    )
    expected = Counter()
    explained = Counter()
    for event in CaseEvent.objects.filter(kind__in=list(fairness.DECISION_KINDS)):
        expected[event.kind] += 1
        explained[event.kind] += bool(event.rationale)

    rows = fairness.decisions_with_rationale()

    assert {r.kind: r.decisions for r in rows if r.decisions} == dict(expected)
    assert {r.kind: r.with_rationale for r in rows if r.decisions} == dict(explained)
    closed = next(r for r in rows if r.kind == EventKind.CLOSED)
    assert (closed.decisions, closed.with_rationale) == (2, 1)


def test_it_lists_score_overrides_and_manual_moves_with_their_reasons(now, manager, client_for):
    case = make_case(now=now, queue=Queue.VIP, status=Status.IN_PROGRESS, routed_to=Queue.VIP)
    TriageAssessment.objects.create(
        case=case,
        total=55,
        automatic_total=55,
        components=[],
        flags=[],
        eligible=True,
        ineligible_reasons=[],
        policy_version="test",
        inputs={},
    )
    score_override(
        case_id=case.pk,
        total=80,
        rationale="Clinical lead: stock is in the UK.",
        acting_user=manager,
    )
    services.case_move(
        case_id=case.pk,
        to_queue=Queue.RAPID_RESPONSE,
        acting_user=manager,
        rationale="The trust needs these this week.",
    )
    # A move made by applying a routing policy names its job: not a manual move.
    event_append(
        CaseEvent(
            case=case,
            kind=EventKind.MOVED,
            from_value=Queue.RAPID_RESPONSE,
            to_value=Queue.VIP,
            rationale="Routing policy version 2 applied.",
            data={"policy_version": 2, "job_id": 1},
        )
    )

    report = fairness.report()

    assert report.override_count == 1 and report.move_count == 1
    assert [e.rationale for e in report.overrides] == ["Clinical lead: stock is in the UK."]
    assert [(e.from_value, e.to_value, e.rationale) for e in report.moves] == [
        (Queue.VIP, Queue.RAPID_RESPONSE, "The trust needs these this week.")
    ]
    html = client_for(manager).get("/dashboard/fairness/?refresh=1").content.decode()
    assert "Clinical lead: stock is in the UK." in html
    assert "The trust needs these this week." in html
    assert "Routing policy version 2 applied." not in html


# --- the page ---------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["caseworker", "mp_inbox_officer", "outsider"])
def test_it_refuses_everyone_but_managers(who, request, client_for):
    client = client_for(request.getfixturevalue(who))
    assert client.get("/dashboard/fairness/").status_code == 403


def test_it_shows_the_report(fairness_cases, manager, client_for):
    response = client_for(manager).get("/dashboard/fairness/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Score 60 to 79" in html and "Fisher" in html
    assert '<svg class="app-chart__svg"' in html
    assert 'href="/cases/?tab=closed&amp;score=60-79&amp;introducer_role=none"' in html
    assert "/dashboard/export/transparency-register.csv" in html


def test_it_runs_the_same_number_of_queries_whatever_the_number_of_cases(now, manager, client_for):
    client = client_for(manager)
    _band_of(now, introduced=(1, 1), others=(1, 1))

    def queries() -> int:
        cache.clear()
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/dashboard/fairness/").status_code == 200
        return len(captured.captured_queries)

    few = queries()
    _band_of(now, introduced=(4, 3), others=(2, 6), priority=45)
    _band_of(now, introduced=(2, 2), others=(3, 1), priority=65)
    assert queries() == few
