"""docker-compose.yml, .env.example and the Dockerfile agree with each other and the design.

No Docker engine runs on the test machines, so the compose file is read as YAML, and
checked by `docker compose config` (or Debian's docker-compose, which .ci/run installs),
which parses, validates and interpolates it without an engine.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import _require_service

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ("web", "worker", "beat")
APP_VARIABLES = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    variables = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            variables[name.strip()] = value.strip()
    return variables


def command_of(service: dict) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else command


def env_files_of(service: dict) -> list[str]:
    env_file = service.get("env_file", [])
    entries = env_file if isinstance(env_file, list) else [env_file]
    return [entry["path"] if isinstance(entry, dict) else entry for entry in entries]


def test_it_has_the_five_services(compose):
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(compose["services"])


def test_web_migrates_then_runs_gunicorn_on_the_wsgi_app(compose):
    command = command_of(compose["services"]["web"])

    assert "gunicorn vipcases.wsgi:application" in command
    assert "--bind 0.0.0.0:8000" in command
    assert command.index("manage.py migrate --noinput") < command.index("gunicorn")


def test_worker_and_beat_run_the_celery_app(compose):
    assert "celery -A vipcases worker" in command_of(compose["services"]["worker"])
    assert "celery -A vipcases beat" in command_of(compose["services"]["beat"])


@pytest.mark.parametrize("service", APP_SERVICES)
def test_each_app_service_gets_its_settings(compose, env_example, service):
    definition = compose["services"][service]
    environment = definition.get("environment", {})
    from_env_file = set(env_example) if ".env" in env_files_of(definition) else set()

    for variable in APP_VARIABLES:
        assert variable in environment or variable in from_env_file, variable


@pytest.mark.parametrize("service", ("postgres", "redis"))
def test_the_backing_services_have_healthchecks(compose, service):
    assert compose["services"][service]["healthcheck"]["test"]


def test_web_has_a_healthcheck_on_health(compose):
    assert "/health/" in " ".join(compose["services"]["web"]["healthcheck"]["test"])


@pytest.mark.parametrize("service", APP_SERVICES)
def test_each_app_service_waits_for_healthy_backing_services(compose, service):
    depends_on = compose["services"][service]["depends_on"]

    for backing in ("postgres", "redis"):
        assert depends_on[backing]["condition"] == "service_healthy"


def test_env_example_defines_every_variable_the_compose_file_references(compose, env_example):
    text = (ROOT / "docker-compose.yml").read_text()
    # ${NAME...} is interpolated by compose; $${NAME} is left for the container's shell.
    referenced = set(re.findall(r"(?<!\$)\$\{(\w+)", text))

    assert referenced, "expected the compose file to read some settings from .env"
    assert referenced <= set(env_example)


def test_env_example_documents_the_app_settings(env_example):
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS"} <= set(env_example)
    assert env_example["DEBUG"] == "false"


def test_the_image_installs_the_lock_with_hashes_and_runs_as_a_user():
    dockerfile = (ROOT / "Dockerfile").read_text()

    assert re.search(r"^FROM python:3\.11-slim", dockerfile, re.MULTILINE)
    assert "--require-hashes -r requirements.lock" in dockerfile
    assert "collectstatic --noinput" in dockerfile
    assert re.search(r"^USER (?!root)\S+", dockerfile, re.MULTILINE)


def _compose_command() -> list[str] | None:
    """`docker compose` (the plugin) or else the standalone `docker-compose`, if installed."""
    docker = shutil.which("docker")
    if docker is not None:
        try:
            result = subprocess.run(  # noqa: S603 - fixed command
                [docker, "compose", "version"], capture_output=True, timeout=30
            )
        except (OSError, subprocess.TimeoutExpired):
            result = None
        if result is not None and result.returncode == 0:
            return [docker, "compose"]
    standalone = shutil.which("docker-compose")
    return [standalone] if standalone else None


COMPOSE = _compose_command()


def test_docker_compose_accepts_the_file(tmp_path):
    if COMPOSE is None:
        # .ci/run installs Debian's docker-compose, whose `config` needs no engine.
        _require_service("needs docker compose (or docker-compose)")
    # `config` parses and interpolates without an engine; .env.example stands in for .env.
    shutil.copy(ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    shutil.copy(ROOT / "Dockerfile", tmp_path / "Dockerfile")

    result = subprocess.run(  # noqa: S603 - fixed command
        [*COMPOSE, "-f", "docker-compose.yml", "config", "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
