"""The backlog dashboard: each figure against an independent count, its links against
the case list itself, access by role and a fixed number of queries."""

import statistics
from collections import Counter, defaultdict
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.vipcases.dashboard_data import make_case, now_fixed
from vipcases import dashboards, selectors
from vipcases.codes import EventKind, Outcome, Queue, Status
from vipcases.filters import AGE_BANDS
from vipcases.models import Case, CaseEvent

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def now():
    return now_fixed()


@pytest.fixture
def backlog_cases(now, caseworker, manager):
    """Open cases in every queue, status and age band, owned and not, some past their
    SLA; and cases closed over the last weeks by routing and by people."""
    cases = []
    open_specs = [
        # (queue, status, owner, days open, SLA due in days)
        (Queue.TRIAGE, Status.NEW, None, 0.2, None),
        (Queue.RAPID_RESPONSE, Status.NEW, None, 1.5, 1),
        (Queue.RAPID_RESPONSE, Status.IN_PROGRESS, caseworker, 2.5, -0.5),
        (Queue.RAPID_RESPONSE, Status.TECHNICAL_ASSURANCE, caseworker, 4, -2),
        (Queue.RAPID_RESPONSE, Status.NEGOTIATION, manager, 9, -6),
        (Queue.VIP, Status.IN_PROGRESS, caseworker, 3, 2),
        (Queue.VIP, Status.DUE_DILIGENCE, manager, 7.5, -1),
        (Queue.VIP, Status.AWAITING_APPROVAL, caseworker, 14.5, -9),
        (Queue.VIP, Status.NEW, None, 15, -10),
        (Queue.MP_INBOX, Status.NEW, None, 8, 2),
        (Queue.MP_INBOX, Status.NEW, None, 21, -11),
    ]
    for queue, status, owner, days, sla in open_specs:
        cases.append(
            make_case(
                now=now,
                queue=queue,
                status=status,
                owner=owner,
                opened=timedelta(days=days),
                sla_due=timedelta(days=sla) if sla is not None else None,
                routed_to=queue if queue != Queue.TRIAGE else None,
            )
        )
    closed_specs = [
        # (routed to, days open, days since closed, outcome)
        (Queue.CLOSED, 2, 1.99, Outcome.NOT_PROGRESSED),
        (Queue.CLOSED, 5, 4.9, Outcome.REFERRED_TO_STANDARD_ROUTE),
        (Queue.CLOSED, 40, 39.9, Outcome.REFERRED_TO_STANDARD_ROUTE),  # outside the window
        (Queue.RAPID_RESPONSE, 10, 2, Outcome.CONTRACT_AWARDED),
        (Queue.RAPID_RESPONSE, 12, 3, Outcome.REJECTED),
        (Queue.RAPID_RESPONSE, 20, 5, Outcome.WITHDRAWN),
        (Queue.VIP, 25, 1, Outcome.REJECTED),
        (Queue.VIP, 9, 0.1, Outcome.CONTRACT_AWARDED),
        (Queue.MP_INBOX, 30, 29, Outcome.WITHDRAWN),
        (None, 3, 2.5, Outcome.DUPLICATE),  # closed in triage, never routed
        ((Queue.MP_INBOX, Queue.VIP), 16, 6, Outcome.REJECTED),  # routed twice
    ]
    for routed, days, closed_days, outcome in closed_specs:
        cases.append(
            make_case(
                now=now,
                opened=timedelta(days=days),
                closed=timedelta(days=closed_days),
                outcome=outcome,
                routed_to=routed,
            )
        )
    return cases


def _open():
    return [c for c in Case.objects.all() if c.status != Status.CLOSED]


def _age_days(case, now) -> int:
    return int((now - case.opened_at).total_seconds() // 86400)


def _band_of_age(days: int) -> str:
    for band, (low, high) in AGE_BANDS.items():
        if days >= low and (high is None or days <= high):
            return band
    raise AssertionError(days)


def test_it_counts_open_cases_by_queue_and_status(backlog_cases):
    expected = Counter((c.queue, c.status) for c in _open())

    table = dashboards.open_by_queue_and_status()

    found = {
        (row.queue, status): cell.value
        for row in table.rows
        for (status, _), cell in zip(table.statuses, row.cells, strict=True)
    }
    assert {key: n for key, n in found.items() if n} == dict(expected)
    assert table.total.value == len(_open()) == 11
    assert [t.value for t in table.totals] == [
        sum(n for (_, s), n in expected.items() if s == status) for status, _ in table.statuses
    ]


def test_it_counts_open_cases_in_each_age_band(backlog_cases, now):
    expected = Counter((c.queue, _band_of_age(_age_days(c, now))) for c in _open())

    table = dashboards.ageing(now)

    found = {
        (row.queue, band): figure.value
        for row in table.rows
        for (band, _), figure in zip(table.bands, row.bands, strict=True)
    }
    assert {key: n for key, n in found.items() if n} == dict(expected)
    assert sum(t.value for t in table.totals) == 11


def test_it_counts_intake_and_cleared_per_local_day(backlog_cases, now):
    cases = list(Case.objects.all())
    first = timezone.localdate(now) - timedelta(days=29)
    opened = Counter(timezone.localdate(c.opened_at) for c in cases)
    closed = Counter(timezone.localdate(c.closed_at) for c in cases if c.closed_at)

    flow = dashboards.intake_and_cleared(now, open_now=len(_open()))

    assert [d.day for d in flow.days] == [first + timedelta(days=i) for i in range(30)]
    assert {d.day: d.intake.value for d in flow.days if d.intake.value} == {
        day: n for day, n in opened.items() if day >= first
    }
    assert {d.day: d.cleared.value for d in flow.days if d.cleared.value} == {
        day: n for day, n in closed.items() if day >= first
    }
    # The backlog at the end of each day, counted independently.
    for day in flow.days:
        end = timezone.make_aware(
            timezone.datetime.combine(day.day + timedelta(days=1), timezone.datetime.min.time())
        )
        end = min(end, now)
        expected = sum(
            1 for c in cases if c.opened_at < end and (c.closed_at is None or c.closed_at >= end)
        )
        assert day.open_at_end == expected, day.day
    assert flow.intake == sum(n for day, n in opened.items() if day >= first)
    assert flow.cleared == 10  # not the one closed 39.9 days ago, outside the window
    assert flow.shrinking == (flow.cleared > flow.intake)


def _flow_figures(flow) -> list[tuple]:
    return [(d.day, d.intake.value, d.cleared.value, d.open_at_end) for d in flow.days]


@pytest.mark.parametrize("counted", [timedelta(0), timedelta(days=1)], ids=["today", "yesterday"])
def test_days_counted_earlier_give_the_same_flow_as_counting_every_day(backlog_cases, now, counted):
    """The days before today come from an earlier count (the cache); a count made
    yesterday lacks yesterday itself, which is then counted with today."""
    past = dashboards.past_days_counted(now - counted)
    assert timezone.localdate(now - counted) not in past
    assert len(past) == 29

    open_now = len(_open())
    from_earlier = dashboards.intake_and_cleared(now, open_now=open_now, past=past)
    counted_now = dashboards.intake_and_cleared(now, open_now=open_now)

    assert _flow_figures(from_earlier) == _flow_figures(counted_now)
    assert sum(d.intake.value for d in counted_now.days) > 0


def test_the_page_counts_today_on_every_visit_and_the_days_before_from_the_cache(
    manager, client_for
):
    client = client_for(manager)

    def received(response) -> dict:
        return {d.day: d.intake.value for d in response.context["figures"].flow.days}

    first = client.get("/dashboard/")
    before = received(first)
    counted_at = first.context["past_days_at"]
    moment = timezone.now()
    today, earlier = timezone.localdate(moment), timezone.localdate(moment - timedelta(days=3))
    make_case(now=moment, opened=timedelta(days=3))
    make_case(now=moment, opened=timedelta(seconds=1))

    kept = client.get("/dashboard/")
    assert kept.context["past_days_at"] == counted_at
    assert received(kept)[today] == before[today] + 1
    assert received(kept)[earlier] == before[earlier]  # entered late: not yet counted
    assert "The days before it were counted at" in kept.content.decode()

    fresh = client.get("/dashboard/?refresh=1")
    assert fresh.context["past_days_at"] > counted_at
    assert received(fresh)[earlier] == before[earlier] + 1
    assert received(fresh)[today] == before[today] + 1


def test_it_counts_sla_breaches_per_queue(backlog_cases, now):
    expected = Counter(c.queue for c in _open() if c.sla_due_at and c.sla_due_at < now)

    table = dashboards.sla_breaches(now)

    assert {r.queue: r.breached.value for r in table.rows if r.breached.value} == dict(expected)
    assert table.breached.value == sum(expected.values()) == 7
    assert {r.queue: r.open.value for r in table.rows} == {
        q: sum(1 for c in _open() if c.queue == q) for q in dashboards.OPEN_QUEUES
    }


def test_it_counts_open_cases_per_caseworker(backlog_cases, now, caseworker, manager):
    open_cases = _open()
    owners = [caseworker, manager]

    rows = dashboards.open_per_caseworker(now, owners)

    by_owner = {row.owner_id: row for row in rows}
    for person in (caseworker, manager, None):
        mine = [c for c in open_cases if c.owner_id == (person.pk if person else None)]
        row = by_owner[person.pk if person else None]
        assert row.open.value == len(mine)
        assert row.breached.value == sum(1 for c in mine if c.sla_due_at and c.sla_due_at < now)
        assert row.oldest == min(c.opened_at for c in mine)
    assert rows[-1].name == "Unassigned"
    assert [r.open.value for r in rows[:-1]] == sorted(
        (r.open.value for r in rows[:-1]), reverse=True
    )


def test_it_gives_the_median_time_to_decision_per_queue_routed_to(backlog_cases, now):
    start = dashboards.window_start(now)
    durations = defaultdict(list)
    for case in Case.objects.filter(status=Status.CLOSED):
        if not (start <= case.closed_at <= now):
            continue
        # The latest routing decision counts (a case routed twice, once).
        latest = (
            CaseEvent.objects.filter(case=case, kind=EventKind.ROUTED)
            .order_by("-created_at", "-id")
            .values_list("to_value", flat=True)
            .first()
        )
        durations[latest or Queue.TRIAGE].append(case.closed_at - case.opened_at)

    rows = dashboards.time_to_decision(now)

    found = {row.queue: row for row in rows}
    for queue, values in durations.items():
        assert found[queue].decided.value == len(values)
        assert abs(found[queue].median - statistics.median(values)) < timedelta(seconds=1)
    # The case routed to the MP inbox and then VIP counts under VIP only.
    assert found[Queue.VIP].decided.value == 3
    assert all(found[q].median is None for q in found if q not in durations)


def test_it_links_every_exact_number_to_a_case_list_showing_that_many_cases(
    backlog_cases, now, manager
):
    figures = dashboards.backlog(now=now, owners=selectors.case_owners())
    exact = [
        *[cell for row in figures.queue_status.rows for cell in (*row.cells, row.total)],
        *figures.queue_status.totals,
        figures.queue_status.total,
        *[cell for row in figures.ageing.rows for cell in (*row.bands, row.total)],
        *figures.ageing.totals,
        *[cell for row in figures.sla.rows for cell in (row.open, row.breached)],
        figures.sla.open,
        figures.sla.breached,
        *[cell for row in figures.caseworkers for cell in (row.open, row.breached)],
    ]
    assert all(figure.exact for figure in exact)
    for figure in exact:
        path, _, query = figure.href.partition("?")
        assert path == "/cases/"
        page = selectors.case_list_for(manager, QueryDict(query), now=now)
        assert page.total == figure.value, figure.href


def test_it_links_with_the_case_list_parameters(backlog_cases, now, caseworker):
    figures = dashboards.backlog(now=now)
    vip = next(r for r in figures.queue_status.rows if r.queue == Queue.VIP)
    assert vip.cells[0].href == "/cases/?queue=vip&status=new"
    assert vip.total.href == "/cases/?queue=vip"
    assert figures.queue_status.total.href == "/cases/"
    ageing_vip = next(r for r in figures.ageing.rows if r.queue == Queue.VIP)
    assert ageing_vip.bands[3].href == "/cases/?queue=vip&age=15%2B"
    assert figures.sla.breached.href == "/cases/?sla_breached=yes"
    mine = next(r for r in figures.caseworkers if r.owner_id == caseworker.pk)
    assert mine.open.href == f"/cases/?owner={caseworker.pk}"
    assert mine.breached.href == f"/cases/?owner={caseworker.pk}&sla_breached=yes"
    assert figures.caseworkers[-1].open.href == "/cases/?owner=unassigned"
    # No filter for a day or for the queue a closed case was routed to: the nearest list.
    today = figures.flow.days[-1]
    assert today.intake.href == "/cases/?age=0-2&sort=newest" and not today.intake.exact
    assert today.cleared.href == "/cases/?tab=closed&sort=newest" and not today.cleared.exact
    assert all(r.decided.href == "/cases/?tab=closed" for r in figures.decisions)


@pytest.mark.parametrize("who", ["caseworker", "mp_inbox_officer", "outsider"])
def test_it_refuses_everyone_but_managers(who, request, client_for):
    client = client_for(request.getfixturevalue(who))
    assert client.get("/dashboard/").status_code == 403


def test_it_sends_strangers_to_sign_in(client):
    response = client.get("/dashboard/")
    assert response.status_code == 302
    assert response["Location"].startswith("/sign-in/")


def test_it_shows_the_dashboard_to_a_manager(backlog_cases, manager, client_for):
    response = client_for(manager).get("/dashboard/")

    assert response.status_code == 200
    html = response.content.decode()
    for heading in (
        "Open cases by queue and status",
        "How long open cases have waited",
        "Received against cleared",
        "Service level breaches",
        "Open cases per caseworker",
        "Time to decision",
    ):
        assert heading in html
    assert html.count('<svg class="app-chart__svg"') == 6
    assert html.count('role="img" aria-labelledby="chart-') == 6
    assert 'href="/cases/?queue=vip&amp;status=new"' in html
    assert "<script>" not in html and '<script type="text/javascript">' not in html
    for export in (
        "cases.csv",
        "cases.xlsx",
        "transparency-register.csv",
        "awarded-contracts.json",
    ):
        assert f"/dashboard/export/{export}" in html


def _queries_for(client, url) -> int:
    cache.clear()
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


def test_it_runs_the_same_number_of_queries_whatever_the_number_of_cases(
    now, manager, caseworker, client_for
):
    client = client_for(manager)
    make_case(now=now, queue=Queue.VIP, owner=caseworker, routed_to=Queue.VIP)
    few = _queries_for(client, "/dashboard/")
    for days in range(1, 8):
        make_case(
            now=now,
            queue=Queue.RAPID_RESPONSE,
            status=Status.IN_PROGRESS,
            owner=caseworker,
            opened=timedelta(days=days),
            sla_due=timedelta(days=-1),
            roles=("mp",),
            routed_to=Queue.RAPID_RESPONSE,
        )
        make_case(
            now=now,
            opened=timedelta(days=days + 3),
            closed=timedelta(days=days),
            outcome=Outcome.REJECTED,
            routed_to=Queue.VIP,
        )
    assert _queries_for(client, "/dashboard/") == few


def test_it_keeps_the_decision_times_until_asked_to_work_them_out_again(
    backlog_cases, now, manager, client_for
):
    client = client_for(manager)
    first = client.get("/dashboard/").context["figures"].decisions
    make_case(
        now=now,
        opened=timedelta(days=3),
        closed=timedelta(days=1),
        outcome=Outcome.REJECTED,
        routed_to=Queue.RAPID_RESPONSE,
    )

    kept = client.get("/dashboard/").context["figures"].decisions
    fresh = client.get("/dashboard/?refresh=1").context["figures"].decisions

    def decided(rows, queue):
        return next(r for r in rows if r.queue == queue).decided.value

    assert decided(kept, Queue.RAPID_RESPONSE) == decided(first, Queue.RAPID_RESPONSE)
    assert decided(fresh, Queue.RAPID_RESPONSE) == decided(first, Queue.RAPID_RESPONSE) + 1
