"""The case workflow's allowed transitions: plain Python, no ORM, no clock.

new → in progress → technical assurance → due diligence → negotiation →
awaiting approval → closed with an outcome. A case may be closed from any open
status (with an outcome and a rationale); a contract can only be awarded after
approval. Stepping back one stage is allowed with a rationale (e.g. due
diligence sends an offer back for more technical evidence).
"""

from dataclasses import dataclass

NEW = "new"
IN_PROGRESS = "in_progress"
TECHNICAL_ASSURANCE = "technical_assurance"
DUE_DILIGENCE = "due_diligence"
NEGOTIATION = "negotiation"
AWAITING_APPROVAL = "awaiting_approval"
CLOSED = "closed"

STAGES = (NEW, IN_PROGRESS, TECHNICAL_ASSURANCE, DUE_DILIGENCE, NEGOTIATION, AWAITING_APPROVAL)

CONTRACT_AWARDED = "contract_awarded"
OUTCOMES = (
    CONTRACT_AWARDED,
    "rejected",
    "withdrawn",
    "not_progressed",
    "referred_to_standard_route",
    "duplicate",
)


@dataclass(frozen=True)
class TransitionCheck:
    allowed: bool
    rationale_required: bool
    reason: str = ""


def check_transition(current: str, target: str, outcome: str = "") -> TransitionCheck:
    """Say whether a case may go from `current` to `target` (and with which outcome)."""
    if current == CLOSED:
        return TransitionCheck(False, False, "The case is closed; it cannot change status.")
    if target == CLOSED:
        if outcome not in OUTCOMES:
            return TransitionCheck(False, True, "Choose an outcome to close the case.")
        if outcome == CONTRACT_AWARDED and current != AWAITING_APPROVAL:
            return TransitionCheck(
                False, True, "A contract can only be awarded once the case is awaiting approval."
            )
        return TransitionCheck(True, True)
    if outcome:
        return TransitionCheck(False, False, "An outcome is only recorded when closing a case.")
    if target not in STAGES:
        return TransitionCheck(False, False, f"Unknown status {target!r}.")
    here, there = STAGES.index(current), STAGES.index(target)
    if there == here + 1:
        return TransitionCheck(True, False)
    if there == here - 1 and there > 0:
        return TransitionCheck(True, True)
    return TransitionCheck(
        False, False, "A case moves one stage at a time (or back one stage with a rationale)."
    )


def next_statuses(current: str) -> tuple[str, ...]:
    """The statuses a case can move to next, in workflow order (closing excluded)."""
    if current == CLOSED:
        return ()
    here = STAGES.index(current)
    options = []
    if here > 1:
        options.append(STAGES[here - 1])
    if here + 1 < len(STAGES):
        options.append(STAGES[here + 1])
    return tuple(options)
