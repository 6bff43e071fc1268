"""Fault drills: the app on real services of its own, broken on purpose.

One stack per session (tests/drills/stack.py): a PostgreSQL cluster made with initdb in
a temporary directory, a Redis child process, the migrated database, the web on gunicorn
and a Celery worker, each on a free port. Nothing uses the machine's shared PostgreSQL
or Redis, so the drills need neither DATABASE_URL nor REDIS_URL; they need the server
binaries (initdb, pg_ctl, redis-server). Without them a drill is skipped with the
reason, except with CI=true, where that is a failure.

Every drill starts with every service up (a drill that failed half-way is repaired
first) and ends by checking the invariants of tests/drills/invariants.py.
"""

import pytest

from tests.conftest import IN_CI
from tests.drills.stack import Stack, missing_prerequisites


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "drill: a fault drill on services of its own (tests/drills/)"
    )


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/drills/" in item.nodeid:
            item.add_marker(pytest.mark.drill)


@pytest.fixture(scope="session")
def drill_stack():
    missing = missing_prerequisites()
    if missing:
        reason = "fault drills need " + "; ".join(missing)
        if IN_CI:
            pytest.fail(f"{reason} (CI=true: a missing service fails the run)", pytrace=False)
        pytest.skip(reason)
    stack = Stack()
    try:
        stack.start()
        yield stack
    finally:
        stack.destroy()


@pytest.fixture
def stack(drill_stack):
    """The session's stack with every service running."""
    drill_stack.ensure_healthy()
    return drill_stack


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing drill shows the end of each service's log."""
    report = yield
    stack = getattr(item, "funcargs", {}).get("stack")
    if report.failed and stack is not None:
        for title, text in stack.logs():
            report.sections.append((title, text))
    return report
