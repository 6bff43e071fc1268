"""triage/scoring.py cannot know who introduced an offer: it imports only the standard
library, no function takes an introducer, role or channel, and no input has a field
for one."""

import ast
import dataclasses
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from triage import scoring

SOURCE = Path(scoring.__file__)
ALLOWED_MODULES = {
    "collections.abc",
    "dataclasses",
    "datetime",
    "decimal",
    "enum",
    "functools",
    "math",
    "re",
    "types",
    "typing",
}
FORBIDDEN_WORDS = ("introduc", "channel", "role", "vip", "referr", "mp_", "minister", "peer")
INPUT_TYPES = (
    scoring.OfferFacts,
    scoring.LineFacts,
    scoring.SupplierFacts,
    scoring.CategoryNeed,
    scoring.ScoringPolicy,
)


def imported_modules(tree: ast.AST) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative imports could reach the application"
            found.add(node.module)
    return found


def test_it_imports_only_the_allowed_standard_library():
    modules = imported_modules(ast.parse(SOURCE.read_text()))

    assert modules <= ALLOWED_MODULES, modules - ALLOWED_MODULES
    for module in modules:
        assert module.split(".")[0] in sys.stdlib_module_names


@pytest.mark.parametrize("word", ["django", "offers", "vipcases", "introduc", "celery"])
def test_it_names_no_application_module(word):
    modules = imported_modules(ast.parse(SOURCE.read_text()))

    assert not [m for m in modules if word in m.lower()]


def test_it_does_not_import_anything_at_run_time():
    tree = ast.parse(SOURCE.read_text())
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    attributes = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}

    assert not {"__import__", "importlib", "exec", "eval", "open", "globals"} & (names | attributes)


def test_it_loads_without_pulling_in_the_application():
    # Loaded from its file alone in a fresh interpreter, so the package __init__ and
    # anything the test run already imported cannot hide a dependency.
    program = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('scoring_alone', {str(SOURCE)!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'django', 'offers', 'vipcases', 'triage', 'celery'}))\n"
    )
    done = subprocess.run(  # noqa: S603 (our own interpreter, a fixed program)
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )

    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "function",
    [
        obj
        for _, obj in inspect.getmembers(scoring, inspect.isfunction)
        if obj.__module__ == scoring.__name__
    ],
    ids=lambda f: f.__name__,
)
def test_no_function_takes_an_introducer_role_or_channel(function):
    parameters = inspect.signature(function).parameters

    assert not [p for p in parameters if any(word in p.lower() for word in FORBIDDEN_WORDS)]


def test_score_offer_takes_only_the_offer_facts_the_need_the_policy_and_the_day():
    assert list(inspect.signature(scoring.score_offer).parameters) == [
        "offer",
        "need",
        "policy",
        "today",
    ]


@pytest.mark.parametrize("facts", INPUT_TYPES, ids=lambda t: t.__name__)
def test_no_input_has_a_field_for_an_introducer_role_or_channel(facts):
    names = [field.name for field in dataclasses.fields(facts)]

    assert names
    assert not [n for n in names if any(word in n.lower() for word in FORBIDDEN_WORDS)]


def test_the_offer_facts_hold_exactly_the_listed_fields():
    # A new field must be added here on purpose, after asking whether it is clinical need.
    assert [f.name for f in dataclasses.fields(scoring.OfferFacts)] == ["lines", "supplier"]
    assert [f.name for f in dataclasses.fields(scoring.SupplierFacts)] == [
        "incorporated_on",
        "ppe_trading_history",
        "due_diligence_status",
    ]
    assert [f.name for f in dataclasses.fields(scoring.LineFacts)] == [
        "category",
        "quantity",
        "unit_price_gbp",
        "standards",
        "certificate",
        "strap_type",
        "sterile",
        "sterilisation_validation",
        "stock_location",
        "lead_time_days",
    ]
