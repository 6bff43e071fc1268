"""Which actions the case page offers: plain Python, no ORM, no request.

`allowed_actions` decides what the "Actions" area shows. It mirrors the rules the
services in vipcases/services.py (and triage.services.score_override) enforce; the
services stay the authority, so a form posted by hand is still refused there.
"""

from collections.abc import Set
from typing import Protocol

from vipcases import workflow
from vipcases.access import CASEWORKER, MANAGER, MP_INBOX

CLAIM = "claim"
ASSIGN = "assign"
STATUS = "status"  # move one stage along (or back) the workflow
CLOSE = "close"  # close with an outcome
NOTE = "note"
NOTE_RESTRICTED = "note_restricted"  # may mark a note restricted (commercial)
HAND_OVER = "hand_over"  # to the MP inbox
HAND_BACK = "hand_back"  # from the MP inbox to triage
CHASER = "chaser"
ENQUIRY = "enquiry"  # record an MP enquiry about the case
OVERRIDE = "override"

ACTIONS = frozenset(
    {CLAIM, ASSIGN, STATUS, CLOSE, NOTE, NOTE_RESTRICTED, HAND_OVER, HAND_BACK, CHASER}
    | {ENQUIRY, OVERRIDE}
)

MP_INBOX_QUEUE = "mp_inbox"


class CaseFacts(Protocol):
    """What the rules read from a case; a vipcases.models.Case satisfies it."""

    queue: str
    status: str
    owner_id: int | None


def allowed_actions(user_roles: Set[str], case: CaseFacts, *, scored: bool = True) -> set[str]:
    """The actions a user with `user_roles` may take on `case` now.

    `scored` says whether triage has scored the case (an unscored case cannot be
    overridden). Managers can do everything caseworkers can.
    """
    is_open = case.status != workflow.CLOSED
    if CASEWORKER in user_roles or MANAGER in user_roles:
        # Notes and chasers are information: they may follow a closed case too.
        actions = {NOTE, NOTE_RESTRICTED, CHASER}
        if MANAGER in user_roles:
            # Enquiries are recorded in the MP inbox, which caseworkers do not use.
            actions.add(ENQUIRY)
        if is_open:
            actions |= {CLOSE}
            if workflow.next_statuses(case.status):
                actions.add(STATUS)
            if case.owner_id is None:
                actions.add(CLAIM)
            actions.add(HAND_BACK if case.queue == MP_INBOX_QUEUE else HAND_OVER)
            if MANAGER in user_roles:
                actions.add(ASSIGN)
                if scored:
                    actions.add(OVERRIDE)
        return actions
    if MP_INBOX in user_roles and is_open and case.queue == MP_INBOX_QUEUE:
        # The MP-inbox team tracks; it never scores, routes or works a case.
        return {NOTE, CHASER, ENQUIRY, HAND_BACK}
    return set()


def outcomes_allowed(status: str) -> tuple[str, ...]:
    """The outcomes a case in `status` may be closed with (a contract only after approval)."""
    return tuple(
        outcome
        for outcome in workflow.OUTCOMES
        if workflow.check_transition(status, workflow.CLOSED, outcome).allowed
    )
