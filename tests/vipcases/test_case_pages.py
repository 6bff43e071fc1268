import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests import factories
from vipcases.codes import Queue
from vipcases.models import Case

pytestmark = pytest.mark.django_db


def put(case, queue):
    Case.objects.filter(pk=case.pk).update(queue=queue)
    return case


@pytest.fixture
def cases():
    return {
        "vip": put(factories.case(name="Vipline Supplies Ltd"), Queue.VIP),
        "rapid": factories.case(name="Rapidity Medical Ltd"),
        "inbox": put(factories.case(name="Inboxed Gowns Ltd"), Queue.MP_INBOX),
    }


def test_it_sends_anonymous_people_to_sign_in(client, cases):
    for url in ("/cases/", f"/cases/{cases['vip'].pk}/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith("/sign-in/?next=")


def test_a_caseworker_sees_every_casework_queue(client_for, caseworker, cases):
    response = client_for(caseworker).get("/cases/")
    assert response.status_code == 200
    for name in ("Vipline Supplies Ltd", "Rapidity Medical Ltd", "Inboxed Gowns Ltd"):
        assert name in response.text


def test_the_mp_inbox_team_sees_only_its_cases(client_for, mp_inbox_officer, cases):
    client = client_for(mp_inbox_officer)
    listing = client.get("/cases/").text
    assert "Inboxed Gowns Ltd" in listing
    assert "Vipline Supplies Ltd" not in listing
    assert client.get(f"/cases/{cases['inbox'].pk}/").status_code == 200
    assert client.get(f"/cases/{cases['vip'].pk}/").status_code == 404


def test_someone_without_a_role_is_refused(client_for, outsider, cases):
    client = client_for(outsider)
    assert client.get("/cases/").status_code == 403
    assert client.get(f"/cases/{cases['vip'].pk}/").status_code == 403


def test_the_case_page_shows_the_offer_the_score_and_the_timeline(client_for, caseworker, cases):
    page = client_for(caseworker).get(f"/cases/{cases['rapid'].pk}/").text
    assert "Rapidity Medical Ltd" in page
    assert "2,000,000" in page
    assert "Clinical need for FFP3 respirators is rated critical now." in page
    assert "Rapid Response threshold" in page  # the routing event's sentence


def test_restricted_notes_are_hidden_from_the_mp_inbox(
    client_for, caseworker, mp_inbox_officer, cases
):
    from vipcases.services import case_add_note

    case_add_note(
        case_id=cases["inbox"].pk,
        acting_user=caseworker,
        text="Quoted £2.10 ex works",
        restricted=True,
    )
    assert "Quoted £2.10" in client_for(caseworker).get(f"/cases/{cases['inbox'].pk}/").text
    assert (
        "Quoted £2.10" not in client_for(mp_inbox_officer).get(f"/cases/{cases['inbox'].pk}/").text
    )


def test_the_list_makes_the_same_number_of_queries_whatever_the_rows(client_for, caseworker):
    client = client_for(caseworker)
    factories.case()
    client.get("/cases/")  # warm the session and permission caches
    with CaptureQueriesContext(connection) as few:
        client.get("/cases/")
    for _ in range(10):
        factories.case(introductions=[factories.introduction()])
    with CaptureQueriesContext(connection) as many:
        client.get("/cases/")
    assert len(many) == len(few)
