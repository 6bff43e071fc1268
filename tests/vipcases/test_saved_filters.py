"""Managers save a named case-list filter, find it on the list, and delete their own."""

import pytest

from tests.conftest import _person
from vipcases import services
from vipcases.models import SavedFilter

pytestmark = pytest.mark.django_db


@pytest.fixture
def other_manager(db):
    return _person("mgr.other", "Olu", "Other", "manager")


def test_it_saves_the_current_filter_and_lists_it_on_the_case_list(client_for, manager):
    client = client_for(manager)
    response = client.post(
        "/cases/saved-filters/",
        {"name": "  Urgent   VIP gowns ", "query": "tab=vip&category=gown&after=abc&junk=1"},
    )
    assert response.status_code == 302
    assert response.url == "/cases/?tab=vip&category=gown"
    saved = SavedFilter.objects.get()
    assert (saved.owner, saved.name, saved.query) == (
        manager,
        "Urgent VIP gowns",
        "tab=vip&category=gown",
    )
    page = client.get("/cases/").text
    assert (
        '<a class="govuk-link" href="/cases/?tab=vip&amp;category=gown">Urgent VIP gowns</a>'
        in page
    )


def test_a_name_is_required(client_for, manager):
    response = client_for(manager).post("/cases/saved-filters/", {"name": " ", "query": "q=x"})
    assert response.status_code == 200
    assert "Enter a name for the filter" in response.text
    assert "govuk-error-summary" in response.text
    assert 'value="q=x"' in response.text
    assert not SavedFilter.objects.exists()


def test_names_are_unique_for_each_manager(client_for, manager, other_manager):
    services.saved_filter_create(acting_user=manager, name="Mine", query="")
    services.saved_filter_create(acting_user=other_manager, name="Mine", query="")
    response = client_for(manager).post("/cases/saved-filters/", {"name": "mine", "query": ""})
    assert "You already have a filter called “mine”" in response.text
    assert SavedFilter.objects.count() == 2


def test_a_manager_sees_only_their_own(client_for, manager, other_manager):
    services.saved_filter_create(acting_user=other_manager, name="Theirs", query="tab=vip")
    services.saved_filter_create(acting_user=manager, name="Ours", query="tab=closed")
    client = client_for(manager)
    for url in ("/cases/", "/cases/saved-filters/"):
        page = client.get(url).text
        assert "Ours" in page
        assert "Theirs" not in page


def test_a_manager_deletes_their_own(client_for, manager):
    saved = services.saved_filter_create(acting_user=manager, name="Old", query="")
    response = client_for(manager).post(f"/cases/saved-filters/{saved.pk}/delete/")
    assert response.status_code == 302
    assert response.url == "/cases/saved-filters/"
    assert not SavedFilter.objects.exists()


def test_nobody_deletes_another_managers_filter(client_for, manager, other_manager):
    saved = services.saved_filter_create(acting_user=other_manager, name="Theirs", query="")
    response = client_for(manager).post(f"/cases/saved-filters/{saved.pk}/delete/")
    assert response.status_code == 404
    assert SavedFilter.objects.filter(pk=saved.pk).exists()
    with pytest.raises(services.CaseError):
        services.saved_filter_delete(acting_user=manager, saved_filter_id=saved.pk)
    assert SavedFilter.objects.filter(pk=saved.pk).exists()


def test_caseworkers_cannot_save_filters(client_for, caseworker):
    client = client_for(caseworker)
    assert client.post("/cases/saved-filters/", {"name": "x", "query": ""}).status_code == 403
    assert client.get("/cases/saved-filters/").status_code == 403
    assert "Save this filter" not in client.get("/cases/").text
    with pytest.raises(services.CaseError):
        services.saved_filter_create(acting_user=caseworker, name="x", query="")
    assert not SavedFilter.objects.exists()


def test_the_list_offers_to_save_the_current_filter(client_for, manager):
    page = client_for(manager).get("/cases/?tab=vip&status=new").text
    assert '<input type="hidden" name="query" value="tab=vip&amp;status=new">' in page
