"""The reference pages benchmarks/pages_bench.py times beside the real ones
(benchmarks/reference_urls.py): they must stay what they claim to be, a signed-in,
role-checked page with nothing of its own, and the GOV.UK base template around a
paragraph, while every page of the app still answers at its usual address."""

import pytest

pytestmark = pytest.mark.urls("benchmarks.reference_urls")


def test_the_bare_page_is_signed_in_and_role_checked(client, client_for, caseworker, outsider):
    assert client_for(caseworker).get("/__bench__/ok/").content == b"ok"
    assert client.get("/__bench__/ok/").status_code == 302  # to the sign-in page
    assert client_for(outsider).get("/__bench__/ok/").status_code == 403


def test_the_base_template_page_has_the_whole_layout_and_no_more(client_for, caseworker):
    page = client_for(caseworker).get("/__bench__/base/").content.decode()

    assert "govuk-header" in page and "govuk-footer" in page
    assert "cw.priya" in page  # the account menu: the user was read
    assert "Reference page." in page
    assert "<table" not in page


@pytest.mark.parametrize("url", ["/cases/", "/dashboard/"])
def test_the_app_still_answers_beside_them(client_for, manager, url):
    assert client_for(manager).get(url).status_code == 200
