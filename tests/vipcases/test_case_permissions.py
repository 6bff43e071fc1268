from dataclasses import dataclass

import pytest

from vipcases.case_permissions import (
    ASSIGN,
    CHASER,
    CLAIM,
    CLOSE,
    ENQUIRY,
    HAND_BACK,
    HAND_OVER,
    NOTE,
    NOTE_RESTRICTED,
    OVERRIDE,
    STATUS,
    allowed_actions,
    outcomes_allowed,
)


@dataclass
class Facts:
    queue: str = "vip"
    status: str = "new"
    owner_id: int | None = None


CASEWORKER = frozenset({"caseworker"})
MANAGER = frozenset({"manager"})
MP_INBOX = frozenset({"mp_inbox"})
NOBODY = frozenset()

WORKING = {NOTE, NOTE_RESTRICTED, CHASER, CLOSE}


@pytest.mark.parametrize(
    ("roles", "facts", "scored", "expected"),
    [
        # caseworkers
        (CASEWORKER, Facts(), True, WORKING | {STATUS, CLAIM, HAND_OVER}),
        (CASEWORKER, Facts(owner_id=7), True, WORKING | {STATUS, HAND_OVER}),
        (
            CASEWORKER,
            Facts(queue="mp_inbox", status="in_progress"),
            True,
            WORKING | {STATUS, CLAIM, HAND_BACK},
        ),
        (
            CASEWORKER,
            Facts(status="awaiting_approval", owner_id=7),
            True,
            WORKING | {STATUS, HAND_OVER},
        ),
        (CASEWORKER, Facts(queue="closed", status="closed"), True, {NOTE, NOTE_RESTRICTED, CHASER}),
        # managers: everything caseworkers can, plus assign, override and MP enquiries
        (MANAGER, Facts(), True, WORKING | {STATUS, CLAIM, HAND_OVER, ASSIGN, OVERRIDE, ENQUIRY}),
        (MANAGER, Facts(), False, WORKING | {STATUS, CLAIM, HAND_OVER, ASSIGN, ENQUIRY}),
        (
            MANAGER | CASEWORKER,
            Facts(owner_id=3),
            True,
            WORKING | {STATUS, HAND_OVER, ASSIGN, OVERRIDE, ENQUIRY},
        ),
        (
            MANAGER,
            Facts(queue="closed", status="closed"),
            True,
            {NOTE, NOTE_RESTRICTED, CHASER, ENQUIRY},
        ),
        # the MP-inbox team: only on open cases in the MP inbox, and never restricted notes
        (MP_INBOX, Facts(queue="mp_inbox"), True, {NOTE, CHASER, ENQUIRY, HAND_BACK}),
        (MP_INBOX, Facts(queue="vip"), True, set()),
        (MP_INBOX, Facts(queue="rapid_response", owner_id=2), True, set()),
        (MP_INBOX, Facts(queue="closed", status="closed"), True, set()),
        # no role
        (NOBODY, Facts(), True, set()),
        (NOBODY, Facts(queue="mp_inbox"), True, set()),
    ],
)
def test_it_offers_only_what_the_role_and_status_allow(roles, facts, scored, expected):
    assert allowed_actions(roles, facts, scored=scored) == expected


@pytest.mark.parametrize(
    ("status", "contract_possible"),
    [
        ("new", False),
        ("in_progress", False),
        ("negotiation", False),
        ("awaiting_approval", True),
    ],
)
def test_it_offers_a_contract_award_only_after_approval(status, contract_possible):
    outcomes = outcomes_allowed(status)
    assert ("contract_awarded" in outcomes) is contract_possible
    assert "rejected" in outcomes


def test_it_offers_no_outcome_for_a_closed_case():
    assert outcomes_allowed("closed") == ()
