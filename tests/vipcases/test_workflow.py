import pytest

from vipcases import workflow

ALLOWED = [
    ("new", "in_progress", "", False),
    ("in_progress", "technical_assurance", "", False),
    ("technical_assurance", "due_diligence", "", False),
    ("due_diligence", "negotiation", "", False),
    ("negotiation", "awaiting_approval", "", False),
    ("due_diligence", "technical_assurance", "", True),
    ("awaiting_approval", "closed", "contract_awarded", True),
    ("new", "closed", "rejected", True),
    ("negotiation", "closed", "withdrawn", True),
    ("in_progress", "closed", "duplicate", True),
]

REFUSED = [
    ("new", "due_diligence", ""),
    ("in_progress", "new", ""),
    ("closed", "in_progress", ""),
    ("closed", "closed", "rejected"),
    ("negotiation", "closed", "contract_awarded"),
    ("new", "closed", ""),
    ("new", "closed", "made_up"),
    ("new", "in_progress", "rejected"),
    ("new", "archived", ""),
]


@pytest.mark.parametrize(("current", "target", "outcome", "needs_rationale"), ALLOWED)
def test_it_allows_the_workflow(current, target, outcome, needs_rationale):
    check = workflow.check_transition(current, target, outcome)
    assert check.allowed
    assert check.rationale_required is needs_rationale


@pytest.mark.parametrize(("current", "target", "outcome"), REFUSED)
def test_it_refuses_other_moves_with_a_reason(current, target, outcome):
    check = workflow.check_transition(current, target, outcome)
    assert not check.allowed
    assert check.reason


def test_it_offers_next_and_previous_stages():
    assert workflow.next_statuses("new") == ("in_progress",)
    assert workflow.next_statuses("due_diligence") == ("technical_assurance", "negotiation")
    assert workflow.next_statuses("awaiting_approval") == ("negotiation",)
    assert workflow.next_statuses("closed") == ()


def test_its_codes_match_the_database_codes():
    from vipcases.codes import Outcome, Status

    assert set(workflow.STAGES) | {workflow.CLOSED} == set(Status.values)
    assert set(workflow.OUTCOMES) == set(Outcome.values)
