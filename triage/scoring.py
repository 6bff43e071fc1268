"""Score a PPE offer on clinical need alone: a pure function of plain data.

`score_offer(offer, need, policy, today=...)` takes the facts of an offer (its lines
and its supplier), the clinical-need table and a scoring policy, and returns a
`TriageResult`: a total from 0 to 100, six components with a sentence each that a
caseworker can read out, flags, eligibility with reasons, and the policy version.

Guarantees
- Pure: standard library only, no Django, no I/O, no clock (the caller passes
  `today`), no randomness. The same inputs always give an equal result.
- Introducer-blind: who introduced the offer, their role and the channel it came
  through are not arguments of any function here and no input type has a field for
  them (tests/triage/test_scoring_purity.py checks both and the imports).
- Deterministic arithmetic: points are whole numbers computed with integers or with
  a fixed decimal context, so a caller's decimal context cannot change a score.
  Points are rounded down.
- Replayable: `*_to_dict` / `*_from_dict` turn the inputs into JSON-ready data and
  back exactly, so an assessment can store its inputs and be scored again later.

How a line is scored (weights come from the policy; the defaults in brackets)
- need (30): the category's criticality now: critical 100%, high 75%, medium 45%,
  low 20%, none 0%.
- coverage (20): units count only up to the unmet demand (the gap):
  weight x min(quantity, gap) / gap. Units beyond the gap add nothing.
- compliance (20): a claimed standard must match one the category requires,
  read robustly from free text ("EN149:2001+A1:2009 FFP3", "EN 149 FFP3"); a
  respirator class or mask type must be at least the one required. Full points need
  a certificate naming a notified body (a four-digit number, e.g. "CE 2797"); without
  one, half. A sterile claim without a validated sterilisation process (ISO 11137,
  ISO 11135, EN 556, ...) halves the points again. Respirators with ear loops score 0.
- deliverability (15): 40% for where the stock is (UK > in transit > overseas >
  not yet manufactured) and 60% for the lead time, which runs down to nothing at a
  horizon that is shorter the more critical the need (critical: 21 days).
- value (10): unit price against the benchmark: full at or below it, falling to 0
  at `extreme_high_ratio` times it; above that 0 and a risk flag; below
  `extreme_low_ratio` times it half points and a risk flag (possible counterfeit),
  never a bonus. No price or no benchmark: half points.
- credibility (5): PPE or medical trading history (40%), company age (30%: three
  years or more full, one to three half, under one none and a flag) and due
  diligence (30%: passed full, in progress half). Failed due diligence: 0 and a flag.

A line is ineligible when there is no current clinical need for its category, when
the category requires a standard and none is evidenced, or when it is below the
policy's minimum order.

How the lines make the offer
An offer is worth what its most useful line is worth: the total and components are
those of its best eligible line (highest total, the first line on a tie). If no line
is eligible the offer is ineligible, its total and components are still those of its
best line, for information, and the reasons of every line are given. Flags are
collected from every line, with the line's index (0-based), followed by the flags
about the supplier (line None).

Hence (tested as properties): more units never lower an offer's standing, ordered by
eligibility first and then total, nor the total of a one-line offer; a valid
certificate or a shorter lead time never changes eligibility and never lowers the total.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Context, Decimal, DivisionByZero, InvalidOperation, Overflow
from functools import lru_cache
from types import MappingProxyType

__all__ = [
    "CATEGORIES",
    "COMPONENTS",
    "CRITICALITIES",
    "DEFAULT_NEED",
    "DEFAULT_POLICY",
    "DUE_DILIGENCE",
    "FLAG_CODES",
    "STOCK_LOCATIONS",
    "STRAP_TYPES",
    "CategoryNeed",
    "Component",
    "Flag",
    "LineFacts",
    "OfferFacts",
    "ScoringPolicy",
    "SupplierFacts",
    "TriageResult",
    "need_table_from_dict",
    "need_table_to_dict",
    "offer_facts_from_dict",
    "offer_facts_to_dict",
    "policy_from_dict",
    "policy_to_dict",
    "result_from_dict",
    "result_to_dict",
    "score_offer",
]

CATEGORIES = (
    "ffp3_respirator",
    "ffp2_respirator",
    "iir_mask",
    "gown",
    "gloves",
    "apron",
    "eye_protection",
    "hand_sanitiser",
    "body_bag",
    "other",
)
STOCK_LOCATIONS = ("uk", "in_transit", "overseas", "not_yet_manufactured")
CRITICALITIES = ("critical", "high", "medium", "low", "none")
DUE_DILIGENCE = ("not_started", "in_progress", "passed", "failed")
STRAP_TYPES = ("head", "ear_loop")
COMPONENTS = ("need", "coverage", "compliance", "deliverability", "value", "credibility")
FLAG_CODES = (
    "standard_missing",
    "no_notified_body",
    "ear_loop_respirator",
    "unvalidated_sterility",
    "price_extreme_high",
    "price_extreme_low",
    "new_company",
    "due_diligence_failed",
)


# --- inputs ---------------------------------------------------------------------------

# No unit of PPE costs a billion pounds; a price that large is a typing error, and keeping
# prices below it keeps every calculation well inside the fixed decimal precision.
_PRICE_LIMIT = 1_000_000_000


def _check_int(name: str, value: object, minimum: int = 0) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be a whole number, not {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, not {value}")


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, not {value!r}")


def _check_decimal(name: str, value: object) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise TypeError(f"{name} must be a finite Decimal, not {value!r}")


def _check_texts(name: str, value: object) -> None:
    if not isinstance(value, tuple) or not all(isinstance(item, str) for item in value):
        raise TypeError(f"{name} must be a tuple of strings, not {value!r}")


@dataclass(frozen=True, slots=True)
class LineFacts:
    """One line of an offer, as the supplier claims it. Prices are already in GBP."""

    category: str
    quantity: int
    unit_price_gbp: Decimal | None  # None: no price given
    standards: tuple[str, ...]  # free text as claimed, e.g. "EN 149:2001+A1:2009 FFP3"
    certificate: str  # e.g. "CE 2797": a four-digit notified-body number should appear
    strap_type: str | None  # "head" | "ear_loop" | None (respirators only)
    sterile: bool
    sterilisation_validation: str | None  # e.g. "ISO 11137-2 dose audit"; None if absent
    stock_location: str
    lead_time_days: int

    def __post_init__(self) -> None:
        _check_choice("category", self.category, CATEGORIES)
        _check_int("quantity", self.quantity)
        if self.unit_price_gbp is not None:
            _check_decimal("unit_price_gbp", self.unit_price_gbp)
            if not 0 <= self.unit_price_gbp < _PRICE_LIMIT:
                raise ValueError(f"unit_price_gbp must be from 0 to under {_PRICE_LIMIT:,}")
        _check_texts("standards", self.standards)
        if not isinstance(self.certificate, str):
            raise TypeError("certificate must be a string")
        if self.strap_type is not None:
            _check_choice("strap_type", self.strap_type, STRAP_TYPES)
        if not isinstance(self.sterile, bool):
            raise TypeError("sterile must be True or False")
        if self.sterilisation_validation is not None and not isinstance(
            self.sterilisation_validation, str
        ):
            raise TypeError("sterilisation_validation must be a string or None")
        _check_choice("stock_location", self.stock_location, STOCK_LOCATIONS)
        _check_int("lead_time_days", self.lead_time_days)


@dataclass(frozen=True, slots=True)
class SupplierFacts:
    incorporated_on: date | None
    ppe_trading_history: bool
    due_diligence_status: str

    def __post_init__(self) -> None:
        if self.incorporated_on is not None and not isinstance(self.incorporated_on, date):
            raise TypeError("incorporated_on must be a date or None")
        if not isinstance(self.ppe_trading_history, bool):
            raise TypeError("ppe_trading_history must be True or False")
        _check_choice("due_diligence_status", self.due_diligence_status, DUE_DILIGENCE)


@dataclass(frozen=True, slots=True)
class OfferFacts:
    """Everything scoring may know about an offer: its lines and its supplier."""

    lines: tuple[LineFacts, ...]
    supplier: SupplierFacts

    def __post_init__(self) -> None:
        if not isinstance(self.lines, tuple) or not self.lines:
            raise ValueError("an offer needs a tuple of at least one line")
        if not all(isinstance(line, LineFacts) for line in self.lines):
            raise TypeError("lines must be LineFacts")
        if not isinstance(self.supplier, SupplierFacts):
            raise TypeError("supplier must be SupplierFacts")


@dataclass(frozen=True, slots=True)
class CategoryNeed:
    """One row of the clinical-need table."""

    category: str
    criticality: str
    unmet_demand: int  # units needed over the horizon minus stock and pipeline
    required_standards: tuple[str, ...]  # any one satisfies; empty: no standard required
    benchmark_price_gbp: Decimal | None

    def __post_init__(self) -> None:
        _check_choice("category", self.category, CATEGORIES)
        _check_choice("criticality", self.criticality, CRITICALITIES)
        _check_int("unmet_demand", self.unmet_demand)
        _check_texts("required_standards", self.required_standards)
        if self.benchmark_price_gbp is not None:
            _check_decimal("benchmark_price_gbp", self.benchmark_price_gbp)
            if not 0 < self.benchmark_price_gbp < _PRICE_LIMIT:
                raise ValueError(f"benchmark_price_gbp must be above 0 and under {_PRICE_LIMIT:,}")


@dataclass(frozen=True, slots=True)
class ScoringPolicy:
    """A version of the scoring weights and thresholds.

    `weights` gives the maximum points of each component; its keys are exactly
    COMPONENTS and the weights add up to 100. It is stored read-only.
    """

    version: str
    weights: Mapping[str, int]
    min_order_units: int = 1000
    extreme_high_ratio: Decimal = Decimal("3")
    extreme_low_ratio: Decimal = Decimal("0.3")

    def __post_init__(self) -> None:
        if not isinstance(self.version, str) or not self.version:
            raise ValueError("a policy needs a version")
        if not isinstance(self.weights, Mapping) or set(self.weights) != set(COMPONENTS):
            raise ValueError(f"weights must have exactly the keys {', '.join(COMPONENTS)}")
        for name in COMPONENTS:
            _check_int(f"weight of {name}", self.weights[name])
        if sum(self.weights.values()) != 100:
            raise ValueError(f"weights must add up to 100, not {sum(self.weights.values())}")
        _check_int("min_order_units", self.min_order_units)
        _check_decimal("extreme_high_ratio", self.extreme_high_ratio)
        _check_decimal("extreme_low_ratio", self.extreme_low_ratio)
        if not self.extreme_high_ratio > 1:
            raise ValueError("extreme_high_ratio must be more than 1")
        if not 0 <= self.extreme_low_ratio <= 1:
            raise ValueError("extreme_low_ratio must be from 0 to 1")
        weights = MappingProxyType({name: self.weights[name] for name in COMPONENTS})
        object.__setattr__(self, "weights", weights)


DEFAULT_POLICY = ScoringPolicy(
    version="scoring-2020.1",
    weights={
        "need": 30,
        "coverage": 20,
        "compliance": 20,
        "deliverability": 15,
        "value": 10,
        "credibility": 5,
    },
)


def _need(category, criticality, unmet_demand, standards, benchmark) -> CategoryNeed:
    benchmark_price = Decimal(benchmark) if benchmark is not None else None
    return CategoryNeed(category, criticality, unmet_demand, standards, benchmark_price)


# The starting table, as in late April 2020. Managers keep the real one; these unmet
# demands are invented but of the right order. Sanitiser is per 500 ml unit.
DEFAULT_NEED: Mapping[str, CategoryNeed] = MappingProxyType(
    {
        row.category: row
        for row in (
            _need("ffp3_respirator", "critical", 12_000_000, ("EN 149 FFP3",), "2.50"),
            _need("ffp2_respirator", "high", 5_000_000, ("EN 149 FFP2",), "1.20"),
            _need("iir_mask", "high", 150_000_000, ("EN 14683 Type IIR",), "0.30"),
            _need("gown", "critical", 25_000_000, ("EN 13795", "EN 14126"), "4.50"),
            _need("gloves", "high", 500_000_000, ("EN 455",), "0.08"),
            _need("apron", "low", 50_000_000, (), "0.05"),
            _need("eye_protection", "medium", 10_000_000, ("EN 166",), "1.50"),
            _need("hand_sanitiser", "low", 2_000_000, ("EN 1500", "EN 14476"), "3.00"),
            _need("body_bag", "medium", 100_000, (), "12.00"),
            _need("other", "none", 0, (), None),
        )
    }
)


# --- outputs --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Component:
    name: str
    points: int
    maximum: int
    sentence: str


@dataclass(frozen=True, slots=True)
class Flag:
    code: str
    sentence: str
    line: int | None  # index of the offending line; None: about the whole offer


@dataclass(frozen=True, slots=True)
class TriageResult:
    total: int  # 0..100
    components: tuple[Component, ...]  # all six, in the order of COMPONENTS
    flags: tuple[Flag, ...]
    eligible: bool
    ineligible_reasons: tuple[str, ...]  # empty when eligible
    policy_version: str


# --- reading claims -------------------------------------------------------------------

_LABELS = {
    "ffp3_respirator": "FFP3 respirators",
    "ffp2_respirator": "FFP2 respirators",
    "iir_mask": "Type IIR masks",
    "gown": "gowns",
    "gloves": "gloves",
    "apron": "aprons",
    "eye_protection": "eye protection",
    "hand_sanitiser": "hand sanitiser",
    "body_bag": "body bags",
    "other": "other products",
}
_RESPIRATORS = frozenset({"ffp3_respirator", "ffp2_respirator"})

# "EN 149", "EN149:2001", "BS EN 14683", "EN ISO 13795-1", "DIN EN 166": the number and
# an optional part; a year after a colon is not a part.
_STANDARD_REF = re.compile(
    r"\b(?:BS\s*)?(?:EN|ISO|IEC)(?:\s*-?\s*(?:EN|ISO|IEC))?\s*-?\s*(\d{2,5})(?:-(\d{1,2})(?!\d))?"
)
_FFP_CLASS = re.compile(r"FFP\s*-?\s*([123])(?!\d)")
_MASK_TYPE = re.compile(r"\bTYPE\s*-?\s*(IIR|II|I|2R|2|1)\b|\b(IIR)\b")
_MASK_TYPE_RANK = {"I": 1, "1": 1, "II": 2, "2": 2, "IIR": 3, "2R": 3}
_NOT_ALPHANUMERIC = re.compile(r"[^0-9A-Z]+")
# The edition of a standard ("FFP3:2001", "+A1:2009") does not matter when matching.
_EDITION = re.compile(r":\s*\d{4}|\+\s*A[C\d]*(?:\s*:\s*\d{4})?")
# A notified body is a four-digit number; numbers of standards and years after a colon
# are taken out first so that "ISO 9001" or "EN 149:2001" do not pass for one.
_NOT_A_BODY = re.compile(r"(?:EN|ISO|IEC)\s*-?\s*\d+|:\s*\d+")
_NOTIFIED_BODY = re.compile(r"(?<!\d)(\d{4})(?!\d)")
_VALIDATED_STERILISATION = re.compile(
    r"\b(?:ISO|EN)(?:\s*-?\s*ISO)?\s*-?\s*(11137|11135|17665|14937|20857|556)(?!\d)"
)


@dataclass(frozen=True, slots=True)
class _Requirement:
    text: str  # as the need table gives it, for sentences
    number: str | None  # "149"; None when the text names no standard number
    part: str | None  # "1" in "EN 13795-1"
    ffp_class: int  # 0: none required
    mask_type: int  # 0: none required
    other: str  # any other qualifier, compacted; "" for none


@dataclass(frozen=True, slots=True)
class _Claim:
    numbers: frozenset[str]
    parts: frozenset[tuple[str, str]]
    ffp_class: int
    mask_type: int
    compact: str


def _compact(text: str) -> str:
    return _NOT_ALPHANUMERIC.sub("", text.upper())


@lru_cache(maxsize=256)
def _requirements(required: tuple[str, ...]) -> tuple[_Requirement, ...]:
    parsed = []
    for text in required:
        upper = text.upper()
        ref = _STANDARD_REF.search(upper)
        rest = _EDITION.sub(" ", upper[ref.end() :] if ref else upper)
        ffp = _FFP_CLASS.search(rest)
        mask = _MASK_TYPE.search(rest)
        if ffp:
            rest = rest[: ffp.start()] + rest[ffp.end() :]
        if mask:
            rest = rest[: mask.start()] + rest[mask.end() :]
        parsed.append(
            _Requirement(
                text=text,
                number=ref.group(1) if ref else None,
                part=ref.group(2) if ref else None,
                ffp_class=int(ffp.group(1)) if ffp else 0,
                mask_type=_MASK_TYPE_RANK[mask.group(1) or mask.group(2)] if mask else 0,
                other=_compact(rest) if ref else _compact(text),
            )
        )
    return tuple(parsed)


@lru_cache(maxsize=4096)
def _claim(standards: tuple[str, ...]) -> _Claim:
    text = " ; ".join(standards).upper()
    refs = _STANDARD_REF.findall(text)
    return _Claim(
        numbers=frozenset(number for number, _ in refs),
        parts=frozenset((number, part) for number, part in refs if part),
        ffp_class=max((int(c) for c in _FFP_CLASS.findall(text)), default=0),
        mask_type=max(
            (_MASK_TYPE_RANK[a or b] for a, b in _MASK_TYPE.findall(text)),
            default=0,
        ),
        compact=_compact(text),
    )


def _satisfies(claim: _Claim, requirement: _Requirement) -> bool:
    if requirement.number is not None:
        if requirement.part is None:
            if requirement.number not in claim.numbers:
                return False
        elif (requirement.number, requirement.part) not in claim.parts:
            return False
    # A higher respirator class or mask type than required is acceptable (FFP3 for FFP2).
    if claim.ffp_class < requirement.ffp_class or claim.mask_type < requirement.mask_type:
        return False
    return requirement.other in claim.compact


def _notified_body(certificate: str) -> str | None:
    found = _NOTIFIED_BODY.search(_NOT_A_BODY.sub(" ", certificate.upper()))
    return found.group(1) if found else None


# --- scoring --------------------------------------------------------------------------

_CONTEXT = Context(
    prec=28, rounding=ROUND_HALF_UP, traps=[InvalidOperation, DivisionByZero, Overflow]
)
_CENT = Decimal("0.01")
_TENTH = Decimal("0.1")
_UNIT = Decimal("1")

_NEED_PERCENT = {"critical": 100, "high": 75, "medium": 45, "low": 20, "none": 0}
_LOCATION_MILLI = {"uk": 1000, "in_transit": 700, "overseas": 400, "not_yet_manufactured": 0}
_LOCATION_PHRASE = {
    "uk": "Stock is in the UK",
    "in_transit": "Stock is in transit",
    "overseas": "Stock is overseas",
    "not_yet_manufactured": "The goods are not yet manufactured",
}
# Lead time counts down to nothing at this many days: sooner for more urgent needs.
_HORIZON_DAYS = {"critical": 21, "high": 35, "medium": 56, "low": 84, "none": 84}
_LOCATION_SHARE, _LEAD_TIME_SHARE = 400, 600  # per mille of deliverability
# Credibility, per mille: trading history 400, company age 300, due diligence 300.
_HISTORY_MILLI = 400
_AGE_MILLI = {"three_years": 300, "one_year": 150}  # under a year: nothing
_DUE_DILIGENCE_MILLI = {"not_started": 0, "in_progress": 150, "passed": 300, "failed": 0}
_DUE_DILIGENCE_PHRASE = {
    "not_started": "due diligence not started",
    "in_progress": "due diligence in progress",
    "passed": "due diligence passed",
}


def _money(amount: Decimal) -> str:
    """£1,234.50, or every significant decimal place of a smaller price: £0.085."""
    pence = _CONTEXT.quantize(amount, _CENT)
    return f"£{pence if pence == amount else _CONTEXT.normalize(amount):,f}"


def _percent(part: int, whole: int) -> str:
    rounded = (200 * part + whole) // (2 * whole)
    return "under 1%" if part and not rounded else f"{rounded}%"


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}" if count == 1 else f"{count:,} {word}s"


@dataclass(slots=True)
class _LineScore:
    total: int
    points: tuple[int, ...]
    sentences: tuple[str, ...]
    reasons: list[str]


def _score_line(
    line: LineFacts,
    need: CategoryNeed | None,
    policy: ScoringPolicy,
    weights: Mapping[str, int],
    credibility: tuple[int, str],
    index: int,
    flags: list[Flag],
) -> _LineScore:
    category = line.category
    label = _LABELS[category]
    criticality = need.criticality if need is not None else "none"
    reasons = []

    # need
    weight = weights["need"]
    need_points = weight * _NEED_PERCENT[criticality] // 100
    if criticality == "none" or category == "other":
        need_points = 0
        need_sentence = f"There is no current clinical need for {label}."
        reasons.append(need_sentence)
    else:
        need_sentence = f"Clinical need for {label} is rated {criticality} now."

    # coverage
    weight = weights["coverage"]
    quantity = line.quantity
    gap = need.unmet_demand if need is not None else 0
    if gap <= 0:
        coverage_points = 0
        coverage_sentence = (
            f"There is no unmet need for {label}, so the {quantity:,} offered add nothing."
        )
    elif quantity > gap:
        coverage_points = weight
        coverage_sentence = (
            f"Offers {quantity:,} {label} against an unmet need of {gap:,}; "
            f"units beyond the need add nothing (100%)."
        )
    else:
        coverage_points = weight * quantity // gap
        coverage_sentence = (
            f"Offers {quantity:,} of an unmet need of {gap:,} {label} ({_percent(quantity, gap)})."
        )

    # compliance
    weight = weights["compliance"]
    required = need.required_standards if need is not None else ()
    milli = 1000
    if required:
        claim = _claim(line.standards)
        met = next((r for r in _requirements(required) if _satisfies(claim, r)), None)
        wanted = " or ".join(required)
        if met is None:
            milli = 0
            claimed = "; ".join(line.standards) if line.standards else "no standard"
            compliance_sentence = f"No evidence of {wanted} (claimed: {claimed})."
            reasons.append(f"No evidence of {wanted}.")
            flags.append(Flag("standard_missing", compliance_sentence, index))
        else:
            body = _notified_body(line.certificate)
            if body is None:
                milli = 500
                certificate = f"“{line.certificate}”" if line.certificate else "none"
                compliance_sentence = (
                    f"Claims {met.text}, but the certificate ({certificate}) names no "
                    f"notified body, so half points."
                )
                flags.append(
                    Flag(
                        "no_notified_body",
                        f"The certificate ({certificate}) names no notified body "
                        f"(a four-digit number, such as CE 2797).",
                        index,
                    )
                )
            else:
                compliance_sentence = (
                    f"Claims {met.text} with a certificate from notified body {body}."
                )
    else:
        compliance_sentence = f"No standard is required for {label}."
    if line.sterile and (
        line.sterilisation_validation is None
        or not _VALIDATED_STERILISATION.search(line.sterilisation_validation.upper())
    ):
        milli //= 2
        sterility = (
            "Sold as sterile without a validated sterilisation process "
            "(such as ISO 11137, ISO 11135 or EN 556)"
        )
        compliance_sentence += f" {sterility}, so compliance is halved."
        flags.append(Flag("unvalidated_sterility", f"{sterility}.", index))
    if category in _RESPIRATORS and line.strap_type == "ear_loop":
        milli = 0
        compliance_sentence = "Respirators with ear loops fail face-fit testing: no points."
        flags.append(
            Flag(
                "ear_loop_respirator",
                "Respirators with ear loops fail face-fit testing; head straps are needed.",
                index,
            )
        )
    compliance_points = weight * milli // 1000
    if quantity < policy.min_order_units:
        reasons.append(
            f"Below the minimum order of {policy.min_order_units:,} units (offers {quantity:,})."
        )

    # deliverability
    weight = weights["deliverability"]
    days = line.lead_time_days
    horizon = _HORIZON_DAYS[criticality]
    lead_time_milli = max(0, 1000 * (horizon - days)) // horizon
    deliverability_points = (
        weight
        * (
            _LOCATION_MILLI[line.stock_location] * _LOCATION_SHARE
            + lead_time_milli * _LEAD_TIME_SHARE
        )
        // 1_000_000
    )
    urgency = f"at {criticality} need" if criticality != "none" else "with no current need"
    deliverability_sentence = (
        f"{_LOCATION_PHRASE[line.stock_location]} with a lead time of "
        f"{_plural(days, 'day')}; {urgency}, {horizon} days or more scores nothing "
        f"for speed."
    )

    # value
    weight = weights["value"]
    price = line.unit_price_gbp
    benchmark = need.benchmark_price_gbp if need is not None else None
    if price is None or benchmark is None:
        value_points = weight // 2
        missing = "no price was given" if price is None else f"{label} have no benchmark price"
        value_sentence = f"Half points for value: {missing}."
    else:
        # Compared by multiplying rather than on a rounded quotient.
        shown = f"{_money(price)} a unit against a benchmark of {_money(benchmark)}"
        high = policy.extreme_high_ratio
        if price > _CONTEXT.multiply(high, benchmark):
            value_points = 0
            times = _CONTEXT.quantize(_CONTEXT.divide(price, benchmark), _TENTH)
            value_sentence = f"{shown}: {times} times the benchmark, an extreme price."
            flags.append(
                Flag(
                    "price_extreme_high",
                    f"{_money(price)} a unit is more than {high} times the benchmark of "
                    f"{_money(benchmark)}: a risk, not a bargain.",
                    index,
                )
            )
        elif price < _CONTEXT.multiply(policy.extreme_low_ratio, benchmark):
            value_points = weight // 2
            value_sentence = f"{shown}: suspiciously low, so only half points."
            flags.append(
                Flag(
                    "price_extreme_low",
                    f"{_money(price)} a unit is under {policy.extreme_low_ratio} times the "
                    f"benchmark of {_money(benchmark)}; prices this low can mean counterfeit "
                    f"goods.",
                    index,
                )
            )
        else:
            if price <= benchmark:
                value_points = weight
            else:
                # Linear from full points at the benchmark to none at the extreme ratio:
                # weight x (high x benchmark - price) / ((high - 1) x benchmark), exactly.
                value_points = int(
                    _CONTEXT.divide_int(
                        _CONTEXT.multiply(
                            weight,
                            _CONTEXT.subtract(_CONTEXT.multiply(high, benchmark), price),
                        ),
                        _CONTEXT.multiply(_CONTEXT.subtract(high, 1), benchmark),
                    )
                )
            percent = _CONTEXT.quantize(
                _CONTEXT.divide(_CONTEXT.multiply(price, 100), benchmark), _UNIT
            )
            value_sentence = f"{shown} ({percent}% of the benchmark)."

    points = (
        need_points,
        coverage_points,
        compliance_points,
        deliverability_points,
        value_points,
        credibility[0],
    )
    sentences = (
        need_sentence,
        coverage_sentence,
        compliance_sentence,
        deliverability_sentence,
        value_sentence,
        credibility[1],
    )
    return _LineScore(min(100, max(0, sum(points))), points, sentences, reasons)


def _credibility(
    supplier: SupplierFacts, weight: int, today: date, flags: list[Flag]
) -> tuple[int, str]:
    if supplier.due_diligence_status == "failed":
        flags.append(Flag("due_diligence_failed", "The supplier failed due diligence.", None))
        return 0, "The supplier failed due diligence, so credibility scores nothing."
    milli = 0
    if supplier.ppe_trading_history:
        milli += _HISTORY_MILLI
        parts = ["Trades in PPE or medical goods"]
    else:
        parts = ["No history of trading in PPE or medical goods"]
    incorporated = supplier.incorporated_on
    if incorporated is None:
        parts.append("incorporation date unknown")
    else:
        years = today.year - incorporated.year
        if (today.month, today.day) < (incorporated.month, incorporated.day):
            years -= 1
        if years < 1:
            parts.append(f"incorporated on {incorporated.isoformat()}, less than a year ago")
            flags.append(
                Flag(
                    "new_company",
                    f"The supplier was incorporated on {incorporated.isoformat()}, "
                    f"less than a year ago.",
                    None,
                )
            )
        else:
            milli += _AGE_MILLI["three_years" if years >= 3 else "one_year"]
            parts.append(f"incorporated {_plural(years, 'year')} ago")
    milli += _DUE_DILIGENCE_MILLI[supplier.due_diligence_status]
    parts.append(_DUE_DILIGENCE_PHRASE[supplier.due_diligence_status])
    return weight * milli // 1000, "; ".join(parts) + "."


def score_offer(
    offer: OfferFacts, need: Mapping[str, CategoryNeed], policy: ScoringPolicy, *, today: date
) -> TriageResult:
    """Score an offer on clinical need. Pure and deterministic; see the module docstring
    for the rules and how the lines make the offer."""
    weights = policy.weights
    offer_flags: list[Flag] = []
    credibility = _credibility(offer.supplier, weights["credibility"], today, offer_flags)
    line_flags: list[Flag] = []
    best: _LineScore | None = None
    best_eligible = False
    all_reasons: list[tuple[int, str]] = []
    for index, line in enumerate(offer.lines):
        scored = _score_line(
            line, need.get(line.category), policy, weights, credibility, index, line_flags
        )
        eligible = not scored.reasons
        if eligible:
            if not best_eligible or scored.total > best.total:
                best, best_eligible = scored, True
        else:
            all_reasons.extend((index, reason) for reason in scored.reasons)
            if best is None or (not best_eligible and scored.total > best.total):
                best = scored
    if best_eligible:
        reasons: tuple[str, ...] = ()
    elif len(offer.lines) == 1:
        reasons = tuple(reason for _, reason in all_reasons)
    else:
        reasons = tuple(f"Line {index + 1}: {reason}" for index, reason in all_reasons)
    return TriageResult(
        total=best.total,
        components=tuple(
            Component(name, points, weights[name], sentence)
            for name, points, sentence in zip(COMPONENTS, best.points, best.sentences, strict=True)
        ),
        flags=tuple(line_flags + offer_flags),
        eligible=best_eligible,
        ineligible_reasons=reasons,
        policy_version=policy.version,
    )


# --- JSON snapshots -------------------------------------------------------------------
# Plain JSON types only (lists, not tuples; Decimals as strings; dates ISO), so that a
# snapshot read back from a JSON column compares equal to a fresh one.


def _decimal_to_json(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _decimal_from_json(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def offer_facts_to_dict(offer: OfferFacts) -> dict:
    return {
        "lines": [
            {
                "category": line.category,
                "quantity": line.quantity,
                "unit_price_gbp": _decimal_to_json(line.unit_price_gbp),
                "standards": list(line.standards),
                "certificate": line.certificate,
                "strap_type": line.strap_type,
                "sterile": line.sterile,
                "sterilisation_validation": line.sterilisation_validation,
                "stock_location": line.stock_location,
                "lead_time_days": line.lead_time_days,
            }
            for line in offer.lines
        ],
        "supplier": {
            "incorporated_on": (
                offer.supplier.incorporated_on.isoformat()
                if offer.supplier.incorporated_on is not None
                else None
            ),
            "ppe_trading_history": offer.supplier.ppe_trading_history,
            "due_diligence_status": offer.supplier.due_diligence_status,
        },
    }


def offer_facts_from_dict(d: Mapping) -> OfferFacts:
    supplier = d["supplier"]
    return OfferFacts(
        lines=tuple(
            LineFacts(
                category=line["category"],
                quantity=line["quantity"],
                unit_price_gbp=_decimal_from_json(line["unit_price_gbp"]),
                standards=tuple(line["standards"]),
                certificate=line["certificate"],
                strap_type=line["strap_type"],
                sterile=line["sterile"],
                sterilisation_validation=line["sterilisation_validation"],
                stock_location=line["stock_location"],
                lead_time_days=line["lead_time_days"],
            )
            for line in d["lines"]
        ),
        supplier=SupplierFacts(
            incorporated_on=(
                date.fromisoformat(supplier["incorporated_on"])
                if supplier["incorporated_on"] is not None
                else None
            ),
            ppe_trading_history=supplier["ppe_trading_history"],
            due_diligence_status=supplier["due_diligence_status"],
        ),
    )


def need_table_to_dict(need: Mapping[str, CategoryNeed]) -> dict:
    return {
        category: {
            "criticality": row.criticality,
            "unmet_demand": row.unmet_demand,
            "required_standards": list(row.required_standards),
            "benchmark_price_gbp": _decimal_to_json(row.benchmark_price_gbp),
        }
        for category, row in need.items()
    }


def need_table_from_dict(d: Mapping) -> dict[str, CategoryNeed]:
    return {
        category: CategoryNeed(
            category=category,
            criticality=row["criticality"],
            unmet_demand=row["unmet_demand"],
            required_standards=tuple(row["required_standards"]),
            benchmark_price_gbp=_decimal_from_json(row["benchmark_price_gbp"]),
        )
        for category, row in d.items()
    }


def policy_to_dict(p: ScoringPolicy) -> dict:
    return {
        "version": p.version,
        "weights": dict(p.weights),
        "min_order_units": p.min_order_units,
        "extreme_high_ratio": str(p.extreme_high_ratio),
        "extreme_low_ratio": str(p.extreme_low_ratio),
    }


def policy_from_dict(d: Mapping) -> ScoringPolicy:
    return ScoringPolicy(
        version=d["version"],
        weights=dict(d["weights"]),
        min_order_units=d["min_order_units"],
        extreme_high_ratio=Decimal(d["extreme_high_ratio"]),
        extreme_low_ratio=Decimal(d["extreme_low_ratio"]),
    )


def result_to_dict(r: TriageResult) -> dict:
    return {
        "total": r.total,
        "components": [
            {"name": c.name, "points": c.points, "maximum": c.maximum, "sentence": c.sentence}
            for c in r.components
        ],
        "flags": [{"code": f.code, "sentence": f.sentence, "line": f.line} for f in r.flags],
        "eligible": r.eligible,
        "ineligible_reasons": list(r.ineligible_reasons),
        "policy_version": r.policy_version,
    }


def result_from_dict(d: Mapping) -> TriageResult:
    return TriageResult(
        total=d["total"],
        components=tuple(Component(**c) for c in d["components"]),
        flags=tuple(Flag(**f) for f in d["flags"]),
        eligible=d["eligible"],
        ineligible_reasons=tuple(d["ineligible_reasons"]),
        policy_version=d["policy_version"],
    )
