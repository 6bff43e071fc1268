"""Spreadsheet import at volume: 100,000 rows through `manage.py import_offers`.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/vipcases \
        .venv/bin/python benchmarks/import_bench.py [--rows 100000]

It writes a CSV of invented offers (1–3 lines each, about 10,000 suppliers, a third
introduced) to a temporary file, then on a scratch database (vipcases_bench_import, or
--database NAME; dropped and made again) times, each as its own command in a fresh
process:
  1. `import_offers --dry-run` (read and validate every row, write nothing);
  2. `import_offers --no-triage` (validate, then write every offer, line, case and event
     in one transaction);
  3. the same file again (every offer already there: nothing new);
then, each on a fresh scratch database, `import_offers` with triage:
  4. without a broker: validate, write, then score and route every case in process;
  5. with REDIS_URL set (Redis database 12, flushed) and one Celery worker
     (--concurrency=2) running: the command hands the cases to the worker in batches;
     timed until the command ends, and until the last case has left the triage queue.
Target (issue 7): 100,000 rows in under 60 seconds. The worker's peak memory (VmHWM of
its processes) is read just before it is stopped.
"""

import argparse
import csv
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks._setup import (  # noqa: E402
    ROOT,
    add_json_argument,
    log,
    process_tree_peaks,
    redis_url,
    scratch_database,
    write_json,
)

DATABASE = "vipcases_bench_import"
REDIS_DB = 12
TARGET_ROWS = 100_000
TARGET_S = 60

CATEGORIES = {
    "ffp3_respirator": ("FFP3 respirator, head straps", "EN 149:2001+A1:2009 FFP3", 1.85),
    "ffp2_respirator": ("FFP2 respirator", "EN 149:2001+A1:2009 FFP2", 0.95),
    "iir_mask": ("Type IIR surgical mask", "EN 14683 Type IIR", 0.38),
    "gown": ("Isolation gown", "EN 13795", 6.10),
    "gloves": ("Nitrile examination gloves", "EN 455", 0.07),
    "apron": ("Disposable apron", "", 0.05),
    "eye_protection": ("Face visor", "EN 166", 1.20),
    "hand_sanitiser": ("Hand sanitiser 500 ml", "", 2.40),
    "body_bag": ("Body bag", "", 9.00),
}
ROLES = ["minister", "mp", "peer", "senior_official", "other"]
HEADER = [
    "external_ref",
    "channel",
    "received_at",
    "supplier_name",
    "supplier_company_number",
    "supplier_country",
    "supplier_incorporated_on",
    "supplier_ppe_trading_history",
    "introducer_name",
    "introducer_role",
    "introducer_office",
    "category",
    "description",
    "quantity",
    "unit_price",
    "currency",
    "standards",
    "certificate",
    "strap_type",
    "sterile",
    "stock_location",
    "lead_time_days",
]


def write_rows(path: Path, rows: int, seed: int = 2020) -> int:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    offers = written = 0
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(HEADER)
        while written < rows:
            offers += 1
            supplier = rng.randrange(10_000)
            received = now - timedelta(minutes=rng.randrange(60 * 24 * 30))
            introduced = rng.random() < 0.33
            offer = [
                f"BENCH-{offers:07d}",
                rng.choice(["webform", "import", "email", "referral"]),
                received.isoformat(timespec="seconds"),
                f"Bench Protective {supplier} Ltd",
                f"{20_000_000 + supplier:08d}",
                "GB",
                f"{2000 + supplier % 20}-0{1 + supplier % 9}-15",
                "yes" if supplier % 3 else "no",
                f"Introducer {rng.randrange(500)}" if introduced else "",
                rng.choice(ROLES) if introduced else "",
                "Member for Benchford" if introduced else "",
            ]
            for n in range(min(rng.randint(1, 3), rows - written)):
                category = rng.choice(list(CATEGORIES))
                description, standard, price = CATEGORIES[category]
                out.writerow(
                    (offer if n == 0 else [offer[0]] + [""] * (len(offer) - 1))
                    + [
                        category,
                        description,
                        rng.randrange(1, 200) * 10_000,
                        f"{price * rng.uniform(0.5, 2.5):.2f}",
                        "GBP",
                        standard,
                        "CE 2797" if standard else "",
                        "head" if "respirator" in category else "",
                        "no",
                        rng.choice(["uk", "in_transit", "overseas"]),
                        rng.randrange(0, 60),
                    ]
                )
                written += 1
    return offers


def run(env: dict, *args: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "manage.py", "import_offers", *args],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    if done.returncode:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise RuntimeError(f"import_offers {' '.join(args)} failed ({done.returncode}):\n{tail}")
    return time.perf_counter() - started


def fresh_database(name: str, redis_url: str = "") -> dict:
    database = scratch_database(name)
    env = {**os.environ, "DATABASE_URL": database, "SECRET_KEY": "benchmark-only-key"}
    env.pop("REDIS_URL", None)  # no broker: triage in process
    if redis_url:
        env["REDIS_URL"] = redis_url
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    return env


def cases_in_triage(database_url: str) -> int:
    import psycopg

    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT count(*) FROM vipcases_case WHERE queue = 'triage'").fetchone()[
            0
        ]


def with_workers(path: Path, rows: int, database: str) -> tuple[float, float, dict | None]:
    """Import with one worker scoring and routing; (command seconds, seconds until done,
    the worker's peak memory)."""
    import redis

    broker = redis_url(REDIS_DB, required=False)
    if not broker:
        return float("nan"), float("nan"), None
    redis.Redis.from_url(broker).flushdb()
    env = fresh_database(database, broker)
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "vipcases", "worker", "--concurrency=2",
         "--loglevel=warning", "--without-mingle", "--without-gossip"],
        cwd=ROOT, env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(5)  # the worker starts
        started = time.perf_counter()
        command = run(env, str(path))
        while cases_in_triage(env["DATABASE_URL"]):
            if time.perf_counter() - started > 900:
                sys.exit("the worker did not finish within 15 minutes")
            time.sleep(0.5)
        drained = time.perf_counter() - started
        return command, drained, process_tree_peaks(worker.pid)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--database",
        default=DATABASE,
        help=f"the scratch database (dropped and made again; default {DATABASE})",
    )
    add_json_argument(parser)
    args = parser.parse_args()
    n = args.rows
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "offers.csv"
        offers = write_rows(path, n)
        log(f"{n:,} rows ({offers:,} offers) in {path.stat().st_size / 1e6:.1f} MB (not timed)")

        env = fresh_database(args.database)
        dry = run(env, str(path), "--dry-run")
        log(f"dry run (read and validate): {dry:.1f} s = {n / dry:,.0f} rows/s")
        write = run(env, str(path), "--no-triage")
        log(f"import without triage: {write:.1f} s = {n / write:,.0f} rows/s")
        again = run(env, str(path), "--no-triage")
        log(f"re-import of the same file (nothing new): {again:.1f} s")

        env = fresh_database(args.database)
        full = run(env, str(path))
        log(
            f"import with triage (score and route every case): {full:.1f} s = "
            f"{n / full:,.0f} rows/s (target: {n:,} rows in under 60 s)"
        )
        command, drained, memory = with_workers(path, n, args.database)
        log(
            f"import with one worker (--concurrency=2) scoring and routing: the command "
            f"{command:.1f} s = {n / command:,.0f} rows/s; every case scored and routed "
            f"after {drained:.1f} s"
        )
        if memory:
            log(
                f"worker peak RSS: {memory['largest_child_mib']:.0f} MiB (largest of "
                f"{memory['children']} pool processes), {memory['parent_mib']:.0f} MiB (main process)"
            )
        figures = {
            "rows": n,
            "offers": offers,
            "file_bytes": path.stat().st_size,
            "dry_run_s": dry,
            "import_s": write,
            "reimport_s": again,
            "import_with_triage_s": full,
            "with_worker_command_s": command,
            "with_worker_all_routed_s": drained,
            "worker_memory": memory,
        }
        write_json(args.json, figures)
        print(
            f"RESULT rows={n} offers={offers} dry_run_s={dry:.1f} import_s={write:.1f} "
            f"reimport_s={again:.1f} import_with_triage_s={full:.1f} "
            f"with_worker_command_s={command:.1f} with_worker_all_routed_s={drained:.1f}"
        )


if __name__ == "__main__":
    main()
