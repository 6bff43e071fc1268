"""Start-up refuses bad configuration with one line that names the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def manage(*args, **env):
    environment = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SECRET_KEY", "DEBUG"}
    }
    # pytest runs with tests.settings, which supplies a SECRET_KEY; start-up is tested
    # with the app's own settings.
    environment["DJANGO_SETTINGS_MODULE"] = "vipcases.settings"
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off():
    result = manage("check", DEBUG="false")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "vipcases: configuration error: SECRET_KEY must be set when DEBUG is off (set DEBUG=true for development)"
    ]


def test_it_starts_in_debug_without_a_secret_key():
    result = manage("check", DEBUG="true")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("url", ["nonsense", "mysqlx://what@ever/db"])
def test_a_malformed_database_url_is_one_line_naming_the_variable(url):
    result = manage("check", DEBUG="true", DATABASE_URL=url)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "DATABASE_URL" in lines[0]
    assert "Traceback" not in result.stderr


def test_an_unreachable_database_is_one_line_naming_the_variable():
    result = manage("migrate", DEBUG="true", DATABASE_URL="postgres://nobody@127.0.0.1:1/nothing")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("vipcases: cannot use the database named by DATABASE_URL")


def test_a_bad_debug_value_names_the_variable():
    result = manage("check", DEBUG="maybe", SECRET_KEY="x")
    assert result.returncode == 2
    assert "DEBUG must be true or false" in result.stderr


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "INTAKE_TRIAGE_BATCH_MS must be 0 or more, not -1"),
        ("0.1", "INTAKE_TRIAGE_BATCH_MS must be a whole number, not '0.1'"),
    ],
)
def test_a_bad_intake_batch_time_names_the_variable(value, message):
    result = manage("check", DEBUG="true", INTAKE_TRIAGE_BATCH_MS=value)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"vipcases: configuration error: {message}"]


def test_the_intake_batch_time_reaches_the_batcher():
    result = manage(
        "shell",
        "-c",
        "from triage.tasks import new_cases_batcher; print(new_cases_batcher.linger)",
        DEBUG="true",
        INTAKE_TRIAGE_BATCH_MS="2500",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "2.5"
