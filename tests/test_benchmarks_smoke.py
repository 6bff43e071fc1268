"""benchmarks/run_all.py writes BENCHMARKS.md from the figures its sections report: this
checks the writer on invented figures (no benchmark runs here)."""

import pytest

from benchmarks import run_all

MACHINE = {"cpu": "Test CPU", "cores": 2, "memory_gib": 24.0, "os": "Debian (Linux 6, x86_64)"}
VERSIONS = {"Python": "3.11.7", "Django": "5.2", "PostgreSQL": "15.2", "Redis": "7.0.15"}
MEMORY = {"parent_mib": 80.0, "children": 2, "largest_child_mib": 90.0}


def _ok(figures: dict) -> dict:
    return {
        "status": "ok",
        "seconds": 12.5,
        "at": "2026-01-02T03:04:05+00:00",
        "command": "benchmarks/x.py",
        "figures": figures,
    }


def _results() -> dict:
    page = {
        "kind": "case list",
        "label": "Open cases",
        "url": "/cases/",
        "requests": 20,
        "median_ms": 30.0,
        "p95_ms": 35.0,
        "queries": 8,
        "floor_ms": 12.0,
        "ratio": 2.5,
    }
    slow_page = {**page, "label": "Closed tab", "median_ms": 75.0, "ratio": 6.25}
    reference = {
        **page,
        "kind": "reference",
        "label": "a signed-in page that answers “ok”",
        "url": "/__bench__/ok/",
        "median_ms": 2.1,
        "p95_ms": 2.4,
        "queries": 3,
        "floor_ms": 0.4,
        "ratio": 5.25,
    }
    return {
        "run": {
            "command": "make bench",
            "cases": 1_000_000,
            "quick": False,
            "started": "2026-01-02T03:00:00+00:00",
            "finished": "2026-01-02T03:20:00+00:00",
            "seconds": 1200.0,
            "load": ["0.10 0.20 0.30", "1.00 1.10 1.20"],
            "probe_ms": [61.2, 88.9],
            "machine": MACHINE,
            "versions": VERSIONS,
        },
        "sections": {
            "build": _ok(
                {
                    "build": {
                        "cases": 1_000_000,
                        "jobs": 2,
                        "seed_s": 300.0,
                        "shape_s": 150.0,
                        "vacuum_s": 20.0,
                        "build_s": 470.0,
                    },
                    "database": {
                        "cases": 1_000_000,
                        "open_cases": 44_000,
                        "open_by_queue": {"vip": 11_000, "rapid_response": 33_000},
                        "offer_lines": 1_500_000,
                        "introductions": 400_000,
                        "events": 2_400_000,
                        "database_bytes": 4 * 1024**3,
                    },
                }
            ),
            "pages": _ok(
                {
                    "cases": 1_000_000,
                    "pages": [page, slow_page],
                    "references": [reference],
                    "peak_rss_mib": 120.0,
                }
            ),
            "dashboards": _ok(
                {
                    "pages": {
                        "dashboard": {
                            "served": {"median_ms": 115.0, "p95_ms": 120.0},
                            "worked out": {"median_ms": 559.0, "p95_ms": 567.0},
                        }
                    },
                    "requests": {"served": 20, "worked out": 5},
                    "peak_rss_mib": 150.0,
                }
            ),
            "triage": _ok(
                {
                    "offers": 100_000,
                    "lines": 250_000,
                    "repeat": 3,
                    "best_s": 2.8,
                    "offers_per_s": 35_700.0,
                    "lines_per_s": 89_000.0,
                }
            ),
            "routing": _ok(
                {
                    "cases": 10_000,
                    "noop_tasks_per_s": 570.0,
                    "routed_cases_per_s": 620.0,
                    "ratio": 1.09,
                    "preview_cases": 101_669,
                    "preview_ms": 195.0,
                    "transition_cases": 101_669,
                    "transition_moved": 50_000,
                    "transition_state": "done",
                    "transition_s": 36.1,
                    "worker_memory": MEMORY,
                }
            ),
            "import": {
                "status": "failed",
                "seconds": 3.0,
                "at": "2026-01-02T03:15:00+00:00",
                "command": "benchmarks/import_bench.py",
                "error": "exit status 1, no figures written",
                "output": ["Traceback (most recent call last):", "RuntimeError: boom"],
            },
            "api": _ok(
                {
                    "workers": 4,
                    "connections": 8,
                    "seconds": 30.0,
                    "requests": 4_350,
                    "requests_per_s": 145.0,
                    "p50_ms": 55.0,
                    "p99_ms": 75.0,
                    "errors": 0,
                    "offers_created": 4_354,
                    "cases": 4_400,
                    "cases_sent_to_triage": 4_400,
                    "triage_messages": 700,
                    "triage_ids_repeated": 0,
                    "get_requests_per_s": 502.0,
                    "get_p99": "22ms",
                    "get_errors": 0,
                    "worker_memory": MEMORY,
                }
            ),
        },
    }


def test_render_marks_every_figure_against_its_target(tmp_path):
    text = run_all.render(_results(), "# Benchmarks\n\nHand-written notes.\n")

    assert text.startswith("# Benchmarks\n\nHand-written notes.\n")
    assert run_all.MARKER in text
    assert "Test CPU, 2 cores" in text and "PostgreSQL 15.2" in text
    # A fast page near its floor meets the target; a slow one does not.
    assert "| case list: Open cases, median | 30 ms (2.5× the SQL floor) |" in text
    assert "| case list: Closed tab, median | 75 ms (6.2× the SQL floor) |" in text
    # The reference pages are shown beside their floor, with no target of their own.
    assert "| a signed-in page that answers “ok” | 2.1 ms | 2.4 ms | 3 | 0.4 ms | 5.2× |" in text
    assert "answers “ok”, median" not in text
    assert "| triage: lines scored a second | 89,000 | ≥ 50,000 | ✅ met |" in text
    assert "| intake API: offers a second | 145 | ≥ 300 | ❌ not met |" in text
    assert "| transition of 101,669 cases | 36.1 s | 100,000 under 60 s | ✅ met |" in text
    assert "| `/dashboard/` as served, median | 115 ms | under 300 ms | ✅ met |" in text
    # Worked out afresh is the background refresh's cost: shown, with no target.
    assert "`/dashboard/?refresh=1` | worked out afresh: what the background" in text
    assert "`/dashboard/?refresh=1` worked out afresh, median" not in text
    # A failed section is reported with the end of its output, and the rest still shows.
    assert "**Not measured: the section failed** (exit status 1" in text
    assert "RuntimeError: boom" in text
    assert "| Spreadsheet import | failed | — | ❌ not met |" in text
    assert "| gunicorn sync worker, intake API run (largest of 2; master 80 MiB) | 90 MiB |" in text
    assert "| **the database, built** | **7 min 50 s** |" in text
    # How fast the host was, at the start and the end, so runs can be compared.
    assert "Speed probe (a fixed Python loop on one core, best of 7; lower is faster): " in text
    assert "61 ms before, 89 ms after" in text


def test_a_case_whose_triage_task_was_not_sent_fails_the_api_section():
    results = _results()
    assert "| intake API: cases sent to triage | 4,400 of 4,400 | every case, once | ✅ met |" in (
        run_all.render(results, "# Benchmarks\n")
    )
    results["sections"]["api"]["figures"]["cases_sent_to_triage"] = 4_399
    text = run_all.render(results, "# Benchmarks\n")
    assert (
        "| intake API: cases sent to triage | 4,399 of 4,400 | every case, once | ❌ not met |"
        in text
    )
    results["sections"]["api"]["figures"]["cases_sent_to_triage"] = 4_400
    results["sections"]["api"]["figures"]["triage_ids_repeated"] = 1
    assert "4,400 of 4,400 | every case, once | ❌ not met |" in run_all.render(results, "")


def test_a_run_without_a_speed_probe_still_renders():
    results = _results()
    del results["run"]["probe_ms"]
    assert "Speed probe" not in run_all.render(results, "# Benchmarks\n")


def test_the_speed_probe_times_its_loop():
    assert 0 < run_all.speed_probe(rounds=1) < 10_000


def test_the_speed_probe_reports_its_fastest_round(monkeypatch):
    """The best of its rounds: a round slowed by a neighbour must not move the figure."""
    rounds = iter([0.0, 0.090, 1.0, 1.050, 2.0, 2.400, 3.0, 3.070])  # 90, 50, 400, 70 ms
    monkeypatch.setattr(run_all.time, "perf_counter", lambda: next(rounds))
    monkeypatch.setattr(run_all, "PROBE_LOOPS", 1)
    assert run_all.speed_probe(rounds=4) == pytest.approx(50)


def test_the_file_keeps_its_notes_and_its_figures_for_the_next_run(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    results = _results()
    path.write_text(run_all.render(results, "# Benchmarks\n\nNotes kept.\n"), encoding="utf-8")

    preamble, stored = run_all.preamble_and_results(path)

    assert preamble.strip() == "# Benchmarks\n\nNotes kept."
    assert stored == results


def test_quick_arguments_are_small():
    assert run_all.section_arguments("routing", 20_000, quick=True) == [
        "--cases=1000",
        "--transition=5000",
    ]
    assert "--build-only" in run_all.section_arguments("build", 20_000, quick=True)
    assert run_all.section_arguments("triage", 1_000_000, quick=False) == []
