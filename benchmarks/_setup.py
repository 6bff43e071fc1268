"""Shared set-up for benchmarks that need Django on a scratch PostgreSQL database, and
the small helpers every benchmark uses (progress lines, JSON results, peak memory)."""

import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def _server_url(name: str) -> str:
    """DATABASE_URL with database `name` instead of its own."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit(
            "benchmarks need DATABASE_URL pointing at PostgreSQL (e.g. postgres://postgres@127.0.0.1:5432/vipcases)"
        )
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def database_url(name: str) -> str:
    """The URL of database `name` on DATABASE_URL's server (which need not exist)."""
    return _server_url(name)


def scratch_database(name: str) -> str:
    """Create (or empty) database `name` on DATABASE_URL's server; return its URL."""
    import psycopg

    with psycopg.connect(_server_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return _server_url(name)


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(_server_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def redis_url(db: int, *, required: bool = True) -> str:
    """REDIS_URL's server with database `db` (a scratch database: benchmarks flush it)."""
    url = os.environ.get("REDIS_URL", "")
    if not url.startswith("redis://"):
        if required:
            sys.exit("set REDIS_URL (e.g. redis://127.0.0.1:6379/0)")
        return ""
    return url.rsplit("/", 1)[0] + f"/{db}"


def django_on(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("SECRET_KEY", "benchmark-only-key")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vipcases.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


# --- results and memory ------------------------------------------------------------------


def add_json_argument(parser) -> None:
    parser.add_argument(
        "--json",
        metavar="PATH",
        help="also write the figures to PATH as JSON (benchmarks/run_all.py reads them)",
    )


def write_json(path: str | None, figures: dict) -> None:
    if path:
        Path(path).write_text(json.dumps(figures, indent=2, default=str), encoding="utf-8")


def peak_rss_mib(pid: int | str = "self") -> float | None:
    """The process's peak resident set size (VmHWM) in MiB; None if it has gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def cpu_seconds(pid: int) -> float:
    """User plus system CPU of one process so far, in seconds (0 if it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_pids(pid: int) -> list[int]:
    """The direct children of `pid` (from /proc/<pid>/task/*/children)."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return sorted(set(children))


def process_tree_peaks(pid: int) -> dict:
    """Peak RSS of a pre-forking server (gunicorn, a Celery worker): the parent, and the
    largest of its children (the processes that do the work), in MiB."""
    children = [p for p in (peak_rss_mib(c) for c in child_pids(pid)) if p is not None]
    return {
        "parent_mib": peak_rss_mib(pid),
        "children": len(children),
        "largest_child_mib": max(children) if children else None,
    }
