"""The codes of shared/DESIGN.md, used by the API, the import and the database.

One place for every code so forms, filters, the API and the import agree.
"""

from django.db import models


class Category(models.TextChoices):
    FFP3_RESPIRATOR = "ffp3_respirator", "FFP3 respirators"
    FFP2_RESPIRATOR = "ffp2_respirator", "FFP2 respirators"
    IIR_MASK = "iir_mask", "Type IIR surgical masks"
    GOWN = "gown", "Gowns"
    GLOVES = "gloves", "Examination gloves"
    APRON = "apron", "Aprons"
    EYE_PROTECTION = "eye_protection", "Eye protection"
    HAND_SANITISER = "hand_sanitiser", "Hand sanitiser"
    BODY_BAG = "body_bag", "Body bags"
    OTHER = "other", "Other"


class StockLocation(models.TextChoices):
    UK = "uk", "In the UK"
    IN_TRANSIT = "in_transit", "In transit"
    OVERSEAS = "overseas", "Overseas"
    NOT_YET_MANUFACTURED = "not_yet_manufactured", "Not yet manufactured"


class StrapType(models.TextChoices):
    HEAD = "head", "Head straps"
    EAR_LOOP = "ear_loop", "Ear loops"


class IntroducerRole(models.TextChoices):
    MINISTER = "minister", "Minister"
    MP = "mp", "MP"
    PEER = "peer", "Peer"
    SENIOR_OFFICIAL = "senior_official", "Senior official"
    OTHER = "other", "Other"


# Most senior first. Where an offer has several introducers, it is counted under the
# first of these roles among them (its lead introducer role) in the fairness report.
INTRODUCER_SENIORITY = (
    IntroducerRole.MINISTER,
    IntroducerRole.PEER,
    IntroducerRole.SENIOR_OFFICIAL,
    IntroducerRole.MP,
    IntroducerRole.OTHER,
)


def lead_introducer_role(roles) -> str:
    """The most senior of `roles` (an introducer role, or "" when there are none)."""
    present = set(roles)
    return next((role.value for role in INTRODUCER_SENIORITY if role in present), "")


# Roles whose introductions count as "VIP" for the VIP queue rule (personal handling only).
VIP_INTRODUCER_ROLES = frozenset(
    {IntroducerRole.MINISTER, IntroducerRole.PEER, IntroducerRole.SENIOR_OFFICIAL}
)


class Channel(models.TextChoices):
    REFERRAL = "referral", "Referral"
    MP_ENQUIRY = "mp_enquiry", "MP enquiry"
    WEBFORM = "webform", "Webform"
    EMAIL = "email", "Email"
    IMPORT = "import", "Import"


class Queue(models.TextChoices):
    TRIAGE = "triage", "Triage"
    VIP = "vip", "VIP"
    RAPID_RESPONSE = "rapid_response", "Rapid Response"
    MP_INBOX = "mp_inbox", "MP inbox"
    CLOSED = "closed", "Closed"


class Status(models.TextChoices):
    NEW = "new", "New"
    IN_PROGRESS = "in_progress", "In progress"
    TECHNICAL_ASSURANCE = "technical_assurance", "Technical assurance"
    DUE_DILIGENCE = "due_diligence", "Due diligence"
    NEGOTIATION = "negotiation", "Negotiation"
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
    CLOSED = "closed", "Closed"


class Outcome(models.TextChoices):
    CONTRACT_AWARDED = "contract_awarded", "Contract awarded"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"
    NOT_PROGRESSED = "not_progressed", "Not progressed"
    REFERRED_TO_STANDARD_ROUTE = "referred_to_standard_route", "Referred to the standard route"
    DUPLICATE = "duplicate", "Duplicate"


class Criticality(models.TextChoices):
    CRITICAL = "critical", "Critical"
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"
    NONE = "none", "None"


class DueDiligence(models.TextChoices):
    NOT_STARTED = "not_started", "Not started"
    IN_PROGRESS = "in_progress", "In progress"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"


class EventKind(models.TextChoices):
    CREATED = "created", "Case created"
    SCORED = "scored", "Scored"
    SCORE_OVERRIDDEN = "score_overridden", "Score overridden"
    ROUTED = "routed", "Routed"
    MOVED = "moved", "Moved"
    CLAIMED = "claimed", "Claimed"
    ASSIGNED = "assigned", "Assigned"
    STATUS_CHANGED = "status_changed", "Status changed"
    CLOSED = "closed", "Closed"
    NOTE = "note", "Note"
    HANDED_OVER = "handed_over", "Handed over"
    CHASER = "chaser", "Chaser"
    ENQUIRY = "enquiry", "MP enquiry"
    REPLY = "reply", "Reply sent"
    DECLARATION = "declaration", "Conflict of interest declaration"
    DUPLICATE_LINKED = "duplicate_linked", "Duplicate linked"
    EXPORTED = "exported", "Exported"
    SLA_BREACHED = "sla_breached", "SLA breached"


class EnquiryStatus(models.TextChoices):
    OPEN = "open", "Awaiting reply"
    REPLIED = "replied", "Replied"
    CLOSED = "closed", "Closed"


# Currencies accepted at intake, with the GBP rate used to compare prices with the
# benchmark. Rates as of late April 2020; recorded in every triage snapshot.
GBP_RATES = {
    "GBP": "1",
    "EUR": "0.87",
    "USD": "0.80",
    "CNY": "0.11",
    "HKD": "0.10",
    "TRY": "0.11",
}
