"""`make bench`: every benchmark, on PostgreSQL and Redis, written to BENCHMARKS.md.

    .venv/bin/python benchmarks/run_all.py [--cases 1000000] [--quick] [--only SECTION,...]
                                           [--output BENCHMARKS.md] [--keep]

Sections, in order (each a benchmark script run as its own process, which writes its
figures as JSON; see each script for its method):

  build       the 1,000,000-case database (benchmarks/dashboard_bench.py --build-only)
  pages       case list and case page against their SQL floor (benchmarks/pages_bench.py)
  dashboards  dashboard and fairness report, served and worked out (dashboard_bench.py)
  triage      scoring lines a second on one core (benchmarks/triage_bench.py)
  routing     routing through a worker beside a no-op task, and a 100,000-case
              transition (benchmarks/routing_bench.py)
  import      100,000 spreadsheet rows (benchmarks/import_bench.py)
  api         intake API under gunicorn with wrk (benchmarks/api_bench.py)

A section that fails is recorded as failed in the file (with the end of its output) and
the run goes on; the exit status is 1 if any section failed. `--only` reruns some
sections and keeps the figures of the others from the file's previous run (they are
stored at its end). pages and dashboards need the built database: with `--only` and no
database of --cases cases kept from a run with `--keep`, build runs first.

The output keeps everything above its marker line (the hand-written notes) and replaces
everything below. Each section's log and JSON are in benchmarks/out/ (git-ignored).

DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) names the PostgreSQL
server: the scratch databases vipcases_bench_* are made there and dropped at the end
unless --keep. REDIS_URL (default redis://127.0.0.1:6379/0) names the Redis server:
databases 11 to 13 are used and flushed.
"""

import argparse
import json
import os
import platform
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out"
MARKER = (
    "<!-- Everything below this line is written by `make bench` (benchmarks/run_all.py): "
    "edit the notes above it. -->"
)
RESULTS_OPEN = "<!-- bench-results "
RESULTS_CLOSE = " -->"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
SCRATCH_DATABASES = {
    "build": "vipcases_bench_dashboard",
    "routing": "vipcases_bench_routing",
    "import": "vipcases_bench_import",
    "api": "vipcases_bench_api",
}
REDIS_DATABASES = (11, 12, 13)
QUICK_CASES = 20_000

# Targets (issues 3, 4, 6, 7 and 8).
PAGE_MEDIAN_MS = 60
PAGE_FLOOR_RATIO = 3
DASHBOARD_MEDIAN_MS = 300
TRIAGE_LINES_PER_S = 50_000
ROUTING_SHARE_OF_NOOP = 0.5
TRANSITION = (100_000, 60)  # cases, seconds
IMPORT = (100_000, 60)  # rows, seconds
API_PER_S = 300


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- the sections ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    name: str
    script: str
    title: str


SECTIONS = (
    Section("build", "dashboard_bench.py", "Building the database"),
    Section("pages", "pages_bench.py", "Case list and case page"),
    Section("dashboards", "dashboard_bench.py", "Dashboard and fairness report"),
    Section("triage", "triage_bench.py", "Triage scoring"),
    Section("routing", "routing_bench.py", "Routing and transition"),
    Section("import", "import_bench.py", "Spreadsheet import"),
    Section("api", "api_bench.py", "Intake API"),
)
SECTION_NAMES = tuple(s.name for s in SECTIONS)


def section_arguments(name: str, cases: int, quick: bool) -> list[str]:
    """The script's arguments for this run (sizes cut down with --quick)."""
    if name == "build":
        return [f"--cases={cases}", "--build-only", "--jobs=2"]
    if name == "pages":
        return [f"--cases={cases}", "--no-build"] + (
            ["--requests=5", "--floor-repeats=3"] if quick else []
        )
    if name == "dashboards":
        return [f"--cases={cases}", "--no-build"] + (
            ["--requests=5", "--refresh-requests=2"] if quick else []
        )
    if name == "triage":
        return ["--offers=20000", "--repeat=1"] if quick else []
    if name == "routing":
        return ["--cases=1000", "--transition=5000"] if quick else []
    if name == "import":
        return ["--rows=5000"] if quick else []
    if name == "api":
        return ["--seconds=5", "--warm-up=2", "--read-seconds=2"] if quick else ["--seconds=30"]
    raise ValueError(name)


def section_timeout(name: str, cases: int) -> float:
    """Seconds before a section is stopped: well beyond what it takes on two cores."""
    if name == "build":
        return max(600, 2400 * cases / 1_000_000)
    return {"pages": 900, "dashboards": 900, "triage": 600, "api": 600}.get(name, 1500)


def run_section(section: Section, arguments: list[str], timeout: float, env: dict) -> dict:
    """Run one section's script; its figures, or the error and the end of its output."""
    OUT.mkdir(parents=True, exist_ok=True)
    json_path = OUT / f"{section.name}.json"
    log_path = OUT / f"{section.name}.log"
    json_path.unlink(missing_ok=True)
    command = [sys.executable, str(ROOT / "benchmarks" / section.script), *arguments]
    command.append(f"--json={json_path}")
    log(f"== {section.name}: {' '.join(command[1:])}")
    tail: deque[str] = deque(maxlen=30)
    started = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as log_file:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            # A shell starts background jobs with SIGINT ignored, and the script would
            # inherit that: it must take the interrupt (_stop) to stop its workers.
            preexec_fn=_interruptible,
        )
        timer = threading.Timer(timeout, _stop, [process])
        timer.start()
        try:
            for line in process.stdout:
                log_file.write(line)
                tail.append(line.rstrip())
                print(f"   {section.name} | {line.rstrip()}", flush=True)
            process.wait()
        except KeyboardInterrupt:
            _stop(process)
            raise
        finally:
            timer.cancel()
    seconds = time.perf_counter() - started
    stopped = f"stopped after {timeout:.0f} s (too long)" if seconds >= timeout else None
    result = {
        "status": "ok",
        "seconds": seconds,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "benchmarks/" + section.script + " " + " ".join(arguments),
    }
    if json_path.exists() and stopped is None:
        result["figures"] = json.loads(json_path.read_text(encoding="utf-8"))
    else:
        result["status"] = "failed"
        result["error"] = stopped or f"exit status {process.returncode}, no figures written"
        result["output"] = list(tail)
    log(f"== {section.name}: {result['status']} in {_duration(seconds)}")
    return result


def _interruptible() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _stop(process: subprocess.Popen) -> None:
    """Interrupt the script (its `finally` blocks stop its worker or server), then kill
    what is left of its process group."""
    try:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=60)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# --- the machine -------------------------------------------------------------------------------


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def machine() -> dict:
    cpuinfo = _read("/proc/cpuinfo")
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    memory = re.search(r"^MemTotal:\s*(\d+) kB", _read("/proc/meminfo"), re.MULTILINE)
    release = re.search(r'^PRETTY_NAME="?([^"\n]+)', _read("/etc/os-release"), re.MULTILINE)
    return {
        "cpu": model.group(1).strip() if model else platform.processor() or "unknown",
        "cores": os.cpu_count(),
        "memory_gib": int(memory.group(1)) / 1024**2 if memory else None,
        "os": f"{release.group(1) if release else platform.system()} "
        f"(Linux {platform.release()}, {platform.machine()})",
    }


def versions(database_url: str, redis_url: str) -> dict:
    found = {"Python": platform.python_version()}
    for package, label in (
        ("Django", "Django"),
        ("psycopg", "psycopg"),
        ("celery", "Celery"),
        ("redis", "redis-py"),
        ("gunicorn", "gunicorn"),
    ):
        try:
            found[label] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[label] = "not installed"
    try:
        import psycopg

        with psycopg.connect(database_url, connect_timeout=5) as conn:
            found["PostgreSQL"] = conn.execute("SHOW server_version").fetchone()[0]
    except Exception as exc:  # noqa: BLE001 - reported, not fatal here
        found["PostgreSQL"] = f"unreachable ({type(exc).__name__})"
    try:
        import redis

        found["Redis"] = redis.Redis.from_url(redis_url, socket_timeout=5).info("server")[
            "redis_version"
        ]
    except Exception as exc:  # noqa: BLE001
        found["Redis"] = f"unreachable ({type(exc).__name__})"
    try:
        wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=10)
        found["wrk"] = (wrk.stdout + wrk.stderr).split()[1]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        found["wrk"] = "not installed (apt-get install wrk)"
    return found


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


PROBE_LOOPS = 1_000_000


def speed_probe(rounds: int = 7) -> float:
    """Milliseconds for a fixed pure-Python loop on one core, the best of `rounds`.

    The load average says whether other processes ran; it does not see a host whose
    cores are slower this hour (shared caches, clock speed, neighbours on the same
    hardware), which moved the same code's figures by 45% within an hour here. The
    same loop timed at the start and the end of every run says how fast this host was,
    so runs can be compared by it."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        total = 0
        for i in range(PROBE_LOOPS):
            total += i * i % 7
        best = min(best, time.perf_counter() - started)
    return best * 1000


# --- formatting ------------------------------------------------------------------------------


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds >= 120:
        return f"{int(seconds // 60)} min {seconds % 60:.0f} s"
    return f"{seconds:.1f} s"


def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"


def _n(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def _mib(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} MiB"


def _mark(met: bool | None) -> str:
    if met is None:
        return "—"
    return "✅ met" if met else "❌ not met"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines + [""]


# --- the figures, section by section ------------------------------------------------------------
# Each returns (markdown lines, [(figure, measured, target, met)] for the summary).


def _build(f: dict) -> tuple[list[str], list]:
    build, db = f.get("build", {}), f.get("database", {})
    lines = []
    if build:
        lines += _table(
            ["step", "time"],
            [
                [
                    f"`seed_demo --cases {_n(build['cases'])} --no-triage` "
                    f"({build.get('jobs', 1)} processes): offers, lines, introductions, "
                    "cases, `created` events",
                    _duration(build["seed_s"]),
                ],
                [
                    "SQL shaping (scores, routing, casework, closures), then the events of "
                    "that history, hashed into each case's chain and copied in, and REINDEX",
                    _duration(build["shape_s"]),
                ],
                ["VACUUM ANALYZE", _duration(build["vacuum_s"])],
                ["**the database, built**", f"**{_duration(build['build_s'])}**"],
            ],
        )
    if db:
        queues = ", ".join(f"{q} {_n(n)}" for q, n in sorted(db.get("open_by_queue", {}).items()))
        lines.append(
            f"{_n(db['cases'])} cases ({_n(db['open_cases'])} open: {queues}), "
            f"{_n(db['offer_lines'])} offer lines, {_n(db['introductions'])} introductions, "
            f"{_n(db['events'])} case events; {db['database_bytes'] / 1024**3:.1f} GiB on disk."
        )
        lines.append("")
    return lines, []


def _pages(f: dict) -> tuple[list[str], list]:
    rows, summary = [], []
    for page in f.get("pages", []):
        fast = page["median_ms"] < PAGE_MEDIAN_MS
        near = page["ratio"] is not None and page["ratio"] <= PAGE_FLOOR_RATIO
        name = f"{page['kind']}: {page['label']}"
        rows.append(
            [
                name,
                f"`{page['url'] if len(page['url']) < 50 else page['url'][:45] + '…'}`",
                _ms(page["median_ms"]),
                _ms(page["p95_ms"]),
                str(page["queries"]),
                _ms(page["floor_ms"]),
                f"{page['ratio']:.1f}×" if page["ratio"] else "—",
                _mark(fast and near),
            ]
        )
        summary.append(
            (
                f"{name}, median",
                f"{_ms(page['median_ms'])} ({page['ratio']:.1f}× the SQL floor)",
                f"under {PAGE_MEDIAN_MS} ms and within {PAGE_FLOOR_RATIO}× the floor",
                fast and near,
            )
        )
    lines = _table(
        [
            "page",
            "URL",
            "median",
            "p95",
            "SQL queries",
            "SQL floor",
            "median ÷ floor",
            f"under {PAGE_MEDIAN_MS} ms, within {PAGE_FLOOR_RATIO}×",
        ],
        rows,
    )
    if f.get("pages"):
        lines.append(
            f"{f['pages'][0]['requests']} timed requests per page after 3 warm-up requests, "
            "as the demo caseworker."
        )
        lines.append("")
    if f.get("references"):
        lines.append(
            "For comparison, no target: reference pages measured the same way "
            "(`benchmarks/reference_urls.py`), what any signed-in page costs before its "
            "own query, form and rows."
        )
        lines.append("")
        lines += _table(
            ["reference page", "median", "p95", "SQL queries", "SQL floor", "median ÷ floor"],
            [
                [
                    page["label"],
                    _ms(page["median_ms"]),
                    _ms(page["p95_ms"]),
                    str(page["queries"]),
                    _ms(page["floor_ms"]),
                    f"{page['ratio']:.1f}×" if page["ratio"] else "—",
                ]
                for page in f["references"]
            ],
        )
    return lines, summary


def _dashboards(f: dict) -> tuple[list[str], list]:
    rows, summary = [], []
    urls = {"dashboard": "/dashboard/", "fairness report": "/dashboard/fairness/"}
    for label, kinds in f.get("pages", {}).items():
        for kind, figures in kinds.items():
            url = urls.get(label, label) + ("?refresh=1" if kind != "served" else "")
            served = kind == "served"
            how = (
                "as served (the figures that read every case come from the cache, "
                "refreshed by beat every 4 minutes)"
                if served
                else "worked out afresh: what the background refresh costs (no target)"
            )
            met = figures["median_ms"] < DASHBOARD_MEDIAN_MS
            rows.append(
                [
                    f"`{url}`",
                    how,
                    _ms(figures["median_ms"]),
                    _ms(figures["p95_ms"]),
                    _mark(met) if served else "—",
                ]
            )
            if served:
                summary.append(
                    (f"`{url}` as served, median", _ms(figures["median_ms"]), "under 300 ms", met)
                )
    lines = _table(["page", "how", "median", "p95", f"under {DASHBOARD_MEDIAN_MS} ms"], rows)
    requests = f.get("requests")
    if requests:
        lines.append(
            f"As a signed-in manager, after 2 warm-up requests: {requests['served']} requests "
            f"as served, {requests['worked out']} with `?refresh=1`."
        )
        lines.append("")
    return lines, summary


def _triage(f: dict) -> tuple[list[str], list]:
    met = f["lines_per_s"] >= TRIAGE_LINES_PER_S
    lines = _table(
        ["figure", "measured", "target", ""],
        [
            [
                "offer lines scored a second, one core",
                f"{_n(f['lines_per_s'])} ({f['best_s']:.2f} s for {_n(f['lines'])} lines)",
                f"at least {_n(TRIAGE_LINES_PER_S)}",
                _mark(met),
            ],
            ["offers scored a second, one core", _n(f["offers_per_s"]), "—", ""],
        ],
    )
    runs = "1 run" if f["repeat"] == 1 else f"the best of {f['repeat']} runs"
    lines.append(f"{_n(f['offers'])} synthetic offers, {runs}.")
    lines.append("")
    return lines, [
        ("triage: lines scored a second", _n(f["lines_per_s"]), f"≥ {_n(TRIAGE_LINES_PER_S)}", met)
    ]


def _routing(f: dict) -> tuple[list[str], list]:
    share = f["ratio"] >= ROUTING_SHARE_OF_NOOP
    rows = [
        [
            "no-op Celery task, same broker and worker",
            f"{_n(f['noop_tasks_per_s'])} tasks/s",
            "—",
            "",
        ],
        [
            f"cases routed through the worker ({_n(f['cases'])})",
            f"{_n(f['routed_cases_per_s'])} cases/s ({f['ratio']:.0%} of the no-op rate)",
            "at least half the no-op rate",
            _mark(share),
        ],
    ]
    summary = [
        ("routing: cases a second ÷ no-op tasks a second", f"{f['ratio']:.0%}", "≥ 50%", share)
    ]
    if "transition_s" in f:
        cases, limit = TRANSITION
        rate = f["transition_cases"] / f["transition_s"] if f["transition_s"] else 0
        met = rate >= cases / limit
        rows += [
            [
                f"preview of a new policy over {_n(f['preview_cases'])} cases in train",
                _ms(f["preview_ms"]),
                "—",
                "",
            ],
            [
                f"transition: {_n(f['transition_cases'])} cases in train considered, "
                f"{_n(f['transition_moved'])} moved ({f['transition_state']})",
                f"{_duration(f['transition_s'])} ({_n(rate)} cases/s)",
                f"{_n(cases)} in under {limit} s ({_n(cases / limit)} a second)",
                _mark(met),
            ],
        ]
        summary.append(
            (
                f"transition of {_n(f['transition_cases'])} cases",
                _duration(f["transition_s"]),
                f"{_n(cases)} under {limit} s",
                met,
            )
        )
    return _table(["figure", "measured", "target", ""], rows), summary


def _import(f: dict) -> tuple[list[str], list]:
    rows_target, limit = IMPORT
    n = f["rows"]
    rate = n / f["import_s"]
    met = rate >= rows_target / limit
    target = f"{_n(rows_target)} rows in under {limit} s ({_n(rows_target / limit)} a second)"
    rows = [
        ["`--dry-run`: read and validate every row", _duration(f["dry_run_s"]), "—", ""],
        [
            "import (`--no-triage`): every offer, line, introduction, case and event in one "
            "transaction",
            f"{_duration(f['import_s'])} ({_n(rate)} rows/s)",
            target,
            _mark(met),
        ],
        ["the same file again (nothing new)", _duration(f["reimport_s"]), "—", ""],
        [
            "import, then score and route every case in the command (no broker)",
            _duration(f["import_with_triage_s"]),
            "—",
            "",
        ],
    ]
    summary = [("import: rows a second", _n(rate), f"≥ {_n(rows_target / limit)}", met)]
    routed = f.get("with_worker_all_routed_s")
    if routed is not None and routed == routed:  # not NaN: a broker was there
        # Informational: issue 7's target is the import itself; scoring and routing by
        # the worker follow it and are measured by the triage and routing sections.
        rows += [
            ["with one worker: the command", _duration(f["with_worker_command_s"]), "—", ""],
            [
                "… until every case is scored and routed by the worker",
                f"{_duration(routed)} ({_n(n / routed)} rows/s)",
                "—",
                "",
            ],
        ]
    lines = _table(["figure", "measured", "target", ""], rows)
    lines.append(
        f"{_n(n)} rows ({_n(f['offers'])} offers, {f['file_bytes'] / 1e6:.1f} MB of CSV), "
        "each step `manage.py import_offers` in a fresh process on a scratch database."
    )
    lines.append("")
    return lines, summary


def _api(f: dict) -> tuple[list[str], list]:
    met = f["requests_per_s"] >= API_PER_S and f["errors"] == 0
    lines = _table(
        ["figure", "measured", "target", ""],
        [
            [
                f"`POST /api/offers/`, {f['workers']} gunicorn workers × {f['connections']} "
                f"connections, {f['seconds']:.0f} s",
                f"{_n(f['requests_per_s'])} offers/s (p50 {_ms(f['p50_ms'])}, "
                f"p99 {_ms(f['p99_ms'])}), {f['errors']} errors",
                f"{API_PER_S} a second, no errors",
                _mark(met),
            ],
            [
                "offers recorded during the timed run",
                f"{_n(f['offers_created'])} (wrk counted {_n(f['requests'])})",
                "one per request",
                "",
            ],
            *(
                [
                    [
                        "cases whose triage task reached Redis (read once gunicorn stopped)",
                        f"{_n(f['cases_sent_to_triage'])} of {_n(f['cases'])} "
                        f"({_n(f['triage_messages'])} messages, "
                        f"{_n(f['triage_ids_repeated'])} sent twice)",
                        "every case, once",
                        _mark(_all_sent(f)),
                    ]
                ]
                if "cases_sent_to_triage" in f
                else []
            ),
            [
                "for comparison: `GET /api/cases/<id>/`",
                f"{_n(f['get_requests_per_s'])} requests/s (p99 {f['get_p99']}), "
                f"{f['get_errors']} errors",
                "—",
                "",
            ],
        ],
    )
    summary = [("intake API: offers a second", _n(f["requests_per_s"]), f"≥ {API_PER_S}", met)]
    if "cases_sent_to_triage" in f:
        summary.append(
            (
                "intake API: cases sent to triage",
                f"{_n(f['cases_sent_to_triage'])} of {_n(f['cases'])}",
                "every case, once",
                _all_sent(f),
            )
        )
    return lines, summary


def _all_sent(f: dict) -> bool:
    return f["cases_sent_to_triage"] == f["cases"] and f["triage_ids_repeated"] == 0


RENDERERS = {
    "build": _build,
    "pages": _pages,
    "dashboards": _dashboards,
    "triage": _triage,
    "routing": _routing,
    "import": _import,
    "api": _api,
}


def _memory(sections: dict) -> list[str]:
    rows = []

    def figures(name: str) -> dict:
        section = sections.get(name, {})
        return section.get("figures", {}) if section.get("status") == "ok" else {}

    if figures("api").get("worker_memory"):
        m = figures("api")["worker_memory"]
        rows.append(
            [
                "gunicorn sync worker, intake API run (largest of "
                f"{m['children']}; master {_mib(m['parent_mib'])})",
                _mib(m["largest_child_mib"]),
            ]
        )
    if figures("pages").get("peak_rss_mib"):
        rows.append(
            [
                "the web tier in process: every case list and case page at "
                f"{_n(figures('pages').get('cases'))} cases",
                _mib(figures("pages")["peak_rss_mib"]),
            ]
        )
    if figures("dashboards").get("peak_rss_mib"):
        rows.append(
            [
                "the web tier in process: dashboard and fairness report, worked out",
                _mib(figures("dashboards")["peak_rss_mib"]),
            ]
        )
    for name, what in (("routing", "routing and the transition"), ("import", "the import")):
        m = figures(name).get("worker_memory")
        if m:
            rows.append(
                [
                    f"Celery worker (`--concurrency=2`), {what}: largest pool process "
                    f"(main process {_mib(m['parent_mib'])})",
                    _mib(m["largest_child_mib"]),
                ]
            )
    if not rows:
        return ["No memory figure: the sections that measure it did not run.", ""]
    return _table(["process", "peak RSS (VmHWM)"], rows)


def render(results: dict, preamble: str) -> str:
    """The whole file: the preamble, the marker, then the tables of `results`."""
    run, sections = results["run"], results["sections"]
    out = [preamble.rstrip(), "", MARKER, ""]
    out += ["## This run", ""]
    quick = " with `--quick` (small sizes: a smoke run, not the figures)" if run["quick"] else ""
    out.append(
        f"`{run['command']}`{quick}, {run['finished'][:16].replace('T', ' ')} UTC; "
        f"the whole run took {_duration(run['seconds'])}. Load average before: {run['load'][0]}, "
        f"after: {run['load'][1]}."
    )
    busy = float(run["load"][0].split()[0]) if run.get("load") else 0.0
    cores = run["machine"].get("cores") or 1
    if busy > cores / 2:
        out[-1] += (
            f" **The machine was busy** (load average {busy:.1f} on {cores} cores when the "
            "run began): these figures are not comparable with a quiet machine's."
        )
    if run.get("probe_ms"):
        before, after = run["probe_ms"]
        out[-1] += (
            f" Speed probe (a fixed Python loop on one core, best of 7; lower is faster): "
            f"{before:.0f} ms before, {after:.0f} ms after. Compare runs on hosts whose "
            "probes agree."
        )
    if run.get("only"):
        out[-1] += (
            f" Only {', '.join(run['only'])} ran this time: the other sections' figures are "
            "from earlier runs (when: the last table)."
        )
        full = results.get("full_run")
        if full:
            out[-1] += (
                f" The last run of every section: `{full['command']}`, "
                f"{full['finished'][:16].replace('T', ' ')} UTC, {_n(full['cases'])} cases, "
                f"{_duration(full['seconds'])} in all (load average before: {full['load'][0]})."
            )
    out.append("")
    m, v = run["machine"], run["versions"]
    out += _table(
        ["machine", ""],
        [
            ["CPU", f"{m['cpu']}, {m['cores']} cores"],
            ["memory", f"{m['memory_gib']:.0f} GiB" if m["memory_gib"] else "—"],
            ["OS", m["os"]],
            ["versions", ", ".join(f"{k} {val}" for k, val in v.items())],
        ],
    )

    summary, body = [], []
    for section in SECTIONS:
        result = sections.get(section.name)
        if result is None:
            continue
        body += [f"## {section.title}", ""]
        if result["status"] != "ok":
            body += [
                f"**Not measured: the section failed** ({result['error']}). The end of its output:",
                "",
                "```",
                *result.get("output", []),
                "```",
                "",
            ]
            summary.append((section.title, "failed", "—", False))
            continue
        try:
            lines, marks = RENDERERS[section.name](result["figures"])
        except (KeyError, TypeError, ZeroDivisionError) as exc:
            lines, marks = [f"**Figures unreadable** ({type(exc).__name__}: {exc})", ""], []
            summary.append((section.title, "unreadable", "—", False))
        body += lines
        summary += marks

    if summary:
        out += ["## Targets", ""]
        out += _table(
            ["figure", "measured", "target", ""],
            [[name, measured, target, _mark(met)] for name, measured, target, met in summary],
        )
    out += body
    out += ["## Peak memory", ""] + _memory(sections)
    out += ["## How long each part took", ""]
    out += _table(
        ["section", "status", "time", "finished (UTC)", "command"],
        [
            [
                name,
                sections[name]["status"],
                _duration(sections[name]["seconds"]),
                sections[name]["at"][:16].replace("T", " "),
                f"`{sections[name]['command'].strip()}`",
            ]
            for name in SECTION_NAMES
            if name in sections
        ],
    )
    out.append(RESULTS_OPEN + json.dumps(results, separators=(",", ":")) + RESULTS_CLOSE)
    return "\n".join(out) + "\n"


def preamble_and_results(path: Path) -> tuple[str | None, dict | None]:
    """The hand-written part of an existing output file and the results stored in it."""
    if not path.exists():
        return None, None
    text = path.read_text(encoding="utf-8")
    if MARKER not in text:
        return None, None
    preamble, generated = text.split(MARKER, 1)
    stored = None
    start = generated.rfind(RESULTS_OPEN)
    if start != -1:
        end = generated.find(RESULTS_CLOSE, start + len(RESULTS_OPEN))
        try:
            stored = json.loads(generated[start + len(RESULTS_OPEN) : end])
        except ValueError:
            stored = None
    return preamble, stored


# --- the run ---------------------------------------------------------------------------------


def _database_built(cases: int, env: dict) -> bool:
    saved = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = env["DATABASE_URL"]
    try:
        sys.path.insert(0, str(ROOT))
        from benchmarks import dashboard_bench

        return dashboard_bench.reuse(cases) is not None
    finally:
        if saved is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = saved


def _clean_up(env: dict, names: list[str]) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = env["DATABASE_URL"]
    from benchmarks._setup import drop_database

    for name in names:
        try:
            drop_database(name)
        except Exception as exc:  # noqa: BLE001 - cleaning up is best effort
            log(f"could not drop {name}: {exc}")
    try:
        import redis

        base = env["REDIS_URL"].rsplit("/", 1)[0]
        for db in REDIS_DATABASES:
            redis.Redis.from_url(f"{base}/{db}").flushdb()
    except Exception as exc:  # noqa: BLE001
        log(f"could not flush the Redis databases {REDIS_DATABASES}: {exc}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, help="cases in the database (default 1,000,000)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument(
        "--only",
        action="append",
        metavar="SECTION",
        help=f"run only these sections ({', '.join(SECTION_NAMES)}); comma-separated or repeated",
    )
    parser.add_argument("--output", default="BENCHMARKS.md", help="the file to write")
    parser.add_argument(
        "--keep", action="store_true", help="keep the scratch databases (to rerun with --only)"
    )
    args = parser.parse_args(argv)
    # Stopped by Ctrl-C or `kill`: stop the running section and its workers, and write
    # what was measured.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    cases = args.cases or (QUICK_CASES if args.quick else 1_000_000)
    chosen = list(SECTION_NAMES)
    if args.only:
        chosen = [name.strip() for item in args.only for name in item.split(",") if name.strip()]
        unknown = sorted(set(chosen) - set(SECTION_NAMES))
        if unknown:
            parser.error(f"unknown section {', '.join(unknown)}: choose from {SECTION_NAMES}")

    env = {
        **os.environ,
        "DATABASE_URL": os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
        "REDIS_URL": os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL,
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "benchmark-only-key",
        "PYTHONUNBUFFERED": "1",
        # whitenoise warns, once per process, that collectstatic has not been run.
        "PYTHONWARNINGS": "ignore:No directory at:UserWarning",
    }
    env.pop("DEBUG", None)  # measured as in production
    if {"pages", "dashboards"} & set(chosen) and "build" not in chosen:
        if not _database_built(cases, env):
            log(f"no database of {cases:,} cases kept from an earlier run: building it first")
            chosen.insert(0, "build")
    chosen = [name for name in SECTION_NAMES if name in chosen]

    output = ROOT / args.output if not Path(args.output).is_absolute() else Path(args.output)
    preamble, previous = preamble_and_results(output)
    if preamble is None:
        preamble, _ = preamble_and_results(ROOT / "BENCHMARKS.md")
    if preamble is None:
        preamble = "# Benchmarks\n"
    sections = dict(previous["sections"]) if previous and args.only else {}
    full_run = previous.get("full_run") if previous and args.only else None

    given = sys.argv[1:] if argv is None else argv
    command = "benchmarks/run_all.py " + " ".join(given) if given else "make bench"
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    load_before = _load()
    probe_before = speed_probe()
    log(
        f"benchmarks: {', '.join(chosen)}; {cases:,} cases{' (quick)' if args.quick else ''}; "
        f"PostgreSQL {env['DATABASE_URL']}, Redis {env['REDIS_URL']}; writing {output}"
    )
    run_info = {
        "command": command.strip(),
        "cases": cases,
        "quick": args.quick,
        "only": chosen if args.only else None,
        "started": started_at.isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(env["DATABASE_URL"], env["REDIS_URL"]),
    }

    def write() -> None:
        run_info["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
        run_info["seconds"] = time.perf_counter() - started
        run_info["load"] = [load_before, _load()]
        run_info["probe_ms"] = [probe_before, speed_probe()]
        results = {"run": run_info, "sections": sections}
        if args.only and full_run:
            results["full_run"] = full_run
        elif not args.only:  # what a later `--only` run says about this one
            keys = ("command", "finished", "seconds", "cases", "quick", "load", "probe_ms")
            results["full_run"] = {key: run_info[key] for key in keys}
        output.write_text(render(results, preamble), "utf-8")

    failed = []
    try:
        for section in SECTIONS:
            if section.name not in chosen:
                continue
            if section.name == "api" and "not installed" in run_info["versions"]["wrk"]:
                sections[section.name] = {
                    "status": "failed",
                    "seconds": 0.0,
                    "at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "command": "benchmarks/api_bench.py",
                    "error": "wrk is not installed (Debian: apt-get install wrk)",
                }
            else:
                sections[section.name] = run_section(
                    section,
                    section_arguments(section.name, cases, args.quick),
                    section_timeout(section.name, cases),
                    env,
                )
            if sections[section.name]["status"] != "ok":
                failed.append(section.name)
            write()  # after every section, so a stopped run keeps what it measured
    except KeyboardInterrupt as exc:
        log(f"interrupted ({exc}): the sections measured so far are written")
        failed.append("interrupted")
    finally:
        if not args.keep:
            _clean_up(env, list(SCRATCH_DATABASES.values()))
    write()
    log(
        f"wrote {output} in {_duration(time.perf_counter() - started)}"
        + (f"; FAILED: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
