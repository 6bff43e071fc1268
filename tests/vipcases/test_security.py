"""Security: deploy settings, HTTPS headers, the content security policy, session limits,
sign-in lockout and the security log (README "Security")."""

import json
import logging
import os
import re
import secrets
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client, RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests import factories
from tests.conftest import PASSWORD
from vipcases.security import REFRESHED_AT, SIGNED_IN_AT, client_ip

BASE_DIR = Path(__file__).resolve().parent.parent.parent

IDLE = timedelta(minutes=30)
MAX_AGE = 12 * 60 * 60
WRONG = "not-the-password"
POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


# --- helpers ----------------------------------------------------------------------------


def run_python(*args, **env) -> subprocess.CompletedProcess:
    """Run our interpreter in the checkout with the app's own settings and `env`."""
    environment = {
        key: value
        for key, value in os.environ.items()
        # DJANGO_ALLOW_ASYNC_UNSAFE (set by the browser tests) fails check --deploy.
        if not key.startswith(("DJANGO_", "SECURE_", "SESSION_", "SIGN_IN_", "PYTEST_"))
        and key not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "BEHIND_PROXY", "LOG_LEVEL"}
    }
    environment["DJANGO_SETTINGS_MODULE"] = "vipcases.settings"
    environment.update(env)
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def production(**env) -> dict[str, str]:
    return {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "cases.example.gov.uk",
        **env,
    }


def settings_in(*names: str, **env) -> dict:
    """The named settings as vipcases.settings computes them under `env`."""
    code = (
        "import json, vipcases.settings as s; "
        f"print(json.dumps({{n: getattr(s, n, None) for n in {list(names)!r}}}, default=str))"
    )
    result = run_python("-c", code, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def sign_in(client: Client, username: str, password: str = PASSWORD, **extra):
    return client.post("/sign-in/", {"username": username, "password": password}, **extra)


def session_of(client: Client) -> Session | None:
    key = client.cookies["sessionid"].value if "sessionid" in client.cookies else ""
    return Session.objects.filter(session_key=key).first()


def policy_of(response) -> dict[str, str]:
    header = response.headers["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition(" ")
        directives[name] = value.strip()
    return directives


def events(caplog) -> list[dict]:
    return [record.security for record in caplog.records if record.name == "vipcases.security"]


def events_named(caplog, name: str) -> list[dict]:
    return [event for event in events(caplog) if event["event"] == name]


# --- production settings ----------------------------------------------------------------


def test_production_settings_pass_check_deploy_with_no_warning():
    result = run_python("manage.py", "check", "--deploy", "--fail-level", "WARNING", **production())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNINGS" not in result.stdout + result.stderr


def test_production_defaults_are_https_only():
    found = settings_in(
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_HSTS_PRELOAD",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_PROXY_SSL_HEADER",
        **production(),
    )
    assert found == {
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 365 * 24 * 60 * 60,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        # X-Forwarded-Proto is believed only when BEHIND_PROXY says a proxy sets it.
        "SECURE_PROXY_SSL_HEADER": None,
    }


def test_development_keeps_plain_http():
    found = settings_in(
        "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SESSION_COOKIE_SECURE", DEBUG="true"
    )
    assert found == {
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 0,
        "SESSION_COOKIE_SECURE": False,
    }


def test_the_environment_sets_the_https_proxy_session_and_lockout_settings():
    found = settings_in(
        "SECURE_SSL_REDIRECT",
        "SECURE_PROXY_SSL_HEADER",
        "SECURE_HSTS_SECONDS",
        "SESSION_COOKIE_AGE",
        "SESSION_MAX_AGE_SECONDS",
        "AXES_FAILURE_LIMIT",
        "AXES_COOLOFF_TIME",
        **production(
            SECURE_SSL_REDIRECT="false",
            BEHIND_PROXY="true",
            SECURE_HSTS_SECONDS="300",
            SESSION_IDLE_MINUTES="10",
            SESSION_MAX_HOURS="8",
            SIGN_IN_FAILURE_LIMIT="3",
            SIGN_IN_LOCKOUT_MINUTES="60",
        ),
    )
    assert found == {
        "SECURE_SSL_REDIRECT": False,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "SECURE_HSTS_SECONDS": 300,
        "SESSION_COOKIE_AGE": 600,
        "SESSION_MAX_AGE_SECONDS": 8 * 60 * 60,
        "AXES_FAILURE_LIMIT": 3,
        "AXES_COOLOFF_TIME": "1:00:00",
    }


def test_a_session_limit_below_one_stops_start_up_naming_the_variables():
    result = run_python("manage.py", "check", DEBUG="true", SESSION_IDLE_MINUTES="0")
    assert result.returncode == 2
    assert "SESSION_IDLE_MINUTES" in result.stderr
    assert "Traceback" not in result.stderr


# --- HTTPS and headers ------------------------------------------------------------------


@override_settings(SECURE_SSL_REDIRECT=True)
def test_plain_http_is_redirected_to_https_except_the_health_check(client, db):
    response = client.get("/sign-in/")
    assert response.status_code == 301
    assert response.url == "https://testserver/sign-in/"
    assert client.get("/sign-in/", secure=True).status_code == 200
    assert client.get("/health/").status_code in (200, 503)


def test_https_answers_carry_hsts_and_the_other_security_headers(client, db):
    response = client.get("/sign-in/", secure=True)
    assert response.headers["Strict-Transport-Security"] == (
        "max-age=31536000; includeSubDomains; preload"
    )
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"


def test_session_and_csrf_cookies_are_secure_and_http_only(client, caseworker):
    client.get("/sign-in/")
    response = sign_in(client, caseworker.username)
    assert response.status_code == 302
    for name in ("sessionid", "csrftoken"):
        cookie = client.cookies[name]
        assert cookie["secure"] is True, name
        assert cookie["httponly"] is True, name


# --- content security policy ------------------------------------------------------------


def test_every_page_carries_the_policy_with_no_inline_script(
    client, client_for, manager, mp_inbox_officer, outsider
):
    case = factories.case()
    anonymous = ["/sign-in/", "/admin/login/", "/no-such-page/"]
    for_manager = [
        "/cases/",
        f"/cases/{case.pk}/",
        "/cases/saved-filters/",
        f"/cases/{case.pk}/disclosure/",
        "/offers/new/",
        "/offers/import/",
        "/dashboard/",
        "/dashboard/fairness/",
        "/settings/",
        "/settings/clinical-need/",
        "/settings/routing/",
    ]
    answers = [client.get(url) for url in anonymous]
    answers += [client_for(manager).get(url) for url in for_manager]
    answers.append(client_for(mp_inbox_officer).get("/mp-inbox/"))
    answers.append(client_for(outsider).get("/dashboard/"))  # 403 page

    assert {response.status_code for response in answers} == {200, 403, 404}
    for response in answers:
        url = response.request["PATH_INFO"]
        assert policy_of(response) == POLICY, url
        assert "unsafe-inline" not in response.headers["Content-Security-Policy"], url
        assert "unsafe-eval" not in response.headers["Content-Security-Policy"], url


TEMPLATES = BASE_DIR / "templates"
# Rendered into a PDF by xhtml2pdf, which reads only a <style> element; never served as HTML.
PDF_ONLY = {"exports/disclosure_pdf.html"}
INLINE = {
    "inline script": re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.I),
    "event handler attribute": re.compile(r"\son[a-z]+\s*=", re.I),
    "style attribute": re.compile(r"\sstyle\s*=", re.I),
    "style element": re.compile(r"<style\b", re.I),
    "javascript: URL": re.compile(r"javascript:", re.I),
}


def test_no_template_has_inline_script_or_style():
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        name = path.relative_to(TEMPLATES).as_posix()
        if name in PDF_ONLY:
            continue
        text = path.read_text()
        found += [f"{name}: {what}" for what, pattern in INLINE.items() if pattern.search(text)]
    assert found == []


# --- sessions ---------------------------------------------------------------------------


def test_a_session_expires_after_thirty_idle_minutes(client, caseworker):
    response = sign_in(client, caseworker.username)
    assert response.cookies["sessionid"]["max-age"] == IDLE.total_seconds()
    expiry = session_of(client).expire_date
    assert abs(expiry - (timezone.now() + IDLE)) < timedelta(minutes=1)


def _refreshed_ago(client: Client, seconds: float) -> None:
    session = client.session
    session[REFRESHED_AT] = int(time.time() - seconds)
    session.save()


def session_writes(captured) -> list[str]:
    return [
        query["sql"]
        for query in captured.captured_queries
        if "django_session" in query["sql"]
        and query["sql"].lstrip().upper().startswith(("UPDATE", "INSERT", "DELETE"))
    ]


def test_each_request_pushes_the_idle_expiry_on(client, caseworker):
    sign_in(client, caseworker.username)
    _refreshed_ago(client, 61)
    Session.objects.filter(pk=session_of(client).pk).update(
        expire_date=timezone.now() + timedelta(minutes=1)
    )
    response = client.get("/cases/")
    assert response.status_code == 200
    assert response.cookies["sessionid"]["max-age"] == IDLE.total_seconds()
    assert session_of(client).expire_date > timezone.now() + IDLE - timedelta(minutes=1)


def test_the_idle_expiry_is_pushed_on_at_most_once_a_minute(client, caseworker):
    sign_in(client, caseworker.username)
    expiry = session_of(client).expire_date

    with CaptureQueriesContext(connection) as captured:
        response = client.get("/cases/")
    assert response.status_code == 200
    assert session_writes(captured) == []
    assert "sessionid" not in response.cookies
    assert session_of(client).expire_date == expiry

    _refreshed_ago(client, 60)
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/cases/")
    assert response.status_code == 200
    assert len(session_writes(captured)) == 1
    assert response.cookies["sessionid"]["max-age"] == IDLE.total_seconds()
    assert abs(client.session[REFRESHED_AT] - time.time()) < 60


def test_an_idle_session_is_refused_on_the_server(client, caseworker):
    sign_in(client, caseworker.username)
    # Thirty minutes without a request: the stored session has expired, and it is the
    # server that refuses it, whatever the browser still sends.
    Session.objects.filter(pk=session_of(client).pk).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    response = client.get("/cases/")
    assert response.status_code == 302
    assert response.url == "/sign-in/?next=/cases/"


def _signed_in_ago(client: Client, seconds: float) -> None:
    session = client.session
    session[SIGNED_IN_AT] = int(time.time() - seconds)
    session.save()


def test_sign_in_records_when_the_session_started(client, caseworker):
    sign_in(client, caseworker.username)
    assert abs(client.session[SIGNED_IN_AT] - time.time()) < 60


def test_an_active_session_lasts_until_twelve_hours_after_sign_in(client, caseworker):
    sign_in(client, caseworker.username)
    _signed_in_ago(client, MAX_AGE - 60)
    assert client.get("/cases/").status_code == 200


def test_a_session_ends_twelve_hours_after_sign_in_however_active(client, caseworker, security_log):
    sign_in(client, caseworker.username)
    old_key = session_of(client).session_key
    _signed_in_ago(client, MAX_AGE + 1)

    response = client.get("/cases/?queue=vip")
    assert response.status_code == 302
    assert response.url == "/sign-in/?next=/cases/%3Fqueue%3Dvip"
    assert not Session.objects.filter(session_key=old_key).exists()
    assert client.get("/cases/").status_code == 302
    page = client.get("/sign-in/")
    assert "You have been signed out because you signed in more than 12 hours ago" in page.text
    [expired] = events_named(security_log, "session_expired")
    assert expired["username"] == caseworker.username


def test_a_signed_in_session_without_a_sign_in_time_is_ended(client, caseworker):
    sign_in(client, caseworker.username)
    session = client.session
    del session[SIGNED_IN_AT]
    session.save()
    assert client.get("/cases/").status_code == 302


def test_sign_out_ends_the_session_on_the_server(client, caseworker, security_log):
    sign_in(client, caseworker.username)
    old_key = session_of(client).session_key
    assert client.get("/cases/").status_code == 200

    response = client.post("/sign-out/")
    assert response.status_code == 302
    assert not Session.objects.filter(session_key=old_key).exists()

    # Someone who kept a copy of the old cookie gets nothing with it.
    replay = Client()
    replay.cookies["sessionid"] = old_key
    response = replay.get("/cases/")
    assert response.status_code == 302
    assert response.url.startswith("/sign-in/")
    [signed_out] = events_named(security_log, "sign_out")
    assert signed_out["username"] == caseworker.username


def test_sign_out_needs_a_post(client, caseworker):
    sign_in(client, caseworker.username)
    assert client.get("/sign-out/").status_code == 405
    assert client.get("/cases/").status_code == 200


# --- sign-in lockout --------------------------------------------------------------------


def _fail(client: Client, username: str, times: int, **extra) -> list:
    return [sign_in(client, username, WRONG, **extra) for _ in range(times)]


def _age_attempts(username: str, by: timedelta) -> None:
    for attempt in AccessAttempt.objects.filter(username=username):
        AccessAttempt.objects.filter(pk=attempt.pk).update(attempt_time=attempt.attempt_time - by)


def test_five_wrong_passwords_lock_the_account_even_against_the_right_one(
    client, caseworker, security_log
):
    answers = _fail(client, caseworker.username, 5)
    assert [response.status_code for response in answers] == [200, 200, 200, 200, 429]
    assert "Please enter a correct username and password" in answers[0].text

    response = sign_in(client, caseworker.username)
    assert response.status_code == 429
    assert "You cannot sign in for 15 minutes" in response.text
    assert "The wrong password was entered for this username 5 times" in response.text
    assert response.headers["Retry-After"] == "900"
    assert policy_of(response) == POLICY
    assert "_auth_user_id" not in client.session
    assert client.get("/cases/").status_code == 302

    locked = events_named(security_log, "sign_in_locked_out")
    assert locked and locked[0]["username"] == caseworker.username
    assert locked[0]["failure_limit"] == 5
    assert len(events_named(security_log, "sign_in")) == 0


def test_the_lock_ends_after_the_cool_off(client, caseworker):
    _fail(client, caseworker.username, 5)
    _age_attempts(caseworker.username, timedelta(minutes=14))
    assert sign_in(client, caseworker.username).status_code == 429

    _age_attempts(caseworker.username, timedelta(minutes=1, seconds=1))
    response = sign_in(client, caseworker.username)
    assert response.status_code == 302
    assert response.url == "/cases/"
    # A successful sign-in clears the count.
    assert not AccessAttempt.objects.filter(username=caseworker.username).exists()


def test_trying_during_the_lock_does_not_extend_it(client, caseworker):
    _fail(client, caseworker.username, 5)
    _age_attempts(caseworker.username, timedelta(minutes=10))
    _fail(client, caseworker.username, 3)
    _age_attempts(caseworker.username, timedelta(minutes=5, seconds=1))
    assert sign_in(client, caseworker.username).status_code == 302


def test_changing_address_or_browser_does_not_dodge_the_lock(client, caseworker):
    for n in range(5):
        sign_in(
            client,
            caseworker.username,
            WRONG,
            REMOTE_ADDR=f"203.0.113.{n + 1}",
            HTTP_USER_AGENT=f"Browser/{n}",
        )
    response = sign_in(
        client, caseworker.username, REMOTE_ADDR="198.51.100.9", HTTP_USER_AGENT="Other/1"
    )
    assert response.status_code == 429


def test_the_lock_is_on_the_username_not_the_address(client, caseworker, manager):
    _fail(client, caseworker.username, 5)
    other = Client()
    assert sign_in(other, manager.username).status_code == 302


def test_a_successful_sign_in_resets_the_count(client, caseworker):
    _fail(client, caseworker.username, 4)
    assert sign_in(client, caseworker.username).status_code == 302
    client.post("/sign-out/")
    answers = _fail(client, caseworker.username, 4)
    assert [response.status_code for response in answers] == [200] * 4
    assert sign_in(client, caseworker.username).status_code == 302


def test_an_unknown_username_locks_the_same_way(client, db):
    answers = _fail(client, "nobody.here", 5)
    assert answers[-1].status_code == 429
    assert "You cannot sign in for 15 minutes" in answers[-1].text


def test_the_admin_sign_in_is_locked_too(client, manager):
    manager.is_staff = True
    manager.save(update_fields=["is_staff"])
    for _ in range(5):
        client.post("/admin/login/", {"username": manager.username, "password": WRONG})
    response = client.post("/admin/login/", {"username": manager.username, "password": PASSWORD})
    assert response.status_code == 429


def test_no_password_is_stored_with_the_failed_attempts(client, caseworker):
    _fail(client, caseworker.username, 2)
    [attempt] = AccessAttempt.objects.filter(username=caseworker.username)
    assert WRONG not in attempt.post_data


# --- security log -----------------------------------------------------------------------


def test_sign_in_is_logged_with_username_address_and_path(client, caseworker, security_log):
    sign_in(client, caseworker.username, REMOTE_ADDR="203.0.113.7")
    [event] = events_named(security_log, "sign_in")
    assert event == {
        "event": "sign_in",
        "username": caseworker.username,
        "ip": "203.0.113.7",
        "path": "/sign-in/",
    }
    [record] = [r for r in security_log.records if r.name == "vipcases.security"]
    assert record.levelno == logging.INFO
    assert record.getMessage() == (
        f"event=sign_in username={caseworker.username} ip=203.0.113.7 path=/sign-in/"
    )


def test_a_failed_sign_in_is_logged_without_the_password(client, caseworker, security_log):
    sign_in(client, caseworker.username, "s3cret-guess", REMOTE_ADDR="203.0.113.8")
    [event] = events_named(security_log, "sign_in_failed")
    assert event["username"] == caseworker.username
    assert event["ip"] == "203.0.113.8"
    assert event["path"] == "/sign-in/"
    assert "s3cret-guess" not in security_log.text
    [record] = [r for r in security_log.records if "sign_in_failed" in r.getMessage()]
    assert record.levelno == logging.WARNING


def test_a_refused_page_is_logged(client_for, outsider, security_log):
    assert client_for(outsider).get("/dashboard/").status_code == 403
    [event] = events_named(security_log, "access_denied")
    assert event["username"] == outsider.username
    assert event["path"] == "/dashboard/"
    assert event["method"] == "GET"
    assert event["reason"] == "Your role does not give access to this page."


def test_a_csrf_failure_is_logged_as_refused(caseworker, security_log):
    client = Client(enforce_csrf_checks=True)
    client.force_login(caseworker)
    assert client.post("/sign-out/").status_code == 403
    [event] = events_named(security_log, "access_denied")
    assert event["method"] == "POST"
    assert event["path"] == "/sign-out/"


def test_a_username_cannot_forge_a_log_line(client, db, security_log):
    sign_in(client, "mallory\nevent=sign_in username=admin")
    [record] = [r for r in security_log.records if r.name == "vipcases.security"]
    assert "\n" not in record.getMessage()
    assert 'username="mallory\\nevent=sign_in username=admin"' in record.getMessage()


def test_the_security_log_goes_to_stderr_at_info_whatever_the_log_level():
    result = run_python(
        "-c",
        "import django; django.setup(); "
        "from vipcases.security import logger; logger.info('event=probe')",
        DEBUG="true",
        LOG_LEVEL="ERROR",
    )
    assert result.returncode == 0, result.stderr
    assert "INFO vipcases.security event=probe" in result.stderr
    assert result.stdout == ""


def test_the_client_address_comes_from_the_proxy_only_behind_one():
    factory = RequestFactory()
    request = factory.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.5")
    assert client_ip(request) == "10.0.0.2"
    with override_settings(BEHIND_PROXY=True):
        # The right-most entry is the one our proxy added; the rest the client wrote.
        assert client_ip(request) == "203.0.113.5"
        forged = factory.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="not-an-ip")
        assert client_ip(forged) == "10.0.0.2"


# --- the dependency audit ---------------------------------------------------------------


@pytest.fixture
def audit(monkeypatch):
    """Run scripts/audit_dependencies.py with pip-audit's answer chosen by the test."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "audit_dependencies", BASE_DIR / "scripts" / "audit_dependencies.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def run(dependencies=None, *, returncode=0, stdout=None, pages=None):
        """`pages`: PyPI's project page of each package by name (a missing one does not
        answer); no test reaches the network."""
        if stdout is None:
            stdout = json.dumps({"dependencies": dependencies, "fixes": []})
        answer = subprocess.CompletedProcess([], returncode, stdout, "pip-audit's stderr")
        monkeypatch.setattr(module.subprocess, "run", lambda *args, **kwargs: answer)

        def project_json(name):
            if name not in (pages or {}):
                raise OSError("no network in this test")
            return pages[name]

        monkeypatch.setattr(module, "project_json", project_json)
        return module.main(str(BASE_DIR / "requirements.lock"))

    return run


def _page(version: str, *vulns: dict) -> dict:
    return {"info": {"version": version}, "vulnerabilities": list(vulns)}


def test_the_audit_fails_on_a_known_vulnerability(audit, capsys):
    vulnerable = {
        "name": "example",
        "version": "1.0",
        "vulns": [{"id": "PYSEC-0000-1", "fix_versions": ["1.1"], "aliases": ["CVE-0000-1"]}],
    }
    status = audit([{"name": "django", "version": "5.2", "vulns": []}, vulnerable], returncode=1)
    assert status == 1
    assert "example 1.0: PYSEC-0000-1 (CVE-0000-1); fixed in 1.1" in capsys.readouterr().out


def test_the_audit_passes_when_no_vulnerability_is_known(audit):
    assert audit([{"name": "django", "version": "5.2", "vulns": []}]) == 0


def test_the_audit_fails_when_pip_audit_fails(audit):
    assert audit(returncode=2, stdout="") == 1


def test_the_audit_warns_when_no_package_could_be_checked(audit, capsys, monkeypatch):
    unreachable = [{"name": "django", "skip_reason": "Dependency not found on PyPI"}]
    assert audit(unreachable) == 0
    assert "no package could be audited" in capsys.readouterr().err
    monkeypatch.setenv("AUDIT_STRICT", "true")
    assert audit(unreachable) == 1


def test_packages_pip_audit_could_not_check_are_looked_up_on_their_project_page(audit, capsys):
    # pip-audit's per-version pages are not served here; the project page lists the
    # vulnerabilities of the latest release, so it audits packages pinned at it.
    unreachable = [
        {"name": name, "skip_reason": "Dependency not found on PyPI"}
        for name in ("amqp", "billiard", "django")
    ]
    pages = {"amqp": _page("5.4.2"), "billiard": _page("4.3.2"), "django": _page("9.0")}

    assert audit(unreachable, pages=pages) == 0
    out, err = capsys.readouterr()
    assert "PyPI's project pages checked 2 of the 3 packages" in out
    assert "0 with known vulnerabilities" in out
    assert "not audited: django 5.2.19: the latest release is 9.0" in err
    assert "no package could be audited" not in err


def test_a_vulnerability_on_the_project_page_of_a_pinned_release_fails_the_audit(audit, capsys):
    unreachable = [{"name": "amqp", "skip_reason": "Dependency not found on PyPI"}]
    vuln = {"id": "PYSEC-0000-2", "aliases": ["CVE-0000-2"], "fixed_in": [], "withdrawn": None}
    withdrawn = {"id": "PYSEC-0000-3", "aliases": [], "fixed_in": [], "withdrawn": "2026-01-01"}

    assert audit(unreachable, pages={"amqp": _page("5.4.2", vuln, withdrawn)}) == 1
    out = capsys.readouterr().out
    assert "amqp 5.4.2: PYSEC-0000-2 (CVE-0000-2); fixed in no fixed version yet" in out
    assert "PYSEC-0000-3" not in out  # withdrawn
