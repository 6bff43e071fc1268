import hashlib
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone

from offers.models import ApiToken, Offer
from offers.tokens import api_token_authenticate, api_token_create
from tests.offers.conftest import ApiClient, offer_body

pytestmark = pytest.mark.django_db


def test_create_api_token_prints_a_new_token_once_and_stores_its_hash():
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_token", "public webform", stdout=out, stderr=err)
    raw = out.getvalue().strip()
    token = ApiToken.objects.get()
    assert token.name == "public webform"
    assert raw.startswith(f"vpc_{token.prefix}_")
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in str(ApiToken.objects.values().get())  # the token itself is not stored
    assert "shown once" in err.getvalue()
    assert ApiClient(raw).post_offer(offer_body()).status_code == 201


def test_every_token_is_different():
    for _ in range(3):
        call_command("create_api_token", "x", stdout=io.StringIO(), stderr=io.StringIO())
    assert len(set(ApiToken.objects.values_list("token_hash", flat=True))) == 3


def test_it_answers_401_without_a_token(db):
    response = ApiClient(None).post_offer(offer_body())
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"] == "unauthorized"
    assert ApiClient(None).get_case(1).status_code == 401
    assert not Offer.objects.exists()


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer nonsense", "Basic dXNlcjpwYXNz", "Token vpc_000000000000_x"],
)
def test_it_answers_401_for_a_malformed_or_unknown_token(db, header):
    response = ApiClient(None).post_offer(offer_body(), Authorization=header)
    assert response.status_code == 401


def test_it_answers_401_for_a_token_with_the_right_prefix_and_a_wrong_secret(api_token):
    forged = api_token.raw[:-4] + "AAAA"
    assert ApiClient(forged).post_offer(offer_body()).status_code == 401


def test_it_answers_401_once_the_token_is_revoked_in_the_admin(api_token, client):
    admin = User.objects.create_superuser("admin.kim", "kim@example.gov.uk", "x-admin-pass")
    client.force_login(admin)
    response = client.post(
        "/admin/offers/apitoken/",
        {"action": "revoke", "_selected_action": [api_token.pk]},
        follow=True,
    )
    assert b"1 token revoked." in response.content
    api_token.refresh_from_db()
    assert api_token.revoked_at is not None and api_token.revoked_by == admin
    assert ApiClient(api_token.raw).post_offer(offer_body()).status_code == 401


def test_the_admin_shows_no_hash_and_cannot_add_edit_or_delete(api_token, client):
    admin = User.objects.create_superuser("admin.kim", "kim@example.gov.uk", "x-admin-pass")
    client.force_login(admin)
    page = client.get(f"/admin/offers/apitoken/{api_token.pk}/change/")
    assert page.status_code == 200
    assert api_token.token_hash.encode() not in page.content
    assert client.get("/admin/offers/apitoken/add/").status_code == 403
    assert client.post(f"/admin/offers/apitoken/{api_token.pk}/delete/").status_code == 403


def test_it_records_when_a_token_was_last_used_without_writing_every_time(api_token):
    assert api_token_authenticate(api_token.raw).last_used_at is not None
    first = ApiToken.objects.get().last_used_at
    api_token_authenticate(api_token.raw)
    assert ApiToken.objects.get().last_used_at == first
    ApiToken.objects.update(last_used_at=timezone.now() - timedelta(minutes=5))
    api_token_authenticate(api_token.raw)
    assert ApiToken.objects.get().last_used_at > first - timedelta(seconds=1)


def test_authentication_gives_the_token_as_the_orm_reads_it(admin_user):
    # On PostgreSQL the token is read with a plain query: every field, types included,
    # must be what the ORM gives (an aware datetime, not text; the creator's id).
    token, raw = api_token_create(name="a school trust", acting_user=admin_user)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    found = api_token_authenticate(raw)
    expected = ApiToken.objects.get(pk=token.pk)
    fields = [f.attname for f in ApiToken._meta.concrete_fields]
    assert [getattr(found, name) for name in fields] == [getattr(expected, name) for name in fields]
    assert found.last_used_at.tzinfo is not None
    assert found.created_by_id == admin_user.pk
    assert found._state.adding is False
