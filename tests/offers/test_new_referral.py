import html
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.test import TestCase
from django.utils import timezone

from offers.models import Introduction, Offer, OfferLine, Supplier
from offers.services import offer_create, referral_create
from tests import factories
from triage.models import TriageAssessment
from vipcases.codes import EventKind, Queue
from vipcases.models import Case, CaseEvent

pytestmark = pytest.mark.django_db

URL = "/offers/new/"


def line_data(index: int, **fields) -> dict:
    values = {
        "category": "ffp3_respirator",
        "description": "FFP3 respirator, head straps",
        "quantity": "2000000",
        "unit_price": "1.85",
        "currency": "GBP",
        "standards": "EN 149:2001+A1:2009 FFP3",
        "certificate": "CE 2797",
        "strap_type": "head",
        "sterilisation_validation": "",
        "stock_location": "uk",
        "lead_time_days": "5",
    }
    values.update(fields)
    return {f"lines-{index}-{name}": value for name, value in values.items()}


def referral_data(lines: int = 1, **fields) -> dict:
    received = timezone.localdate() - timedelta(days=1)
    data = {
        "supplier_mode": "new",
        "name": "Northwind Medical Ltd",
        "company_number": "09876543",
        "country": "gb",
        "incorporated_day": "1",
        "incorporated_month": "6",
        "incorporated_year": "2009",
        "ppe_trading_history": "yes",
        "contact_name": "Dana Lee",
        "contact_email": "dana@northwind.example",
        "contact_phone": "020 7946 0000",
        "channel": "email",
        "received_day": str(received.day),
        "received_month": str(received.month),
        "received_year": str(received.year),
        "received_time": "09:30",
        "summary": "",
        "introducer_name": "Robin Example",
        "introducer_role": "minister",
        "introducer_office": "Minister of State",
        "relationship": "Former colleague of a director",
        "conflict_of_interest_notes": "Declared by the minister's office.",
        "lines-TOTAL_FORMS": str(lines),
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "1",
        "lines-MAX_NUM_FORMS": "50",
    }
    for index in range(lines):
        data.update(line_data(index))
    data.update(fields)
    return data


def counts():
    return (
        Supplier.objects.count(),
        Offer.objects.count(),
        OfferLine.objects.count(),
        Introduction.objects.count(),
        Case.objects.count(),
    )


def post(client, data):
    # Triage is enqueued on commit; the test's transaction never commits, so run it here.
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(URL, data)


def error_links(page: str) -> dict[str, str]:
    summary = page[page.index("govuk-error-summary") :]
    summary = summary[: summary.index("</ul>")]
    return {
        href: html.unescape(text)
        for href, text in re.findall(r'<a href="(#[^"]+)">([^<]+)</a>', summary)
    }


def test_it_shows_the_form_to_caseworkers_and_managers(client_for, caseworker, manager):
    for user in (caseworker, manager):
        page = client_for(user).get(URL)
        assert page.status_code == 200
        text = page.text
        assert text.count("<h1") == 1
        assert 'name="add_line"' in text
        assert 'name="lines-0-category"' in text
        assert 'name="lines-1-category"' not in text
        assert "<script>" not in text
        assert "There is a problem" not in text


def test_every_control_has_a_label(client_for, caseworker):
    page = client_for(caseworker).get(URL).text
    ids = set(re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', page))
    hidden = set(re.findall(r'<input type="hidden"[^>]*\bid="([^"]+)"', page))
    for control in ids - hidden:
        assert f'for="{control}"' in page, control


def test_it_refuses_other_roles(client, client_for, mp_inbox_officer, outsider):
    assert client.get(URL).status_code == 302
    for user in (mp_inbox_officer, outsider):
        assert client_for(user).get(URL).status_code == 403
        assert client_for(user).post(URL, referral_data()).status_code == 403
    assert counts() == (0, 0, 0, 0, 0)


def test_it_saves_a_referral_with_a_new_supplier_and_triages_it(client_for, caseworker):
    client = client_for(caseworker)
    response = post(client, referral_data())
    case = Case.objects.get()
    assert response.status_code == 302
    assert response.url == f"/cases/{case.pk}/"
    supplier = Supplier.objects.get()
    assert (supplier.name, supplier.company_number, supplier.country) == (
        "Northwind Medical Ltd",
        "09876543",
        "GB",
    )
    assert supplier.incorporated_on.isoformat() == "2009-06-01"
    assert supplier.ppe_trading_history is True
    offer = case.offer
    assert (offer.supplier, offer.channel, offer.created_by) == (supplier, "email", caseworker)
    assert timezone.localtime(offer.received_at).strftime("%H:%M") == "09:30"
    line = offer.lines.get()
    assert (line.quantity, line.unit_price, line.standards, line.strap_type) == (
        2_000_000,
        Decimal("1.85"),
        ["EN 149:2001+A1:2009 FFP3"],
        "head",
    )
    introduction = Introduction.objects.get(offer=offer)
    assert introduction.introducer.role == "minister"
    assert introduction.relationship == "Former colleague of a director"
    assert introduction.recorded_by == caseworker
    # Scored and routed after the commit.
    assert TriageAssessment.objects.filter(case=case).exists()
    case.refresh_from_db()
    assert case.queue != Queue.TRIAGE
    assert CaseEvent.objects.filter(case=case, kind=EventKind.ROUTED).exists()
    page = client.get(response.url).text
    assert f"Referral saved as case {case.reference}." in page


def test_add_another_line_saves_nothing_and_shows_one_more_row(client_for, caseworker):
    response = post(client_for(caseworker), referral_data(add_line="1"))
    assert response.status_code == 200
    assert counts() == (0, 0, 0, 0, 0)
    page = response.text
    assert 'name="lines-1-category"' in page
    assert 'name="lines-2-category"' not in page
    assert re.search(r'name="lines-TOTAL_FORMS" value="2"', page)
    # What was typed is kept, and nothing is reported as an error.
    assert 'value="Northwind Medical Ltd"' in page
    assert "There is a problem" not in page


def test_an_empty_extra_row_is_ignored_and_a_removed_row_is_not_saved(client_for, caseworker):
    data = referral_data(lines=3)
    data.update(line_data(1, category="gloves", description="Nitrile gloves", DELETE="on"))
    data.update(
        {key: "" for key in line_data(2)} | {"lines-2-currency": "GBP"}
    )  # an untouched extra row
    response = post(client_for(caseworker), data)
    assert response.status_code == 302
    assert list(OfferLine.objects.values_list("category", flat=True)) == ["ffp3_respirator"]


def test_an_invalid_line_saves_nothing_not_even_the_supplier(client_for, caseworker):
    data = referral_data(lines=2)
    data.update(line_data(1, quantity="lots", stock_location=""))
    response = post(client_for(caseworker), data)
    assert response.status_code == 200
    assert counts() == (0, 0, 0, 0, 0)
    links = error_links(response.text)
    assert (
        links["#id_lines-1-quantity"] == "Line 2: The quantity must be a whole number, like 20000."
    )
    assert links["#id_lines-1-stock_location"] == "Line 2: Choose where the stock is."
    assert "Error: New referral" in response.text


def test_the_error_summary_links_to_each_field(client_for, caseworker):
    data = referral_data(
        supplier_mode="",
        received_day="31",
        received_month="2",
        received_time="25:00",
        introducer_role="",
    )
    response = post(client_for(caseworker), data)
    assert counts() == (0, 0, 0, 0, 0)
    assert error_links(response.text) == {
        "#id_supplier_mode_0": "Say whether the supplier is already on the system.",
        "#id_received_day": "The date received must be a real date.",
        "#id_introducer_role": "Choose the introducer's role.",
    }


def test_it_needs_at_least_one_line(client_for, caseworker):
    data = referral_data()
    data["lines-0-DELETE"] = "on"
    response = post(client_for(caseworker), data)
    assert counts() == (0, 0, 0, 0, 0)
    assert error_links(response.text) == {"#lines": "Add at least one product line."}


def test_a_new_supplier_cannot_repeat_a_known_company_number(client_for, caseworker):
    factories.supplier(company_number="09876543")
    response = post(client_for(caseworker), referral_data())
    assert Offer.objects.count() == 0
    assert "#id_company_number" in error_links(response.text)


def test_it_finds_an_existing_supplier_by_company_number(client_for, caseworker):
    known = factories.supplier(name="Known Gloves Ltd", company_number="01234567")
    data = referral_data(supplier_mode="existing", supplier_query=" 1234567 ", name="")
    response = post(client_for(caseworker), data)
    assert response.status_code == 302
    assert Supplier.objects.count() == 1
    assert Offer.objects.get().supplier == known


def test_it_asks_which_supplier_when_several_match(client_for, caseworker):
    first = factories.supplier(name="Acme Protective Ltd")
    second = factories.supplier(name="Acme Protective (Europe) Ltd")
    client = client_for(caseworker)
    data = referral_data(supplier_mode="existing", supplier_query="acme protective")
    response = post(client, data)
    assert Offer.objects.count() == 0
    page = response.text
    assert f'name="supplier_id" type="radio" value="{first.pk}"' in page
    assert f'name="supplier_id" type="radio" value="{second.pk}"' in page
    assert "#id_supplier_id" in error_links(page)
    response = post(client, {**data, "supplier_id": str(second.pk)})
    assert response.status_code == 302
    assert Offer.objects.get().supplier == second


def test_it_says_when_no_supplier_matches(client_for, caseworker):
    data = referral_data(supplier_mode="existing", supplier_query="Nobody Ltd")
    response = post(client_for(caseworker), data)
    assert counts() == (0, 0, 0, 0, 0)
    assert error_links(response.text)["#id_supplier_query"].startswith("No supplier matches")


def test_it_warns_of_a_likely_duplicate_and_saves_after_confirmation(client_for, caseworker):
    existing = factories.case(name="Repeat Offer Ltd", company_number="05555555")
    before = counts()
    client = client_for(caseworker)
    data = referral_data(supplier_mode="existing", supplier_query="05555555")
    response = post(client, data)
    assert response.status_code == 200
    assert counts() == before
    page = response.text
    assert f'href="/cases/{existing.pk}/"' in page
    assert "This may be the same offer through another introducer." in page
    assert "Save it anyway: it is a different offer" in page
    response = post(client, {**data, "confirm_duplicate": "on"})
    assert response.status_code == 302
    created = Case.objects.exclude(pk=existing.pk).get()
    linked = CaseEvent.objects.get(case=created, kind=EventKind.DUPLICATE_LINKED)
    assert linked.data == {"possible_duplicates": [existing.pk]}


def test_it_does_not_warn_for_another_category(client_for, caseworker):
    factories.case(
        company_number="05555556",
        lines=[factories.line(category="gloves", description="Gloves", standards=["EN 455"])],
    )
    data = referral_data(supplier_mode="existing", supplier_query="05555556")
    response = post(client_for(caseworker), data)
    assert response.status_code == 302


def test_the_service_leaves_no_supplier_behind_when_a_line_is_invalid(caseworker):
    with pytest.raises(ValidationError):
        referral_create(
            acting_user=caseworker,
            new_supplier={"name": "Half Saved Ltd", "company_number": "07777777"},
            channel="email",
            received_at=timezone.now(),
            lines=[factories.line(quantity=0)],
        )
    assert not Supplier.objects.filter(name="Half Saved Ltd").exists()


def test_it_shows_no_template_comments_as_text(client_for, caseworker):
    page = client_for(caseworker).get("/offers/new/").text
    assert "{#" not in page
    assert "#}" not in page


def test_the_warning_lists_the_newest_duplicates_and_counts_them_all(client_for, caseworker):
    known = factories.supplier(name="Prolific Gowns Ltd", company_number="05555557")
    with TestCase.captureOnCommitCallbacks():  # left in triage: open
        cases = [
            offer_create(
                acting_user=None,
                supplier=known,
                channel="referral",
                received_at=timezone.now() - timedelta(days=1),
                lines=[factories.line()],
                introductions=[],
            )
            for _ in range(23)
        ]
    data = referral_data(supplier_mode="existing", supplier_query="05555557")
    page = post(client_for(caseworker), data).text
    assert "Prolific Gowns Ltd already has 23 open cases for the same product category." in page
    listed = [int(n) for n in re.findall(r'<li><a class="govuk-link" href="/cases/(\d+)/"', page)]
    assert listed == [case.pk for case in cases[-20:]]
    assert "These are the newest 20." in page
    assert 'href="/cases/?q=05555557">Find all 23 in the case list</a>' in page
