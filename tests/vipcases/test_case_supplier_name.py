"""Case.supplier_name, the copy of the supplier's name the case list searches, is kept by
the database (migration 0010) whoever writes the case, the supplier or the offer."""

import pytest
from django.db import connection
from django.http import QueryDict
from django.utils import timezone

from offers.models import Offer, Supplier
from tests import factories
from vipcases import selectors
from vipcases.bulk import insert_all
from vipcases.models import Case

pytestmark = pytest.mark.django_db


def _stored(case: Case) -> str:
    return Case.objects.values_list("supplier_name", flat=True).get(pk=case.pk)


def _found(user, query: str) -> set[int]:
    page = selectors.case_list_for(user, QueryDict(query))
    return {row.pk for row in page.rows}


def test_a_new_case_carries_its_suppliers_name():
    case = factories.case(name="Kestrel Medical Ltd")
    assert _stored(case) == "Kestrel Medical Ltd"


def test_cases_copied_in_bulk_carry_it_too():
    supplier = factories.supplier(name="Heron Supplies Ltd")
    now = timezone.now()
    offers = insert_all(
        Offer, [Offer(supplier=supplier, channel="webform", received_at=now) for _ in range(3)]
    )
    cases = insert_all(Case, [Case(offer=offer, opened_at=offer.received_at) for offer in offers])
    assert {_stored(case) for case in cases} == {"Heron Supplies Ltd"}


def test_a_renamed_supplier_is_found_by_its_new_name(caseworker):
    case = factories.case(name="Kestrel Medical Ltd")
    Supplier.objects.filter(pk=case.offer.supplier_id).update(name="Osprey Medical Ltd")
    assert _stored(case) == "Osprey Medical Ltd"
    # The renamed supplier's other offers' cases follow too.
    supplier = Supplier.objects.get(pk=case.offer.supplier_id)
    supplier.name = "Osprey Medical Group Ltd"
    supplier.save()
    assert _stored(case) == "Osprey Medical Group Ltd"
    assert _found(caseworker, "q=osprey+medical+group") == {case.pk}
    assert _found(caseworker, "q=kestrel") == set()


def test_an_offer_given_another_supplier_moves_its_case_with_it():
    case = factories.case(name="Kestrel Medical Ltd")
    other = factories.supplier(name="Falcon Surgical Ltd")
    Offer.objects.filter(pk=case.offer_id).update(supplier=other)
    assert _stored(case) == "Falcon Surgical Ltd"


def test_the_application_cannot_write_another_name():
    case = factories.case(name="Kestrel Medical Ltd")
    Case.objects.filter(pk=case.pk).update(supplier_name="Somebody Else Ltd")
    assert _stored(case) == "Kestrel Medical Ltd"
    # A whole-row save of an instance that never read the column keeps it too.
    stale = Case.objects.defer("supplier_name").get(pk=case.pk)
    stale.supplier_name = ""
    stale.save()
    assert _stored(case) == "Kestrel Medical Ltd"


def test_search_by_name_and_by_company_number(caseworker):
    kestrel = factories.case(name="Kestrel Medical Ltd", company_number="SC771001")
    heron = factories.case(name="Heron Supplies Ltd", company_number="07710022")
    assert _found(caseworker, "q=KESTREL") == {kestrel.pk}
    assert _found(caseworker, "q=sc7710") == {kestrel.pk}  # a company number's start
    assert _found(caseworker, "q=0771") == {heron.pk}
    assert _found(caseworker, "q=medical+ltd") == {kestrel.pk}
    assert _found(caseworker, "q=100%25") == set()  # LIKE's wildcards are plain text


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the trigram indexes are PostgreSQL's"
)
def test_the_name_search_can_use_the_trigram_indexes():
    factories.case(name="Kestrel Medical Ltd")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'vipcases_case' "
            "AND indexdef LIKE '%%gin_trgm_ops%%'"
        )
        indexes = dict(cursor.fetchall())
        # Django's own SQL for the search matches the indexed expression.
        sql, params = Case.objects.filter(
            supplier_name__icontains="kestrel"
        ).query.sql_with_params()
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert set(indexes) == {"case_supplier_name_trgm_idx", "case_open_supplier_name_trgm_idx"}
    assert (
        "WHERE (NOT ((status)::text = 'closed'::text))"
        in indexes["case_open_supplier_name_trgm_idx"]
    )
    assert "Bitmap Index Scan on case_supplier_name_trgm_idx" in plan
