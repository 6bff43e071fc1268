"""The content security policy, enforced by a real browser: no page breaks it.

The shared `page` fixture bypasses CSP (axe-core is injected as a script); this test
opens its own context that enforces it.
"""

import pytest

from tests import factories
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def strict_page(chromium, live_server):
    context = chromium.new_context(base_url=live_server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda message: (
            problems.append(f"console {message.type}: {message.text}")
            if message.type == "error" or "Content Security Policy" in message.text
            else None
        ),
    )
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.problems = problems
    yield page
    context.close()


def test_pages_load_their_scripts_and_styles_without_breaking_the_policy(strict_page, manager):
    case = factories.case(name="Harbourside Gowns Ltd")
    page = strict_page

    sign_in(page, manager)
    for url in (f"/cases/{case.pk}/", "/dashboard/", "/settings/routing/"):
        page.goto(url)
        # app.js ran: script-src 'self' lets the module and its imports load.
        assert "govuk-frontend-supported" in page.evaluate("document.body.className"), url
        # The style sheets applied: GOV.UK Frontend sets the headings' font.
        font = page.evaluate("getComputedStyle(document.querySelector('h1')).fontFamily")
        assert "GDS Transport" in font, url

    assert page.problems == []
