"""Keyset pages: every row once, forwards and backwards, in every case-list order."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests import factories
from vipcases.filters import SORTS
from vipcases.keyset import CursorError, page_after
from vipcases.models import Case

pytestmark = pytest.mark.django_db


@pytest.fixture
def thirty_cases():
    now = timezone.now()
    for i in range(30):
        case = factories.case(name=f"Supplier {i % 3}")
        Case.objects.filter(pk=case.pk).update(
            priority=(i % 4) * 20,
            opened_at=now - timedelta(days=i % 3),
            sla_due_at=None if i % 5 == 0 else now + timedelta(days=i % 4),
        )


def walk_forwards(queryset, ordering, size):
    pages, after = [], None
    while True:
        page = page_after(queryset, ordering, size=size, after=after)
        pages.append(page)
        if page.next_cursor is None:
            return pages
        after = page.next_cursor


@pytest.mark.parametrize("name", list(SORTS))
def test_it_walks_forwards_and_backwards_over_every_row_once(thirty_cases, name):
    ordering = SORTS[name]
    queryset = Case.objects.select_related("offer__supplier")
    everything = list(queryset.order_by(*ordering.order_by()).values_list("pk", flat=True))
    pages = walk_forwards(queryset, ordering, size=7)
    assert [len(p.rows) for p in pages] == [7, 7, 7, 7, 2]
    assert [row.pk for p in pages for row in p.rows] == everything
    # Back from the last page, through every full page, to the first.
    before, seen = pages[-1].previous_cursor, []
    while before:
        page = page_after(queryset, ordering, size=7, before=before)
        seen.insert(0, [row.pk for row in page.rows])
        before = page.previous_cursor
    assert seen == [[row.pk for row in p.rows] for p in pages[:-1]]


def test_a_cursor_belongs_to_its_ordering(thirty_cases):
    queryset = Case.objects.select_related("offer__supplier")
    page = page_after(queryset, SORTS["oldest"], size=5)
    with pytest.raises(CursorError):
        page_after(queryset, SORTS["work"], size=5, after=page.next_cursor)
    with pytest.raises(CursorError):
        page_after(queryset, SORTS["oldest"], size=5, after=page.next_cursor + "x")
    with pytest.raises(CursorError):
        page_after(
            queryset, SORTS["oldest"], size=5, after=page.next_cursor, before=page.next_cursor
        )
