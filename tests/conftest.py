"""The test harness: named people, service detection and a real Celery worker.

Services. Tests marked `postgres` need the suite to run on PostgreSQL (DATABASE_URL);
tests marked `redis`, or using `celery_worker_process`, need a Redis that answers PING
(REDIS_URL) and, for the worker, a database it can share (PostgreSQL). Without them
the tests are skipped with the reason, except when CI=true: there a missing service is
a failure, never a silent skip.

Celery. Unit tests run tasks in process (eager) whatever REDIS_URL says, so they
behave the same on every machine. `celery_worker_process` starts one real worker per
session on a private Redis database, and for each test that uses it points the
in-process app at that broker (not eager), restoring it afterwards.

SECRET_KEY: pytest-django imports the settings before this file is loaded, so a
default set here would come too late; `make test` and .ci/run provide one.
"""

import importlib
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, Permission, User
from django.db import connection
from django.test import Client

from vipcases.celery import app as celery_app

BASE_DIR = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"

NEEDS_POSTGRES = "needs PostgreSQL: set DATABASE_URL"
NEEDS_REDIS = "needs Redis: set REDIS_URL"

# The worker's private Redis database, flushed when the worker starts.
WORKER_REDIS_DB = int(os.environ.get("TEST_CELERY_REDIS_DB", "15"))
WORKER_READY_TIMEOUT = 60

PASSWORD = "casework-test-password"

_missing_service_key = pytest.StashKey[str]()
_redis_reason_cache: list[str | None] = []


# --- Session configuration ----------------------------------------------------------


def pytest_configure(config):
    # Hashing with Django's production hasher costs about half a second per user.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Unit tests run tasks in process even when REDIS_URL is set; only tests using
    # celery_worker_process send them to a broker.
    celery_eager(True)
    # WhiteNoise warns that STATIC_ROOT is missing; tests serve static files from finders.
    config.addinivalue_line("filterwarnings", "ignore:No directory at:UserWarning:django")


def pytest_report_header(config):
    database = "postgresql" if settings.DATABASE_IS_POSTGRES else connection.vendor
    redis = _redacted(os.environ.get("REDIS_URL", "")) or "not set"
    return f"vipcases services: database={database}, REDIS_URL={redis}, CI={IN_CI}"


# --- Service detection --------------------------------------------------------------


def postgres_unavailable_reason() -> str | None:
    return None if settings.DATABASE_IS_POSTGRES else NEEDS_POSTGRES


def redis_unavailable_reason() -> str | None:
    """None when REDIS_URL answers PING within a second; checked once per session."""
    if not _redis_reason_cache:
        _redis_reason_cache.append(_check_redis())
    return _redis_reason_cache[0]


def _check_redis() -> str | None:
    url = os.environ.get("REDIS_URL", "")
    if not url:
        return NEEDS_REDIS
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # noqa: BLE001 - any failure means unavailable
        return f"{NEEDS_REDIS} ({_redacted(url)} did not answer PING within 1 s: {exc})"
    return None


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


CHROMIUM = "/usr/bin/chromium"
NEEDS_CHROMIUM = f"needs Chromium at {CHROMIUM} (apt-get install chromium)"


def _missing_services(item) -> list[str]:
    uses_worker = "celery_worker_process" in getattr(item, "fixturenames", ())
    reasons = []
    if item.get_closest_marker("browser") and not os.access(CHROMIUM, os.X_OK):
        reasons.append(NEEDS_CHROMIUM)
    if item.get_closest_marker("postgres") or uses_worker:
        reasons.append(postgres_unavailable_reason())
    if item.get_closest_marker("redis") or uses_worker:
        reasons.append(redis_unavailable_reason())
    return [reason for reason in reasons if reason]


def pytest_collection_modifyitems(config, items):
    for item in items:
        missing = _missing_services(item)
        if not missing:
            continue
        reason = "; ".join(missing)
        if IN_CI:
            item.stash[_missing_service_key] = reason
        else:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    reason = item.stash.get(_missing_service_key, None)
    if reason:
        pytest.fail(f"{reason} (CI=true: a missing service fails the run)", pytrace=False)


def _require_service(reason: str | None) -> None:
    if reason is None:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: a missing service fails the run)", pytrace=False)
    pytest.skip(reason)


# --- Named people -------------------------------------------------------------------

ROLE_PERMISSIONS = importlib.import_module("vipcases.migrations.0002_roles").ROLE_PERMISSIONS


def role_group(role: str) -> Group:
    """The role's group, as migration 0002_roles made it.

    A transactional test empties every table when it ends, the groups of that data
    migration included; the next test finds them gone, so they are remade here.
    """
    group, created = Group.objects.get_or_create(name=role)
    if created:
        wanted = ROLE_PERMISSIONS[role]
        found = _permissions(wanted)
        if len(found) < len(wanted):
            # A flush can leave the content-type cache pointing at rows that are gone,
            # so permissions were not recreated: make them again from a clean cache.
            from django.apps import apps
            from django.contrib.auth.management import create_permissions
            from django.contrib.contenttypes.management import create_contenttypes
            from django.contrib.contenttypes.models import ContentType

            ContentType.objects.clear_cache()
            for app_config in apps.get_app_configs():
                create_contenttypes(app_config, verbosity=0)
                create_permissions(app_config, verbosity=0)
            found = _permissions(wanted)
        group.permissions.add(*found)
    return group


def _permissions(wanted) -> list:
    from django.db.models import Q

    query = Q(pk__in=[])
    for app_label, codename in wanted:
        query |= Q(content_type__app_label=app_label, codename=codename)
    return list(Permission.objects.filter(query))


def _person(username: str, first_name: str, last_name: str, role: str | None) -> User:
    user = User.objects.create_user(
        username=username,
        password=PASSWORD,
        first_name=first_name,
        last_name=last_name,
        email=f"{username}@example.gov.uk",
    )
    if role:
        user.groups.add(role_group(role))
    return user


@pytest.fixture
def caseworker(db) -> User:
    return _person("cw.priya", "Priya", "Raman", "caseworker")


@pytest.fixture
def manager(db) -> User:
    return _person("mgr.tomas", "Tomas", "Novak", "manager")


@pytest.fixture
def mp_inbox_officer(db) -> User:
    return _person("mpi.ayo", "Ayo", "Adeyemi", "mp_inbox")


@pytest.fixture
def outsider(db) -> User:
    """Signed in, but in no role group."""
    return _person("outsider.sam", "Sam", "Jones", None)


@pytest.fixture
def client_for(db):
    """`client_for(user)` returns a django.test.Client signed in as that user."""

    def make(user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture(autouse=True)
def _starting_tables(request):
    """Transactional tests empty every table when they end, data-migration rows included;
    put back the starting clinical-need table and routing policy for the next one."""
    found = request.node.get_closest_marker("django_db")
    if found is None or not found.kwargs.get("transaction"):
        return
    request.getfixturevalue("transactional_db")
    from django.apps import apps

    importlib.import_module("triage.migrations.0002_starting_tables").create(apps, None)


# --- A real Celery worker -----------------------------------------------------------


class CeleryWorkerProcess:
    """One `celery -A vipcases worker` in its own process group, logging to `log_path`.

    It consumes the queues a deployed worker would (no -Q), so task routing is tested too.
    """

    def __init__(self, *, env: dict[str, str], broker_url: str, log_path: Path):
        self.env = env
        self.broker_url = broker_url
        self.log_path = log_path
        self.nodename = f"pytest-{os.getpid()}-{uuid.uuid4().hex[:6]}@localhost"
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "vipcases",
            "worker",
            "--pool=prefork",
            "--concurrency=2",
            "--loglevel=info",
            f"--hostname={self.nodename}",
            "--without-mingle",
            "--without-gossip",
        ]

    def is_alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        if self.is_alive():
            return
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - fixed command, our interpreter
                self.command(),
                cwd=BASE_DIR,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_ready(offset)

    def _wait_ready(self, offset: int) -> None:
        deadline = time.monotonic() + WORKER_READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the Celery worker exited with {self.process.returncode} before it was "
                    f"ready; its log ({self.log_path}) ends:\n{self.log_tail()}"
                )
            with open(self.log_path, "rb") as log:
                log.seek(offset)
                if f"{self.nodename} ready.".encode() in log.read():
                    return
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(
            f"the Celery worker was not ready within {WORKER_READY_TIMEOUT} s; "
            f"its log ({self.log_path}) ends:\n{self.log_tail()}"
        )

    def stop(self, timeout: float = 30) -> None:
        """Warm shutdown (SIGTERM): running tasks finish first. Killed if it hangs."""
        if not self.is_alive():
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        else:
            self._kill_group()

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes at once, as a crashed machine would."""
        if self.process is None:
            return
        self._kill_group()
        self.process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def _kill_group(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + quote(name)))


def _with_redis_db(url: str, db: int) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{db}"))


@pytest.fixture(scope="session")
def celery_worker_session(django_db_setup, django_db_blocker, tmp_path_factory):
    """The session's worker process, on the test database and a private Redis database.

    It depends on django_db_setup so it stops before the test database is dropped
    (PostgreSQL refuses to drop a database the worker is still connected to).
    """
    _require_service(postgres_unavailable_reason())
    _require_service(redis_unavailable_reason())
    import redis

    with django_db_blocker.unblock():
        test_database = connection.settings_dict["NAME"]
    broker_url = _with_redis_db(os.environ["REDIS_URL"], WORKER_REDIS_DB)
    client = redis.Redis.from_url(broker_url, socket_connect_timeout=1, socket_timeout=5)
    client.flushdb()
    client.close()

    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(
        DJANGO_SETTINGS_MODULE="vipcases.settings",
        DATABASE_URL=_with_database(os.environ["DATABASE_URL"], test_database),
        REDIS_URL=broker_url,
        SECRET_KEY=settings.SECRET_KEY,
        PYTHONUNBUFFERED="1",
        # A task held by a killed worker comes back after this many seconds, not an hour.
        CELERY_VISIBILITY_TIMEOUT="10",
        CELERY_UNACKED_RESTORE_INTERVAL="2",
        CELERY_UNACKED_RESTORE_THROTTLE="1",
    )
    worker = CeleryWorkerProcess(
        env=env,
        broker_url=broker_url,
        log_path=tmp_path_factory.mktemp("celery") / "worker.log",
    )
    worker.start()
    yield worker
    worker.stop()


def celery_eager(eager: bool) -> None:
    """Run tasks in process (or not). Celery 5.6 reads a setting configured from Django's
    settings under its namespaced name (CELERY_TASK_ALWAYS_EAGER) before the plain one,
    so both are set."""
    celery_app.conf.update(task_always_eager=eager, CELERY_TASK_ALWAYS_EAGER=eager)


def point_at_broker(url: str) -> None:
    """Send this process's tasks to `url` from now on. Celery 5.6 reads the broker URL
    from CELERY_BROKER_URL in the environment before its configuration, so that is set
    too, and the pooled connections to the old broker are forgotten."""
    celery_app.conf.update(broker_url=url, CELERY_BROKER_URL=url)
    os.environ["CELERY_BROKER_URL"] = url
    _reset_broker_connections()


def _reset_broker_connections() -> None:
    """Forget pooled connections so the next send uses the current broker_url.

    Kombu keeps the pools in a registry keyed by broker URL, so they are dropped here,
    not closed: closing one would break the next test that switches to the same URL.
    """
    celery_app._pool = None
    amqp = celery_app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


@pytest.fixture
def celery_worker_process(request, celery_worker_session):
    """The real worker, with this process sending tasks to its broker for the test.

    The worker process lives for the session (restarted here if a test killed it);
    the in-process app is switched to the broker only while the test runs, so unit
    tests elsewhere stay eager. The worker reads committed data, so the test must be
    marked django_db(transaction=True).
    """
    marker = request.node.get_closest_marker("django_db")
    transactional = "transactional_db" in request.fixturenames or (
        marker is not None and marker.kwargs.get("transaction", False)
    )
    if not transactional:
        pytest.fail(
            "tests using celery_worker_process must be marked "
            "@pytest.mark.django_db(transaction=True): the worker sees only committed data",
            pytrace=False,
        )
    worker = celery_worker_session
    worker.start()
    saved_url = celery_app.conf.broker_url
    saved_env = os.environ.get("CELERY_BROKER_URL")
    celery_eager(False)
    point_at_broker(worker.broker_url)
    try:
        yield worker
    finally:
        celery_eager(True)
        celery_app.conf.update(broker_url=saved_url, CELERY_BROKER_URL=saved_url)
        if saved_env is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = saved_env
        _reset_broker_connections()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test that used the worker shows the end of the worker's log."""
    report = yield
    worker = getattr(item, "funcargs", {}).get("celery_worker_process")
    if report.failed and worker is not None:
        report.sections.append(("Celery worker log (end)", worker.log_tail()))
    return report


@pytest.fixture
def security_log(caplog):
    """caplog, fed by vipcases.security (which does not propagate to the root logger)."""
    logger = logging.getLogger("vipcases.security")
    logger.addHandler(caplog.handler)
    try:
        yield caplog
    finally:
        logger.removeHandler(caplog.handler)
