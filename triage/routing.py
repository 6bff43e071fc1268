"""Where a scored case goes: plain Python, no ORM, no clock.

The rules, in order (shared/DESIGN.md, "Routing"):
1. an MP enquiry about an existing offer → MP inbox (tracking);
2. ineligible → closed, not progressed, with the reasons and a reply to send;
3. score at or above the rapid threshold → Rapid Response, whoever introduced it;
4. introduced by a VIP and offer value at or above the VIP threshold → VIP queue
   (personal handling of the introducer's contact — not a higher priority);
5. other introduced offers → MP inbox, for tracking;
6. the rest → closed, referred to the standard offer route.

The introducer decides only rules 4 and 5, which come after every rule about need;
within each queue the work order is the clinical-need score, then age.
"""

from dataclasses import dataclass
from decimal import Decimal

TRIAGE, VIP, RAPID_RESPONSE, MP_INBOX, CLOSED = (
    "triage",
    "vip",
    "rapid_response",
    "mp_inbox",
    "closed",
)
NOT_PROGRESSED = "not_progressed"
REFERRED_TO_STANDARD_ROUTE = "referred_to_standard_route"


@dataclass(frozen=True)
class RoutingRules:
    version: int
    rapid_threshold: int
    vip_value_threshold_gbp: Decimal


@dataclass(frozen=True)
class RoutingFacts:
    score: int
    eligible: bool
    ineligible_reasons: tuple[str, ...]
    offer_value_gbp: Decimal
    introduced: bool
    vip_introduced: bool
    mp_enquiry_about_existing_offer: bool


@dataclass(frozen=True)
class RoutingDecision:
    queue: str
    outcome: str  # empty unless the case is closed
    rule: str
    sentence: str
    reply: str = ""


def _money(value: Decimal) -> str:
    return f"£{value:,.0f}"


def route(facts: RoutingFacts, rules: RoutingRules) -> RoutingDecision:
    if facts.mp_enquiry_about_existing_offer:
        return RoutingDecision(
            MP_INBOX,
            "",
            "mp_enquiry",
            "An MP enquiry about an offer already in the system goes to the MP inbox for tracking.",
        )
    if not facts.eligible:
        reasons = (
            " ".join(facts.ineligible_reasons) or "The offer does not meet current clinical need."
        )
        return RoutingDecision(
            CLOSED,
            NOT_PROGRESSED,
            "ineligible",
            f"Not progressed: {reasons}",
            reply=(
                "Thank you for your offer of personal protective equipment. We have assessed it "
                f"against current clinical need and will not be taking it forward. {reasons} "
                "If your offer changes, you are welcome to submit it again through the standard route."
            ),
        )
    if facts.score >= rules.rapid_threshold:
        return RoutingDecision(
            RAPID_RESPONSE,
            "",
            "rapid",
            f"Score {facts.score} is at or above the Rapid Response threshold of "
            f"{rules.rapid_threshold}; routed on clinical need, whoever introduced it.",
        )
    if facts.vip_introduced and facts.offer_value_gbp >= rules.vip_value_threshold_gbp:
        return RoutingDecision(
            VIP,
            "",
            "vip",
            f"Introduced by a minister, peer or senior official and worth {_money(facts.offer_value_gbp)} "
            f"(at least {_money(rules.vip_value_threshold_gbp)}): handled personally in the VIP queue. "
            "Its place in the queue still follows its score.",
        )
    if facts.introduced:
        return RoutingDecision(
            MP_INBOX,
            "",
            "introduced",
            "Introduced offer below the Rapid Response threshold: tracked in the MP inbox so the "
            "introducer can be kept informed.",
        )
    return RoutingDecision(
        CLOSED,
        REFERRED_TO_STANDARD_ROUTE,
        "standard_route",
        f"Score {facts.score} is below the Rapid Response threshold of {rules.rapid_threshold} and "
        "nobody asked for personal handling: referred to the standard offer route.",
        reply=(
            "Thank you for your offer of personal protective equipment. It has been passed to the "
            "standard offer route, which will contact you about the next steps."
        ),
    )
