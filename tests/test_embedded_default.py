"""`make run`'s steps on a fresh embedded SQLite database, as someone trying the app
from a new clone runs them: migrate, seed the demo, sign in and open the pages.

The rest of the suite runs on whatever DATABASE_URL names (PostgreSQL in CI), so this is
where CI checks the embedded default: every migration on SQLite, the demo data, the
append-only triggers on the events (which SQLite loses if a migration remakes the table),
and the pages served from that database with tasks run in process.
"""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Signs in through the sign-in page as a demo user and prints the status of each page.
PAGES = """
import django
django.setup()
from django.test import Client
client = Client(HTTP_HOST="127.0.0.1")
signed_in = client.post("/sign-in/", {{"username": "{user}", "password": "demo-password-2020"}})
assert signed_in.status_code == 302, signed_in.status_code
for url in {urls!r}:
    print(url, client.get(url).status_code)
"""


@pytest.fixture(scope="module")
def embedded(tmp_path_factory) -> dict:
    """A migrated and seeded SQLite database, and the environment that names it."""
    path = tmp_path_factory.mktemp("embedded") / "db.sqlite3"
    env = {key: value for key, value in os.environ.items() if key not in {"REDIS_URL"}}
    env.update(
        DATABASE_URL=f"sqlite:///{path}",
        DEBUG="true",
        DJANGO_SETTINGS_MODULE="vipcases.settings",
    )
    env.pop("SECRET_KEY", None)  # DEBUG gives a development key, as for `make run`
    seeded = {"env": env, "path": path}
    seeded["migrate"] = _manage(env, "migrate", "--noinput")
    seeded["seed"] = _manage(env, "seed_demo", "--if-empty")
    return seeded


def _manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - fixed command
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_the_demo_is_seeded_with_its_sign_ins(embedded):
    assert embedded["migrate"].returncode == 0, embedded["migrate"].stderr
    seed = embedded["seed"]
    assert seed.returncode == 0, seed.stderr
    assert "demo-password-2020" in seed.stdout

    with sqlite3.connect(embedded["path"]) as db:
        cases = db.execute("SELECT count(*) FROM vipcases_case").fetchone()[0]
        routed = db.execute(
            "SELECT count(*) FROM vipcases_case WHERE queue <> 'triage'"
        ).fetchone()[0]
    assert cases >= 300
    assert routed > 0  # tasks ran in process: cases were scored and routed


def test_every_timeline_verifies_and_the_triggers_are_in_place(embedded):
    verified = _manage(embedded["env"], "verify_events")

    assert verified.returncode == 0, verified.stdout + verified.stderr
    with sqlite3.connect(embedded["path"]) as db, pytest.raises(sqlite3.IntegrityError):
        db.execute("UPDATE vipcases_caseevent SET rationale = 'changed'")
    with sqlite3.connect(embedded["path"]) as db, pytest.raises(sqlite3.IntegrityError):
        db.execute("DELETE FROM vipcases_caseevent")


@pytest.mark.parametrize(
    ("user", "urls"),
    [
        ("caseworker", ["/cases/", "/cases/?tab=rapid_response", "/cases/1/"]),
        ("manager", ["/dashboard/", "/dashboard/fairness/", "/offers/import/"]),
        ("mpinbox", ["/mp-inbox/"]),
    ],
)
def test_each_role_opens_its_pages(embedded, user, urls):
    shown = subprocess.run(  # noqa: S603 - fixed command
        [sys.executable, "-c", PAGES.format(user=user, urls=urls)],
        cwd=ROOT,
        env=embedded["env"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split() == [part for url in urls for part in (url, "200")]
