"""The drills' own services: a throwaway PostgreSQL cluster, a Redis, the web on gunicorn
and a Celery worker, all on free ports, all stoppable and restartable by a drill.

Nothing here touches the machine's shared PostgreSQL or Redis: the cluster is made with
initdb in a temporary directory and the Redis is a `redis-server` child process, both
on ports nobody else uses, both removed when the session ends (even after a failure).

The test process talks to the stack only from the outside, as an operator would: HTTP to
the web, SQL (psycopg) to read the database, and the broker through its own Celery
client. App-side set-up (migrate, users, an API token, seed data, a routing policy) runs
in the app's own processes: tests/drills/stackctl.py, mostly through management commands.

DRILL_KEEP_LOGS=DIR copies every service's whole log into DIR when the session ends;
DRILL_LOG_LINES=N shows the last N lines of the web's and the worker's logs on a failure.
"""

from __future__ import annotations

import glob
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import redis
import requests

from tests.conftest import CeleryWorkerProcess

BASE_DIR = Path(__file__).resolve().parent.parent.parent
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
PASSWORD = "drill-password-2020"
DB_NAME = "vipcases_drill"
SERVICE_TIMEOUT = 30


# --- prerequisites ------------------------------------------------------------------------


def postgres_bin_dir() -> Path | None:
    """The directory holding initdb and pg_ctl: on PATH, or Debian's newest version."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: [int(n) for n in re.findall(r"\d+", p)],
    )
    return Path(candidates[-1]).parent if candidates else None


def missing_prerequisites() -> list[str]:
    """What this machine lacks to run the drills (empty when they can run)."""
    missing = []
    bin_dir = postgres_bin_dir()
    if bin_dir is None or not (bin_dir / "pg_ctl").exists():
        missing.append("PostgreSQL server binaries (initdb, pg_ctl): apt-get install postgresql")
    if shutil.which("redis-server") is None:
        missing.append("redis-server on PATH: apt-get install redis-server")
    if IS_ROOT:
        if shutil.which("runuser") is None:
            missing.append("runuser (util-linux): initdb refuses to run as root")
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            missing.append("a 'postgres' system user: initdb refuses to run as root")
    try:
        import gunicorn  # noqa: F401
    except ImportError:
        missing.append("gunicorn in the virtual environment (make install)")
    return missing


def browser() -> requests.Session:
    """An HTTP session that ignores any proxy settings: the stack is on 127.0.0.1."""
    session = requests.Session()
    session.trust_env = False
    return session


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], object], timeout: float, what: str, interval=0.1):
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _kill_group(process: subprocess.Popen | None, sig=signal.SIGKILL) -> None:
    if process is None:
        return
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


# --- PostgreSQL ---------------------------------------------------------------------------


class PostgresServer:
    """A cluster of its own: initdb in a temporary directory, listening on `port`."""

    def __init__(self, port: int):
        self.port = port
        self.bin_dir = postgres_bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="vipcases-drill-pg-"))
        self.data = self.root / "data"
        self.log_path = self.root / "postgres.log"
        if IS_ROOT:
            shutil.chown(self.root, user="postgres", group="postgres")

    def _run(self, *args: str, check: bool = True, timeout: float = 60):
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if IS_ROOT:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(  # noqa: S603 - fixed binaries, our arguments
            command,
            check=check,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
        )

    def init(self) -> None:
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "-N"
        )

    def start(self) -> None:
        options = (
            f"-k {self.root} -c listen_addresses=127.0.0.1 -p {self.port} "
            "-c fsync=off -c full_page_writes=off"
        )
        result = self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.log_path),
            "-w",
            "-t",
            str(SERVICE_TIMEOUT),
            "start",
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"PostgreSQL did not start on port {self.port}: {result.stderr or result.stdout}\n"
                f"{tail(self.log_path)}"
            )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def is_running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def url(self, database: str = DB_NAME) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> None:
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

    def destroy(self) -> None:
        if self.data.exists():
            with suppress(Exception):
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


# --- Redis --------------------------------------------------------------------------------


class RedisServer:
    """A `redis-server` child process with no persistence: a restart starts empty, as a
    crashed broker without persistence would (every queued message is gone)."""

    def __init__(self, port: int, root: Path):
        self.port = port
        self.root = root
        self.log_path = root / "redis.log"
        self.process: subprocess.Popen | None = None

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_connect_timeout=1, socket_timeout=5)

    def start(self) -> None:
        if self.is_running():
            return
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - fixed command
                [
                    "redis-server",
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--daemonize",
                    "no",
                    "--dir",
                    str(self.root),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(self._pings, SERVICE_TIMEOUT, f"Redis to answer on port {self.port}")

    def _pings(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"redis-server exited: {tail(self.log_path)}")
        try:
            client = self.client()
            try:
                return bool(client.ping())
            finally:
                client.close()
        except redis.RedisError:
            return False

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if not self.is_running():
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _kill_group(self.process)
            self.process.wait()

    def destroy(self) -> None:
        if self.is_running():
            _kill_group(self.process)
            self.process.wait()

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"


# --- the web ------------------------------------------------------------------------------


class WebServer:
    """The app on gunicorn (two processes of four threads), as docker-compose serves it."""

    def __init__(self, port: int, env: dict[str, str], log_path: Path):
        self.port = port
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self.base = f"http://127.0.0.1:{port}"

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our interpreter, fixed command
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "vipcases.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--workers",
                    "2",
                    "--threads",
                    "4",
                    "--timeout",
                    "60",
                    "--graceful-timeout",
                    "5",
                    "--access-logfile",
                    "-",
                    # Not the shared ~/.gunicorn/gunicorn.ctl another gunicorn may be using.
                    "--no-control-socket",
                ],
                cwd=BASE_DIR,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(self._healthy, SERVICE_TIMEOUT, "the web to answer /health/ with 200")

    def _healthy(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {tail(self.log_path)}")
        try:
            with browser() as session:
                return session.get(self.base + "/health/", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def is_alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL to the master and every worker at once, as a crashed machine would."""
        if self.process is not None:
            _kill_group(self.process)
            self.process.wait()

    def stop(self) -> None:
        if not self.is_alive():
            return
        _kill_group(self.process, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _kill_group(self.process)
            self.process.wait()
        _kill_group(self.process)


# --- the whole stack ------------------------------------------------------------------------


def offer_payload(ref: str, **overrides) -> dict:
    """An intake API body (offers/openapi.yaml) for a strong, eligible FFP3 offer: it
    scores high and is routed to Rapid Response, so its case stays open for casework."""
    body = {
        "external_ref": ref,
        "channel": "webform",
        "received_at": datetime.now(UTC).isoformat(),
        "supplier": {
            "name": f"Drillwell Protective {ref} Ltd",
            "company_number": f"{abs(hash(ref)) % 10**8:08d}",
            "country": "GB",
            "incorporated_on": "2009-06-01",
            "ppe_trading_history": True,
        },
        "lines": [
            {
                "category": "ffp3_respirator",
                "description": "FFP3 respirator, head straps",
                "quantity": 2_000_000,
                "unit_price": "1.85",
                "currency": "GBP",
                "standards": ["EN 149:2001+A1:2009 FFP3"],
                "certificate": "CE 2797",
                "strap_type": "head",
                "sterile": False,
                "sterilisation_validation": None,
                "stock_location": "uk",
                "lead_time_days": 5,
            }
        ],
    }
    body.update(overrides)
    return body


class Stack:
    """PostgreSQL, Redis, web and worker for the drills, with the handles to break them."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="vipcases-drill-"))
        self.postgres = PostgresServer(free_port())
        self.redis = RedisServer(free_port(), self.root)
        self.env = self._app_env()
        self.web = WebServer(free_port(), self.env, self.root / "web.log")
        self.worker = CeleryWorkerProcess(
            env=self.env, broker_url=self.redis.url(), log_path=self.root / "worker.log"
        )
        self.token = ""
        self.users: dict[str, str] = {}
        self._db: psycopg.Connection | None = None
        self._celery = None

    def _app_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
        env.update(
            DJANGO_SETTINGS_MODULE="vipcases.settings",
            DATABASE_URL=self.postgres.url(),
            REDIS_URL=self.redis.url(),
            SECRET_KEY="drill-" + secrets.token_urlsafe(48),
            DEBUG="false",
            ALLOWED_HOSTS="127.0.0.1",
            # Plain http between the drill and gunicorn: no TLS in the way.
            SECURE_COOKIES="false",
            SECURE_SSL_REDIRECT="false",
            SECURE_HSTS_SECONDS="0",
            EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
            PYTHONUNBUFFERED="1",
            # A task held by a killed worker comes back after 5 s, not an hour.
            CELERY_VISIBILITY_TIMEOUT="5",
            CELERY_UNACKED_RESTORE_INTERVAL="1",
            CELERY_UNACKED_RESTORE_THROTTLE="1",
        )
        return env

    # --- lifecycle ---

    def start(self) -> None:
        self.postgres.init()
        self.postgres.start()
        self.postgres.create_database(DB_NAME)
        self.redis.start()
        setup = json.loads(self.app_python("-m", "tests.drills.stackctl", "setup"))
        self.users, self.token = setup["users"], setup["token"]
        self.web.start()
        self.worker.start()

    def destroy(self) -> None:
        keep = os.environ.get("DRILL_KEEP_LOGS")
        if keep:  # a directory to copy every service's whole log into
            logs = (self.web, self.worker, self.redis, self.postgres)
            for log in (service.log_path for service in logs):
                with suppress(OSError):
                    shutil.copy(log, Path(keep) / log.name)
        for step in (
            self.worker.kill,
            self.web.stop,
            self.close_db,
            self._close_celery,
            self.redis.destroy,
            self.postgres.destroy,
        ):
            with suppress(Exception):
                step()
        shutil.rmtree(self.root, ignore_errors=True)

    def ensure_healthy(self) -> None:
        """Every service up again (a failed drill may have left one down)."""
        if not self.postgres.is_running():
            self.postgres.start()
        self.redis.start()
        if not self.worker.is_alive():
            self.worker.start()
        if not self.web.is_alive():
            self.web.start()
        wait_for(self.web._healthy, SERVICE_TIMEOUT, "the web to answer /health/ with 200")

    def app_python(self, *args: str, timeout: float = 180) -> str:
        """Run `python ARGS` in the app's environment (manage.py, stackctl); its stdout."""
        result = subprocess.run(  # noqa: S603 - our interpreter, fixed arguments
            [sys.executable, *args],
            cwd=BASE_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed:\n{result.stderr[-4000:]}")
        return result.stdout

    def logs(self) -> list[tuple[str, str]]:
        lines = int(os.environ.get("DRILL_LOG_LINES", "40"))
        return [
            ("web (gunicorn) log", tail(self.web.log_path, lines)),
            ("Celery worker log", tail(self.worker.log_path, lines)),
            ("PostgreSQL log", tail(self.postgres.log_path, 15)),
            ("Redis log", tail(self.redis.log_path, 10)),
        ]

    # --- the database, read from outside ---

    def sql(self, query: str, params=None) -> list[tuple]:
        """Run one statement on the drill database (reconnecting after a restart)."""
        for attempt in range(2):
            try:
                if self._db is None or self._db.closed:
                    self._db = psycopg.connect(
                        self.postgres.url(), autocommit=True, connect_timeout=3
                    )
                cursor = self._db.execute(query, params)
                return cursor.fetchall() if cursor.description else []
            except psycopg.OperationalError:
                self.close_db()
                if attempt:
                    raise
        return []

    def unrouted(self, case_ids) -> list[int]:
        """Those of the cases still waiting in the triage queue."""
        rows = self.sql(
            "SELECT id FROM vipcases_case WHERE id = ANY(%s) AND queue = 'triage' ORDER BY id",
            (list(case_ids),),
        )
        return [pk for (pk,) in rows]

    def wait_routed(self, case_ids, what: str, timeout: float = 30) -> None:
        case_ids = list(case_ids)
        wait_for(lambda: not self.unrouted(case_ids), timeout, what, interval=0.2)

    def close_db(self) -> None:
        if self._db is not None:
            with suppress(Exception):
                self._db.close()
            self._db = None

    # --- the broker, from outside ---

    @property
    def celery(self):
        """A Celery client of our own on the drill's broker (the app's stays untouched)."""
        if self._celery is None:
            from celery import Celery

            self._celery = Celery("vipcases-drills", broker=self.redis.url(), set_as_current=False)
            self._celery.conf.update(broker_connection_timeout=2, broker_connection_retry=True)
        return self._celery

    def _close_celery(self) -> None:
        if self._celery is not None:
            self._celery.close()
            self._celery = None

    def send_task(self, name: str, *args, task_id: str | None = None) -> None:
        self.celery.send_task(name, args=list(args), task_id=task_id)

    def broker_pending(self) -> int:
        """Messages waiting in the queue plus those delivered but not yet acknowledged."""
        client = self.redis.client()
        try:
            return client.llen("celery") + client.hlen("unacked")
        finally:
            client.close()

    def wait_broker_idle(self, timeout: float = 60, settle: float = 0.6) -> None:
        """Until nothing is queued or unacknowledged for `settle` seconds (a task may send
        another when it ends, so one empty look is not enough)."""
        deadline = time.monotonic() + timeout
        quiet_since = None
        while time.monotonic() < deadline:
            if self.broker_pending() == 0:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= settle:
                    return
            else:
                quiet_since = None
            time.sleep(0.1)
        raise AssertionError(
            f"the broker still held {self.broker_pending()} messages after {timeout} s"
        )

    # --- the web, from outside ---

    def submit_offer(self, ref: str, timeout: float = 10, **overrides) -> requests.Response:
        with browser() as session:  # a new connection each time, as separate clients
            return session.post(
                self.web.base + "/api/offers/",
                json=offer_payload(ref, **overrides),
                headers={"Authorization": f"Bearer {self.token}"},
                timeout=timeout,
            )

    def signed_in(self, username: str) -> requests.Session:
        """A browser-like session signed in through /sign-in/."""
        session = browser()
        page = session.get(self.web.base + "/sign-in/", timeout=10)
        assert page.status_code == 200, page.status_code
        answer = session.post(
            self.web.base + "/sign-in/",
            data={
                "csrfmiddlewaretoken": csrf_token(page.text),
                "username": username,
                "password": PASSWORD,
            },
            allow_redirects=False,
            timeout=10,
        )
        assert answer.status_code == 302, f"sign-in as {username} answered {answer.status_code}"
        return session


def csrf_token(html: str) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def unique_ref(drill: str) -> str:
    return f"DRILL-{drill}-{uuid.uuid4().hex[:10]}"
