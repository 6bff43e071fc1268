"""The case list's rows and count against an independent Python computation.

The filters' SQL is shaped for speed at a million cases (which table the database
starts from, per-case probes rather than joins). Whatever the shape, the list must show
exactly the cases the filters describe, in the chosen order, page after page, and count
them the same: this builds a small mixed set of cases in bulk and checks every tab,
filter and order below against a plain Python reading of the same rows.
"""

import random
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.http import QueryDict
from django.utils import timezone

from offers.models import Offer, OfferLine, Supplier
from vipcases import selectors
from vipcases.codes import Category, Queue, Status
from vipcases.filters import SCORE_BANDS
from vipcases.models import Case

pytestmark = pytest.mark.django_db

NAMES = [
    "Kestrel Medical Ltd",
    "Kestrel Healthcare Ltd",
    "Heron Kestrel Supplies Ltd",
    "Falcon Surgical Ltd",
    "Juniper Care Supplies Ltd",
    "Marlin Protective Wear Ltd",
    "Oakridge Hygiene Ltd",
]
OPEN_STATUSES = [Status.NEW, Status.IN_PROGRESS, Status.DUE_DILIGENCE]
OPEN_QUEUES = [Queue.TRIAGE, Queue.VIP, Queue.RAPID_RESPONSE, Queue.MP_INBOX]
CATEGORIES = [Category.GOWN, Category.GLOVES, Category.FFP3_RESPIRATOR, Category.APRON]


@dataclass
class Row:
    case: Case
    supplier: Supplier
    categories: set


@pytest.fixture
def rows(caseworker) -> list[Row]:
    """About 150 cases: most closed, as at scale; scores in and around every band; a few
    suppliers with offers in several cases; one to three lines each."""
    rng = random.Random(8)
    now = timezone.now()
    suppliers = Supplier.objects.bulk_create(
        Supplier(name=name, company_number=f"{12340000 + i * 7:08d}")
        for i, name in enumerate(NAMES)
    )
    plans = []
    for i in range(150):
        supplier = rng.choice(suppliers)
        closed = rng.random() < 0.6
        opened_at = now - timedelta(days=rng.randint(0, 20), minutes=rng.randint(0, 1000))
        if i % 10 == 0 and plans:
            opened_at = plans[-1][1].opened_at  # ties: the primary key decides
        case = Case(
            queue=Queue.CLOSED if closed else rng.choice(OPEN_QUEUES),
            status=Status.CLOSED if closed else rng.choice(OPEN_STATUSES),
            owner=caseworker if rng.random() < 0.3 else None,
            priority=rng.choice([0, 12, 39, 40, 59, 60, 65, 70, 79, 80, 95, 100]),
            opened_at=opened_at,
            sla_due_at=None if rng.random() < 0.3 else opened_at + timedelta(days=5),
        )
        categories = set(rng.sample(CATEGORIES, rng.randint(1, 3)))
        plans.append((supplier, case, categories))
    offers = Offer.objects.bulk_create(
        Offer(supplier=supplier, channel="referral", received_at=case.opened_at)
        for supplier, case, _ in plans
    )
    OfferLine.objects.bulk_create(
        OfferLine(
            offer=offer,
            category=category,
            description=str(category),
            quantity=1,
            stock_location="uk",
            lead_time_days=1,
        )
        for offer, (_, _, categories) in zip(offers, plans, strict=True)
        for category in sorted(categories)
    )
    for offer, (_, case, _) in zip(offers, plans, strict=True):
        case.offer = offer
    cases = Case.objects.bulk_create(case for _, case, _ in plans)
    return [
        Row(Case.objects.get(pk=case.pk), supplier, categories)
        for case, (supplier, _, categories) in zip(cases, plans, strict=True)
    ]


def expected(rows: list[Row], params: QueryDict, user) -> list[int]:
    """The ids the list should show, in order, computed in Python."""
    tab = params.get("tab", "open")
    chosen = []
    for row in rows:
        case = row.case
        if tab == "open" and case.status == Status.CLOSED:
            continue
        if tab == "mine" and (case.status == Status.CLOSED or case.owner_id != user.pk):
            continue
        if tab not in ("open", "mine") and case.queue != tab:
            continue
        if params.getlist("category") and not row.categories & set(params.getlist("category")):
            continue
        bands = [SCORE_BANDS[band] for band in params.getlist("score")]
        if bands and not any(low <= case.priority <= high for low, high in bands):
            continue
        text = params.get("q", "").strip()
        if text and not _text_matches(text, row):
            continue
        chosen.append(row)
    key = {
        "work": lambda r: (-r.case.priority, r.case.opened_at, r.case.pk),
        "oldest": lambda r: (r.case.opened_at, r.case.pk),
        "supplier": lambda r: (r.supplier.name, r.case.pk),
        "sla": lambda r: (r.case.sla_due_at is None, r.case.sla_due_at or 0, r.case.pk),
    }
    sort = params.get("sort", "work")
    if sort == "newest":
        chosen.sort(key=lambda r: (r.case.opened_at, r.case.pk), reverse=True)
    else:
        chosen.sort(key=key[sort])
    return [row.case.pk for row in chosen]


def _text_matches(text: str, row: Row) -> bool:
    digits = text.upper().removeprefix("PPE").lstrip("- ")
    is_reference = digits.isdigit()
    if is_reference and int(digits) == row.case.pk:
        return True
    if is_reference and not text[0].isdigit():
        return False
    name, number = row.supplier.name, row.supplier.company_number
    return text.lower() in name.lower() or number.startswith(text.upper())


def listed(user, query: str) -> tuple[list[int], int | None]:
    """Every page of the list, following its next links, and the count it shows."""
    params = QueryDict(query, mutable=True)
    page = selectors.case_list_for(user, params)
    assert page.filterset.is_valid(), page.filterset.errors
    ids, total = [case.pk for case in page.rows], page.total
    while page.next_cursor:
        params["after"] = page.next_cursor
        page = selectors.case_list_for(user, params)
        ids += [case.pk for case in page.rows]
        assert page.total == total
    return ids, total


QUERIES = [
    "",
    "tab=closed",
    "tab=mine",
    "tab=vip",
    "category=gown",
    "category=gown&category=apron",
    "tab=closed&category=gloves",
    "score=60-79",
    "score=0-39&score=80-100",
    "category=gown&score=60-79",
    "tab=closed&category=gown&score=60-79&sort=oldest",
    "category=gown&score=60-79&sort=supplier",
    "q=kestrel",
    "q=KESTREL&sort=newest",
    "tab=closed&q=kestrel",
    "q=kestrel&category=gown",
    "q=kestrel&category=apron&score=80-100&sort=sla",
    "q=heron",
    "q=nobody",
    "q=1234",
    "q=12340007&tab=closed",
]


@pytest.mark.parametrize("query", QUERIES)
def test_rows_and_count_equal_a_python_computation(rows, caseworker, query, monkeypatch):
    monkeypatch.setattr(selectors, "PAGE_SIZE", 7, raising=False)
    want = expected(rows, QueryDict(query), caseworker)
    ids, total = listed(caseworker, query)
    assert ids == want
    assert total == len(want)


@pytest.mark.parametrize("query", ["", "category=gown", "q=kestrel", "category=gown&score=60-79"])
def test_the_count_stops_one_past_the_cap(rows, caseworker, query, monkeypatch):
    want = expected(rows, QueryDict(query), caseworker)
    assert len(want) > 4  # the data gives each query more rows than the cap below
    monkeypatch.setattr(selectors, "TOTAL_COUNTED", 3)
    assert selectors.case_list_for(caseworker, QueryDict(query)).total == 4


def test_a_reference_search_finds_the_case_in_its_tab(rows, caseworker):
    case = next(row.case for row in rows if row.case.status != Status.CLOSED)
    ids, total = listed(caseworker, f"q=PPE-{case.pk:06d}")
    assert (ids, total) == ([case.pk], 1)
    closed = next(row.case for row in rows if row.case.status == Status.CLOSED)
    assert listed(caseworker, f"q=PPE-{closed.pk}") == ([], 0)  # not in the open tab
    assert listed(caseworker, f"tab=closed&q=PPE-{closed.pk}") == ([closed.pk], 1)
