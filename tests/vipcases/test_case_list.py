"""The case list `/cases/`: tabs, filters, text search, sort, keyset pages, query count."""

import html
import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.urls import set_script_prefix
from django.utils import timezone

from tests import factories
from vipcases import selectors
from vipcases.codes import Queue, Status
from vipcases.filters import SORTS, CaseFilter, ListQuery, tabs_for
from vipcases.keyset import Ordering
from vipcases.models import Case, MPEnquiry

pytestmark = pytest.mark.django_db

ROW = re.compile(r'<th scope="row"[^>]*><a class="govuk-link" href="/cases/\d+/">(PPE-\d+)</a>')


def put(case, **fields) -> Case:
    """Set fields directly, to place a case where a test needs it."""
    Case.objects.filter(pk=case.pk).update(**fields)
    case.refresh_from_db()
    return case


def open_case(queue=Queue.RAPID_RESPONSE, status=Status.NEW, **kwargs) -> Case:
    """A case through the real services, then put in an open queue and status (some
    products route to closed, which the default tab leaves out)."""
    return put(factories.case(**kwargs), queue=queue, status=status, outcome="", closed_at=None)


def refs(response) -> list[str]:
    assert response.status_code == 200, response.status_code
    return ROW.findall(response.text)


def link(response, rel: str) -> str | None:
    found = re.search(rf'href="([^"]+)" rel="{rel}"', response.text)
    return html.unescape(found.group(1)) if found else None


def listing(client, query: str = "") -> list[str]:
    return refs(client.get(f"/cases/{query}"))


@pytest.fixture
def client(client_for, caseworker):
    return client_for(caseworker)


# --- default order and tabs -------------------------------------------------------------


def test_it_lists_open_cases_in_work_order_score_then_age(client):
    now = timezone.now()
    low = put(open_case(), priority=40, opened_at=now - timedelta(days=9))
    high = put(open_case(), priority=90, opened_at=now - timedelta(days=1))
    older = put(open_case(), priority=40, opened_at=now - timedelta(days=10))
    put(open_case(), queue=Queue.CLOSED, status=Status.CLOSED, priority=99)
    assert listing(client) == [high.reference, older.reference, low.reference]


def test_it_shows_the_tabs_a_caseworker_may_see_with_the_current_one_marked(client):
    page = client.get("/cases/?tab=vip").text
    tabs = re.findall(r'class="moj-sub-navigation__link" href="([^"]+)"([^>]*)>([^<]+)</a>', page)
    assert [label for _, _, label in tabs] == [
        "Open cases",
        "My cases",
        "Unassigned",
        "Triage",
        "VIP",
        "Rapid Response",
        "MP inbox",
        "Closed",
    ]
    assert [label for _, attrs, label in tabs if 'aria-current="page"' in attrs] == ["VIP"]
    assert page.count("<h1") == 1


def test_the_mp_inbox_team_has_tabs_only_for_its_queue_and_its_closed_cases(
    client_for, mp_inbox_officer
):
    page = client_for(mp_inbox_officer).get("/cases/").text
    labels = re.findall(r'class="moj-sub-navigation__link" href="[^"]+"[^>]*>([^<]+)</a>', page)
    assert labels == ["Open cases", "MP inbox", "Closed"]


def test_my_cases_and_unassigned_tabs(client, caseworker, manager):
    mine = put(open_case(), owner=caseworker)
    theirs = put(open_case(), owner=manager)
    nobodys = open_case()
    assert listing(client, "?tab=mine") == [mine.reference]
    assert listing(client, "?tab=unassigned") == [nobodys.reference]
    assert theirs.reference in listing(client)


def test_the_closed_tab_lists_closed_cases(client):
    put(open_case(), priority=80)
    closed = put(open_case(), queue=Queue.CLOSED, status=Status.CLOSED)
    assert listing(client, "?tab=closed") == [closed.reference]


# --- access ---------------------------------------------------------------------------


def test_filters_never_widen_what_the_mp_inbox_team_sees(client_for, mp_inbox_officer):
    vip = open_case(queue=Queue.VIP, name="Vipline Supplies Ltd")
    inbox = open_case(queue=Queue.MP_INBOX)
    enquired = open_case(queue=Queue.VIP, name="Asked About Ltd")
    MPEnquiry.objects.create(
        case=enquired, mp_name="A. Member", received_at=timezone.now(), question="Any news?"
    )
    client = client_for(mp_inbox_officer)

    assert set(listing(client)) == {inbox.reference, enquired.reference}
    # A VIP case is not shown by asking for the VIP queue: only the one with an enquiry.
    assert listing(client, "?queue=vip") == [enquired.reference]
    assert listing(client, f"?q={vip.reference}") == []
    assert listing(client, "?q=Vipline") == []
    # Nor by asking for a tab the role does not have.
    response = client.get("/cases/?tab=vip")
    assert refs(response) == []
    assert "Choose a list you can see" in response.text


def test_someone_without_a_role_is_refused_the_list(client_for, outsider):
    assert client_for(outsider).get("/cases/?queue=vip").status_code == 403


# --- each filter ----------------------------------------------------------------------


def test_it_filters_by_queue(client):
    vip = open_case(queue=Queue.VIP)
    open_case(queue=Queue.RAPID_RESPONSE)
    triage = open_case(queue=Queue.TRIAGE)
    assert set(listing(client, "?queue=vip&queue=triage")) == {vip.reference, triage.reference}


def test_it_filters_by_status(client):
    new = open_case(status=Status.NEW)
    open_case(status=Status.NEGOTIATION)
    checking = open_case(status=Status.DUE_DILIGENCE)
    assert set(listing(client, "?status=new&status=due_diligence")) == {
        new.reference,
        checking.reference,
    }


def test_it_filters_by_owner_or_unassigned(client, caseworker):
    owned = put(open_case(), owner=caseworker)
    unowned = open_case()
    assert listing(client, f"?owner={caseworker.pk}") == [owned.reference]
    assert listing(client, "?owner=unassigned") == [unowned.reference]


def test_it_filters_by_product_category(client):
    gowns = open_case(
        lines=[
            factories.line(),
            factories.line(category="gown", description="Gown", standards=["EN 13795"]),
        ]
    )
    open_case()
    assert listing(client, "?category=gown") == [gowns.reference]
    assert len(listing(client, "?category=gown&category=ffp3_respirator")) == 2


def test_it_filters_by_score_band(client):
    cases = {score: put(open_case(), priority=score) for score in (0, 39, 40, 59, 60, 80, 100)}
    assert listing(client, "?score=0-39") == [cases[39].reference, cases[0].reference]
    assert listing(client, "?score=40-59") == [cases[59].reference, cases[40].reference]
    assert listing(client, "?score=80-100&score=60-79") == [
        cases[100].reference,
        cases[80].reference,
        cases[60].reference,
    ]


def test_it_filters_by_age_band(client):
    now = timezone.now()
    ages = {
        2: now - timedelta(days=2, hours=20),
        3: now - timedelta(days=3, hours=1),
        7: now - timedelta(days=7, hours=23),
        8: now - timedelta(days=8, hours=1),
        15: now - timedelta(days=15, hours=1),
        40: now - timedelta(days=40),
    }
    cases = {age: put(open_case(), opened_at=opened) for age, opened in ages.items()}
    assert listing(client, "?age=0-2") == [cases[2].reference]
    assert set(listing(client, "?age=3-7")) == {cases[3].reference, cases[7].reference}
    assert listing(client, "?age=8-14") == [cases[8].reference]
    assert set(listing(client, "?age=15%2B")) == {cases[15].reference, cases[40].reference}


def test_it_filters_by_sla_breached(client):
    now = timezone.now()
    late = put(open_case(), sla_due_at=now - timedelta(hours=1))
    on_time = put(open_case(), sla_due_at=now + timedelta(days=1))
    unset = put(open_case(), sla_due_at=None)
    closed_late = put(
        open_case(), queue=Queue.CLOSED, status=Status.CLOSED, sla_due_at=now - timedelta(days=1)
    )
    assert listing(client, "?sla_breached=yes") == [late.reference]
    assert set(listing(client, "?sla_breached=no")) == {on_time.reference, unset.reference}
    assert listing(client, "?tab=closed&sla_breached=no") == [closed_late.reference]


def test_it_filters_by_introducer_role_or_none(client):
    by_mp = open_case(introductions=[factories.introduction(role="mp")])
    by_minister = open_case(
        introductions=[factories.introduction(name="B. Minister", role="minister", office="")]
    )
    direct = open_case()
    assert listing(client, "?introducer_role=mp") == [by_mp.reference]
    assert listing(client, "?introducer_role=none") == [direct.reference]
    assert set(listing(client, "?introducer_role=minister&introducer_role=none")) == {
        by_minister.reference,
        direct.reference,
    }


def test_filters_combine(client, caseworker):
    wanted = put(open_case(queue=Queue.VIP), owner=caseworker, priority=85)
    put(open_case(queue=Queue.VIP), priority=85)
    put(open_case(queue=Queue.RAPID_RESPONSE), owner=caseworker, priority=85)
    put(open_case(queue=Queue.VIP), owner=caseworker, priority=20)
    assert listing(client, f"?queue=vip&owner={caseworker.pk}&score=80-100") == [wanted.reference]


# --- text search ------------------------------------------------------------------------


def test_it_searches_supplier_names(client):
    found = open_case(name="Kingfisher Healthcare Group Ltd")
    open_case(name="Saltmarsh Medical Ltd")
    assert listing(client, "?q=kingFISHER") == [found.reference]
    assert listing(client, "?q=healthcare+group") == [found.reference]


def test_it_searches_company_numbers_from_the_start(client):
    found = open_case(company_number="SC123456")
    open_case(company_number="09912345")
    assert listing(client, "?q=sc1234") == [found.reference]
    assert listing(client, "?q=SC123456") == [found.reference]
    assert listing(client, "?q=123456") == []


def test_a_search_combines_names_numbers_and_references_within_the_tab(client):
    first = open_case(name="Heron Medical Ltd", company_number="07000001")
    second = open_case(name="Grey Heron Supplies Ltd", company_number="07000002")
    closed = open_case(name="Heron Closed Ltd", queue=Queue.CLOSED, status=Status.CLOSED)
    by_number = open_case(name="Numbered Ltd", company_number=f"{first.pk}99")
    open_case(name="Egret Ltd", company_number="08000001")
    assert sorted(listing(client, "?q=heron")) == sorted([first.reference, second.reference])
    assert listing(client, "?q=heron&tab=closed") == [closed.reference]
    assert sorted(listing(client, f"?q={first.pk}")) == sorted(
        [first.reference, by_number.reference]
    )
    assert listing(client, "?q=07000002") == [second.reference]
    assert listing(client, "?q=nothing+like+it") == []


def test_it_finds_a_case_by_its_reference(client):
    wanted = open_case(name="Wanted Ltd", company_number="SC000001")
    open_case(name="Other Ltd", company_number="SC000002")
    number = wanted.pk
    assert listing(client, f"?q={wanted.reference}") == [wanted.reference]
    assert listing(client, f"?q=ppe-{number}") == [wanted.reference]
    assert listing(client, f"?q={number}") == [wanted.reference]
    assert listing(client, "?q=PPE-999999") == []


# --- the URL and errors -------------------------------------------------------------------


def test_it_shows_unknown_values_as_form_errors_not_a_server_error(client):
    open_case()
    for query in (
        "?status=bogus",
        "?score=1-2",
        "?age=ancient",
        "?owner=999999",
        "?sort=random",
        "?tab=nowhere",
        "?sla_breached=maybe",
        "?introducer_role=king",
        "?category=sandbags",
        "?q=" + "x" * 101,
    ):
        response = client.get("/cases/" + query)
        assert response.status_code == 200, query
        assert "govuk-error-summary" in response.text, query
        assert "There is a problem" in response.text, query
        assert refs(response) == [], query
        assert response.text.count("<title>Error: ") == 1, query


def test_an_empty_form_submission_redirects_to_a_url_with_only_the_choices(client):
    response = client.get("/cases/?tab=&q=&queue=vip&owner=&sla_breached=&sort=work")
    assert response.status_code == 302
    assert response.url == "/cases/?queue=vip"


def test_selected_filters_are_tags_linking_to_the_list_without_them(client):
    open_case()
    page = client.get("/cases/?tab=vip&status=new&status=negotiation&q=acme").text
    tags = dict(
        (html.unescape(text.strip()), html.unescape(href))
        for href, text in re.findall(
            r'<a class="moj-filter__tag" href="([^"]+)"><span class="govuk-visually-hidden">'
            r"Remove this filter:</span>([^<]+)</a>",
            page,
        )
    )
    assert tags == {
        "New": "/cases/?tab=vip&status=negotiation&q=acme",
        "Negotiation": "/cases/?tab=vip&status=new&q=acme",
        "“acme”": "/cases/?tab=vip&status=new&status=negotiation",
    }
    assert 'href="/cases/?tab=vip">Clear filters</a>' in page


# --- sorting and keyset pages ---------------------------------------------------------------


def _expected_order(sort: str) -> list[str]:
    cases = list(Case.objects.exclude(status=Status.CLOSED).select_related("offer__supplier"))
    far = timezone.now() + timedelta(days=10_000)
    keys = {
        "work": lambda c: (-c.priority, c.opened_at, c.pk),
        "oldest": lambda c: (c.opened_at, c.pk),
        "newest": lambda c: (-c.opened_at.timestamp(), -c.pk),
        "sla": lambda c: (c.sla_due_at is None, c.sla_due_at or far, c.pk),
        "supplier": lambda c: (c.offer.supplier.name, c.pk),
        "-supplier": lambda c: (c.offer.supplier.name, c.pk),
    }
    ordered = sorted(cases, key=keys[sort], reverse=sort == "-supplier")
    return [c.reference for c in ordered]


@pytest.fixture
def sixty_cases():
    """60 open cases with many ties (same score, same received time, same supplier name,
    no SLA), so that only the final key (the id) separates them."""
    now = timezone.now()
    for i in range(60):
        case = open_case(name=f"Supplier {i % 4}")
        put(
            case,
            priority=(i % 3) * 30,
            opened_at=now - timedelta(days=i % 5),
            sla_due_at=None if i % 4 == 0 else now + timedelta(days=i % 6),
        )


@pytest.mark.parametrize("sort", list(SORTS))
def test_it_pages_through_every_case_exactly_once_in_each_order(client, sixty_cases, sort):
    query = "" if sort == "work" else f"?sort={sort}"
    first = client.get(f"/cases/{query}")
    page_one = refs(first)
    assert len(page_one) == 50
    assert link(first, "prev") is None
    second = client.get(link(first, "next"))
    page_two = refs(second)
    assert page_one + page_two == _expected_order(sort)
    assert link(second, "next") is None
    # Previous goes back to exactly the first page.
    back = client.get(link(second, "prev"))
    assert refs(back) == page_one
    assert link(back, "prev") is None


def test_the_column_headers_sort_on_the_server_with_aria_sort(client, sixty_cases):
    page = client.get("/cases/?sort=oldest&queue=rapid_response").text
    headers = dict(
        (label, (aria, html.unescape(href)))
        for aria, href, label in re.findall(
            r'aria-sort="(\w+)">\s*<a class="app-sort-link" href="([^"]+)">([^<]+)<', page
        )
    )
    assert headers == {
        "Supplier": ("none", "/cases/?queue=rapid_response&sort=supplier"),
        "Score": ("none", "/cases/?queue=rapid_response"),
        "Age": ("descending", "/cases/?queue=rapid_response&sort=newest"),
        "SLA due": ("none", "/cases/?queue=rapid_response&sort=sla"),
    }


def test_a_page_keeps_its_place_when_cases_are_added_before_it(client, sixty_cases):
    first = client.get("/cases/?sort=oldest")
    page_one = refs(first)
    put(open_case(), opened_at=timezone.now() - timedelta(days=400))  # would go first
    page_two = refs(client.get(link(first, "next")))
    assert not set(page_one) & set(page_two)
    assert len(page_one) + len(page_two) == 60


def test_a_tampered_or_foreign_cursor_shows_the_first_page(client, sixty_cases):
    first = client.get("/cases/")
    page_one = refs(first)
    token = re.search(r"after=([^&\"]+)", link(first, "next")).group(1)
    oldest_token = Ordering("oldest", SORTS["oldest"].keys).cursor_for(
        Case.objects.order_by("pk").first()
    )
    for cursor in ("garbage", token[:-2] + "xx", "x" + token, oldest_token):
        response = client.get(f"/cases/?after={cursor}")
        assert response.status_code == 200
        assert refs(response) == page_one
        assert "first page is shown" in response.text


def test_it_counts_at_most_a_thousand_and_one_rows(client, monkeypatch):
    monkeypatch.setattr(selectors, "TOTAL_COUNTED", 3)
    for _ in range(3):
        open_case()
    assert "3 cases." in client.get("/cases/").text
    open_case()
    assert "More than 3 cases." in client.get("/cases/").text


def count_queries(captured) -> int:
    return sum(q["sql"].startswith("SELECT COUNT(*)") for q in captured.captured_queries)


def test_a_first_page_holding_every_match_is_counted_without_a_query(
    client, caseworker, monkeypatch
):
    monkeypatch.setattr(selectors, "PAGE_SIZE", 3)
    for _ in range(3):
        open_case()
    with CaptureQueriesContext(connection) as captured:
        page = selectors.case_list_for(caseworker, {})
    assert (len(page.rows), page.total, page.next_cursor) == (3, 3, None)
    assert count_queries(captured) == 0
    assert "3 cases." in client.get("/cases/").text

    open_case()  # now more than a page: counted, on the first page and the next
    with CaptureQueriesContext(connection) as captured:
        page = selectors.case_list_for(caseworker, {})
    assert (len(page.rows), page.total) == (3, 4)
    assert count_queries(captured) == 1
    with CaptureQueriesContext(connection) as captured:
        last = selectors.case_list_for(caseworker, {"after": page.next_cursor})
    assert (len(last.rows), last.total, last.next_cursor) == (1, 4, None)
    assert count_queries(captured) == 1
    # A refused cursor shows the first page, whose total is still every match.
    refused = selectors.case_list_for(caseworker, {"after": "garbage"})
    assert refused.cursor_refused and refused.total == 4


# --- speed -----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["caseworker", "manager", "mp_inbox_officer"])
@pytest.mark.parametrize(
    "query", ["", "?category=gown&introducer_role=none&score=80-100&sort=supplier&q=ltd"]
)
def test_the_number_of_queries_does_not_grow_with_the_rows(request, client_for, who, query):
    user = request.getfixturevalue(who)
    client = client_for(user)

    def add_cases(n):
        for i in range(n):
            case = open_case(
                queue=Queue.MP_INBOX if i % 2 else Queue.VIP,
                lines=[factories.line(), factories.line(category="gown", description="Gown")],
                introductions=[factories.introduction()] if i % 3 else [],
                name=f"Numbered {i} Ltd",
            )
            put(case, priority=85, owner=user if i % 2 else None)

    add_cases(10)
    client.get(f"/cases/{query}")  # warm the session
    with CaptureQueriesContext(connection) as ten:
        rows_of_ten = refs(client.get(f"/cases/{query}"))
    add_cases(50)
    with CaptureQueriesContext(connection) as sixty:
        response = client.get(f"/cases/{query}")
        rows_of_sixty = refs(response)
    assert len(rows_of_sixty) > len(rows_of_ten) > 0
    # The count is left out when the first page holds every matching case.
    counted = link(response, "next") is not None
    assert len(sixty) == len(ten) + counted, [q["sql"][:120] for q in sixty.captured_queries]
    # session, user, roles, owners, page (with its lines' categories and introducers'
    # roles; on SQLite two queries of their own), count (only with a next page); and a
    # manager's saved filters; with a text search, whether a company number starts with
    # it (one index probe). No session write: its expiry was pushed on a moment ago.
    labels = 0 if settings.DATABASE_IS_POSTGRES else 2
    searched = "q=" in query
    assert len(sixty) == (6 if who == "manager" else 5) + labels + counted + searched


def test_each_filter_form_has_its_own_tab_and_owner_choices(caseworker, mp_inbox_officer):
    # The form class is built once and its constant fields shared; the tabs and owners
    # depend on the request, so each form has copies of those two of its own.
    mine = CaseFilter(QueryDict("owner=unassigned"), user=caseworker, owners=[caseworker])
    theirs = CaseFilter(QueryDict("tab=mine"), user=mp_inbox_officer, owners=[])
    assert [v for v, _ in mine.form.fields["tab"].choices] == [v for v, _ in tabs_for(caseworker)]
    assert [v for v, _ in theirs.form.fields["tab"].choices] == [
        v for v, _ in tabs_for(mp_inbox_officer)
    ]
    assert [v for v, _ in mine.form.fields["owner"].choices] == [
        "",
        "unassigned",
        str(caseworker.pk),
    ]
    assert [v for v, _ in theirs.form.fields["owner"].choices] == ["", "unassigned"]
    assert mine.is_valid() and not theirs.is_valid()
    assert theirs.errors["tab"] == ["Choose a list you can see"]
    # django-filter's own `filters`, made on demand, bound to their filter set.
    assert mine.filters["owner"].parent is mine
    assert mine.filters["owner"].extra["choices"] == mine.owner_choices
    assert mine.filters["queue"].filter(Case.objects.all(), ["vip"]).query is not None


def test_list_urls_follow_the_script_prefix():
    # The list's path is reversed once per URLconf and script prefix, not once a page.
    query = ListQuery([("tab", "mine")])
    assert query.url() == "/cases/?tab=mine"
    try:
        set_script_prefix("/vip/")
        assert query.url(after="x") == "/vip/cases/?tab=mine&after=x"
    finally:
        set_script_prefix("/")
    assert query.url() == "/cases/?tab=mine"
