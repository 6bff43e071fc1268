"""vipcases.wsgi: /api/ through the short middleware list answers as the full stack does
(the test Client's), and pages still get the full stack."""

import json
from unittest import mock

import pytest
from django.conf import settings
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import OperationalError, close_old_connections
from django.test import Client, RequestFactory, TestCase

from offers.tokens import api_token_create
from tests.offers.conftest import offer_body
from vipcases.wsgi import ApiWSGIHandler, PathDispatcher, application

pytestmark = pytest.mark.django_db

# Headers that may differ between the stacks: the ids in a new offer's answer, and
# `Vary: Cookie`, which SessionMiddleware adds when a middleware looks at the session.
UNCOMPARED_HEADERS = {"Location", "Content-Length", "Vary"}


class Answer:
    def __init__(self, status: str, headers: list, body: bytes):
        self.status_code = int(status.split()[0])
        self.headers = dict(headers)
        self.content = body


def _environ(method: str, path: str, *, body: bytes = b"", secure=False, **headers) -> dict:
    request = RequestFactory().generic(
        method,
        path,
        data=body,
        content_type="application/json",
        secure=secure,
        headers=headers,
    )
    return request.environ


def _through(app, method: str, path: str, **kwargs) -> Answer:
    """The answer of the WSGI application `app`, called as gunicorn calls it, except that
    the database connection stays open (the test's transaction), as the test Client
    leaves it."""
    started = []
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        result = app(_environ(method, path, **kwargs), lambda s, h, e=None: started.append((s, h)))
        try:
            body = b"".join(result)
        finally:
            result.close()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    status, headers = started[0]
    return Answer(status, headers, body)


def _through_client(method: str, path: str, *, body: bytes = b"", secure=False, **headers):
    return Client().generic(
        method, path, data=body, content_type="application/json", secure=secure, headers=headers
    )


def _headers(response) -> dict:
    return {k: v for k, v in response.headers.items() if k not in UNCOMPARED_HEADERS}


def _fresh_application() -> PathDispatcher:
    """The application as vipcases.wsgi makes it, under the current settings
    (middleware read their settings when they are made)."""
    return PathDispatcher(site=WSGIHandler(), api=ApiWSGIHandler(), prefix=settings.API_PATH_PREFIX)


def test_the_api_skips_only_browser_middleware():
    kept = set(settings.API_MIDDLEWARE)
    assert set(settings.MIDDLEWARE) - kept == set(settings.API_MIDDLEWARE_SKIPPED)
    assert {
        "django.middleware.security.SecurityMiddleware",
        "csp.middleware.CSPMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
        "vipcases.middleware.DatabaseUnavailableMiddleware",
    } <= kept


@pytest.fixture
def token(db) -> str:
    return api_token_create(name="Example integration")[1]


def _requests(token: str) -> list[tuple]:
    auth = {"Authorization": f"Bearer {token}"}
    return [
        ("GET", "/api/schema/", {}),
        ("POST", "/api/schema/", {}),
        ("POST", "/api/offers/", {"body": b"{}", **auth}),
        ("POST", "/api/offers/", {"body": b"not json", **auth}),
        ("POST", "/api/offers/", {"body": json.dumps(offer_body()).encode()}),
        ("POST", "/api/offers/", {"body": b"{}", "Authorization": "Bearer vpc_nothing"}),
        ("GET", "/api/offers/", auth),
        ("GET", "/api/cases/999999/", auth),
        ("GET", "/api/nothing-here/", auth),
    ]


def test_the_api_answers_as_under_the_full_stack(token):
    for method, path, kwargs in _requests(token):
        through_client = _through_client(method, path, **kwargs)
        through_wsgi = _through(application, method, path, **kwargs)
        where = f"{method} {path}"
        assert through_wsgi.status_code == through_client.status_code, where
        assert through_wsgi.content == through_client.content, where
        assert _headers(through_wsgi) == _headers(through_client), where


def test_a_new_offer_answers_201_with_the_headers_kept(token):
    body = json.dumps(offer_body()).encode()
    with TestCase.captureOnCommitCallbacks(execute=True):
        answer = _through(
            application, "POST", "/api/offers/", body=body, Authorization=f"Bearer {token}"
        )
    assert answer.status_code == 201
    created = json.loads(answer.content)
    assert answer.headers["Location"] == created["url"]
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
    assert "Set-Cookie" not in answer.headers
    assert "Vary" not in answer.headers


def test_the_api_redirects_to_https_and_sends_hsts_in_production(settings, token):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 3600
    app = _fresh_application()
    auth = {"Authorization": f"Bearer {token}"}
    redirect = _through(app, "GET", "/api/schema/", **auth)
    assert redirect.status_code == 301
    assert redirect.headers["Location"] == "https://testserver/api/schema/"
    secure = _through(app, "GET", "/api/cases/1/", secure=True, **auth)
    assert secure.status_code == 404
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=3600")


def test_the_api_answers_503_when_the_database_is_unavailable(token):
    failing = mock.patch(
        "offers.api.api_token_authenticate", side_effect=OperationalError("server closed")
    )
    auth = {"Authorization": f"Bearer {token}"}
    with failing:
        through_wsgi = _through(application, "GET", "/api/cases/1/", **auth)
        through_client = _through_client("GET", "/api/cases/1/", **auth)
    assert through_wsgi.status_code == through_client.status_code == 503
    assert through_wsgi.headers["Retry-After"] == "30"


def test_pages_still_get_the_full_stack(caseworker):
    sign_in = _through(application, "GET", "/sign-in/")
    assert sign_in.status_code == 200
    assert "csrftoken=" in sign_in.headers["Set-Cookie"]
    assert "Cookie" in sign_in.headers["Vary"]
    # Signed out, a page sends you to sign in: sessions and authentication ran.
    cases = _through(application, "GET", "/cases/")
    assert cases.status_code == 302
    assert cases.headers["Location"].startswith("/sign-in/")
    # A sign-in without the CSRF token is refused: the CSRF middleware ran.
    refused = _through(application, "POST", "/sign-in/", body=b"username=x&password=y")
    assert refused.status_code == 403
