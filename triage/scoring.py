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
from dataclasses import MISSING, dataclass, fields
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


# Scoring builds these three without the generated __init__ of a frozen dataclass, which
# stores each field through object.__setattr__ and was the slowest step of scoring an
# offer. They validate nothing (no __post_init__, no defaults), so storing the fields
# straight into their slots makes the very same objects: same type, equal, same repr.
# `_slot_setters` refuses at import if that ever stops being true.
def _slot_setters(cls: type, names: tuple[str, ...]) -> tuple:
    if (
        hasattr(cls, "__post_init__")
        or tuple(f.name for f in fields(cls)) != names
        or getattr(cls, "__slots__", None) != names
        or any(f.default is not MISSING or f.default_factory is not MISSING for f in fields(cls))
    ):
        raise TypeError(f"{cls.__name__} must only store its fields {names}")
    return tuple(getattr(cls, name).__set__ for name in names)


_new = object.__new__
_component_name, _component_points, _component_maximum, _component_sentence = _slot_setters(
    Component, ("name", "points", "maximum", "sentence")
)
_flag_code, _flag_sentence, _flag_line = _slot_setters(Flag, ("code", "sentence", "line"))
(
    _result_total,
    _result_components,
    _result_flags,
    _result_eligible,
    _result_reasons,
    _result_version,
) = _slot_setters(
    TriageResult,
    ("total", "components", "flags", "eligible", "ineligible_reasons", "policy_version"),
)


def _component(name: str, points: int, maximum: int, sentence: str) -> Component:
    """Component(name, points, maximum, sentence), faster."""
    component = _new(Component)
    _component_name(component, name)
    _component_points(component, points)
    _component_maximum(component, maximum)
    _component_sentence(component, sentence)
    return component


def _flag(code: str, sentence: str, line: int | None) -> Flag:
    """Flag(code, sentence, line), faster."""
    flag = _new(Flag)
    _flag_code(flag, code)
    _flag_sentence(flag, sentence)
    _flag_line(flag, line)
    return flag


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


# What the claims of a line show, and the words for it, are worked out once per distinct
# text (offers repeat the same few); every result depends only on the text.


@lru_cache(maxsize=4096)
def _standards_met(
    standards: tuple[str, ...], required: tuple[str, ...]
) -> tuple[_Requirement | None, str | None, str | None]:
    """The first required standard the claimed ones satisfy, or else None with the
    sentence and the ineligibility reason that say so."""
    claim = _claim(standards)
    met = next((r for r in _requirements(required) if _satisfies(claim, r)), None)
    if met is not None:
        return met, None, None
    wanted = " or ".join(required)
    claimed = "; ".join(standards) if standards else "no standard"
    return None, f"No evidence of {wanted} (claimed: {claimed}).", f"No evidence of {wanted}."


@lru_cache(maxsize=4096)
def _certificate(certificate: str) -> tuple[str | None, str | None, str | None]:
    """The notified body a certificate names, or else None with the certificate as
    sentences show it and the sentence of the flag."""
    body = _notified_body(certificate)
    if body is not None:
        return body, None, None
    shown = f"“{certificate}”" if certificate else "none"
    return (
        None,
        shown,
        f"The certificate ({shown}) names no notified body (a four-digit number, such as CE 2797).",
    )


@lru_cache(maxsize=1024)
def _validated_sterilisation(validation: str) -> bool:
    return _VALIDATED_STERILISATION.search(validation.upper()) is not None


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


def _need_facts(need: "CategoryNeed | None") -> tuple:
    """(criticality, unmet demand, required standards, benchmark price) of a category's
    need, or what scoring assumes for a category with none."""
    if need is None:
        return "none", 0, (), None
    return need.criticality, need.unmet_demand, need.required_standards, need.benchmark_price_gbp


def _money(amount: Decimal) -> str:
    """£1,234.50, or every significant decimal place of a smaller price: £0.085."""
    # Written once per price: the text depends only on the value (2.5 and 2.50 both give
    # £2.50: pence are quantized, finer amounts normalized), except for zero, which is
    # equal to -0 but printed £-0.00, so zero is never looked up.
    return _money_of_value(amount) if amount else _write_money(amount)


def _write_money(amount: Decimal) -> str:
    pence = _CONTEXT.quantize(amount, _CENT)
    return f"£{pence if pence == amount else _CONTEXT.normalize(amount):,f}"


_money_of_value = lru_cache(maxsize=4096)(_write_money)


def _percent(part: int, whole: int) -> str:
    rounded = (200 * part + whole) // (2 * whole)
    return "under 1%" if part and not rounded else f"{rounded}%"


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}" if count == 1 else f"{count:,} {word}s"


# The fixed parts of the sentences and flags, written once.
_STERILITY = (
    "Sold as sterile without a validated sterilisation process "
    "(such as ISO 11137, ISO 11135 or EN 556)"
)
_STERILITY_FLAG = f"{_STERILITY}."
_NO_NEED = {
    category: f"There is no current clinical need for {label}."
    for category, label in _LABELS.items()
}
_RATED = {
    (category, criticality): f"Clinical need for {label} is rated {criticality} now."
    for category, label in _LABELS.items()
    for criticality in CRITICALITIES
}
_LEAD_TIME = {
    location: f"{phrase} with a lead time of " for location, phrase in _LOCATION_PHRASE.items()
}
_SPEED = {
    criticality: (
        f"; {f'at {criticality} need' if criticality != 'none' else 'with no current need'}, "
        f"{horizon} days or more scores nothing for speed."
    )
    for criticality, horizon in _HORIZON_DAYS.items()
}
# How a line's price compares with the benchmark.
_NO_PRICE, _PRICE_HIGH, _PRICE_LOW, _PRICE_FAIR = range(4)
# The ratio of a price to its benchmark, as a sentence gives it, fits the fixed decimal
# context whenever the benchmark is at least this and the price under _PRICE_LIMIT (the
# quotient is then under 10^25, and the percentage under 10^27).
_SAFE_BENCHMARK = Decimal("1E-16")


@lru_cache(maxsize=1024)
def _price_limits(high: Decimal, low: Decimal, benchmark: Decimal) -> tuple[Decimal, Decimal, bool]:
    """The extreme prices for a benchmark (the high and low ratios times it, in the
    fixed context) and whether the benchmark is at least _SAFE_BENCHMARK. All three
    depend only on the values (rounding to the context's digits goes by value), so equal
    decimals may share an entry. The high one is worked out first, as the rules compare
    with it first (with an absurd ratio it can overflow)."""
    return (
        _CONTEXT.multiply(high, benchmark),
        _CONTEXT.multiply(low, benchmark),
        benchmark >= _SAFE_BENCHMARK,
    )


def _times(price: Decimal, benchmark: Decimal) -> Decimal:
    """How many times the benchmark, to a tenth."""
    return _CONTEXT.quantize(_CONTEXT.divide(price, benchmark), _TENTH)


def _percentage(price: Decimal, benchmark: Decimal) -> Decimal:
    """The price as a whole percentage of the benchmark."""
    return _CONTEXT.quantize(_CONTEXT.divide(_CONTEXT.multiply(price, 100), benchmark), _UNIT)


def _score_line(
    line: LineFacts,
    need: CategoryNeed | None,
    policy: ScoringPolicy,
    weights: tuple[int, ...],
    credibility_points: int,
    index: int,
    flags: list[Flag],
) -> tuple:
    """The points of one line, why it is ineligible (a list, empty when eligible) and
    what `_line_sentences` needs to explain it; its flags are appended to `flags`.
    `weights` are the policy's, in the order of COMPONENTS.

    Only the line that makes the offer is explained, so the sentences are not written
    here; but whatever can raise (decimal arithmetic out of the context's digits or
    range) is still done here, for every line, in the order of the rules."""
    category = line.category
    criticality, gap, required, benchmark = _need_facts(need)
    reasons = []

    # need
    if criticality == "none" or category == "other":
        need_points = 0
        reasons.append(_NO_NEED[category])
    else:
        need_points = weights[0] * _NEED_PERCENT[criticality] // 100

    # coverage
    quantity = line.quantity
    if gap <= 0:
        coverage_points = 0
    elif quantity > gap:
        coverage_points = weights[1]
    else:
        coverage_points = weights[1] * quantity // gap

    # compliance
    milli = 1000
    met = body = missing = certificate = None
    if required:
        met, missing, reason = _standards_met(line.standards, required)
        if met is None:
            milli = 0
            reasons.append(reason)
            flags.append(_flag("standard_missing", missing, index))
        else:
            body, certificate, no_body = _certificate(line.certificate)
            if body is None:
                milli = 500
                flags.append(_flag("no_notified_body", no_body, index))
    unvalidated = line.sterile and (
        line.sterilisation_validation is None
        or not _validated_sterilisation(line.sterilisation_validation)
    )
    if unvalidated:
        milli //= 2
        flags.append(_flag("unvalidated_sterility", _STERILITY_FLAG, index))
    ear_loop = category in _RESPIRATORS and line.strap_type == "ear_loop"
    if ear_loop:
        milli = 0
        flags.append(
            _flag(
                "ear_loop_respirator",
                "Respirators with ear loops fail face-fit testing; head straps are needed.",
                index,
            )
        )
    compliance_points = weights[2] * milli // 1000
    if quantity < policy.min_order_units:
        reasons.append(
            f"Below the minimum order of {policy.min_order_units:,} units (offers {quantity:,})."
        )

    # deliverability
    horizon = _HORIZON_DAYS[criticality]
    lead_time_milli = max(0, 1000 * (horizon - line.lead_time_days)) // horizon
    deliverability_points = (
        weights[3]
        * (
            _LOCATION_MILLI[line.stock_location] * _LOCATION_SHARE
            + lead_time_milli * _LEAD_TIME_SHARE
        )
        // 1_000_000
    )

    # value
    weight = weights[4]
    price = line.unit_price_gbp
    ratio = None  # the price against the benchmark, if it had to be worked out here
    if price is None or benchmark is None:
        value_points = weight // 2
        price_case = _NO_PRICE
    else:
        # Compared by multiplying rather than on a rounded quotient.
        high, low = policy.extreme_high_ratio, policy.extreme_low_ratio
        high_price, low_price, usual = _price_limits(high, low, benchmark)
        if price > high_price:
            value_points = 0
            price_case = _PRICE_HIGH
            if not (usual and price < _PRICE_LIMIT):
                ratio = _times(price, benchmark)  # may not fit the context: raise now
            flags.append(
                _flag(
                    "price_extreme_high",
                    f"{_money(price)} a unit is more than {high} times the benchmark of "
                    f"{_money(benchmark)}: a risk, not a bargain.",
                    index,
                )
            )
        elif price < low_price:
            value_points = weight // 2
            price_case = _PRICE_LOW
            flags.append(
                _flag(
                    "price_extreme_low",
                    f"{_money(price)} a unit is under {low} times the "
                    f"benchmark of {_money(benchmark)}; prices this low can mean counterfeit "
                    f"goods.",
                    index,
                )
            )
        else:
            price_case = _PRICE_FAIR
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
            if not (usual and price < _PRICE_LIMIT):
                ratio = _percentage(price, benchmark)  # may not fit the context: raise now

    points = (
        need_points,
        coverage_points,
        compliance_points,
        deliverability_points,
        value_points,
        credibility_points,
    )
    total = (
        need_points
        + coverage_points
        + compliance_points
        + deliverability_points
        + value_points
        + credibility_points
    )
    if not 0 <= total <= 100:
        total = min(100, max(0, total))
    return (
        total,
        points,
        reasons,
        (met, body, missing, certificate, unvalidated, ear_loop, price_case, ratio),
    )


def _line_sentences(
    line: LineFacts, need: CategoryNeed | None, why: tuple, credibility_sentence: str
) -> tuple[str, ...]:
    """A sentence per component for a line `_score_line` scored, `why` being what it
    found."""
    met, body, missing, certificate, unvalidated, ear_loop, price_case, ratio = why
    category = line.category
    label = _LABELS[category]
    criticality, gap, required, benchmark = _need_facts(need)

    # need
    if criticality == "none" or category == "other":
        need_sentence = _NO_NEED[category]
    else:
        need_sentence = _RATED[category, criticality]

    # coverage
    quantity = line.quantity
    if gap <= 0:
        coverage_sentence = (
            f"There is no unmet need for {label}, so the {quantity:,} offered add nothing."
        )
    elif quantity > gap:
        coverage_sentence = (
            f"Offers {quantity:,} {label} against an unmet need of {gap:,}; "
            f"units beyond the need add nothing (100%)."
        )
    else:
        coverage_sentence = (
            f"Offers {quantity:,} of an unmet need of {gap:,} {label} ({_percent(quantity, gap)})."
        )

    # compliance
    if ear_loop:
        compliance_sentence = "Respirators with ear loops fail face-fit testing: no points."
    else:
        if not required:
            compliance_sentence = f"No standard is required for {label}."
        elif met is None:
            compliance_sentence = missing
        elif body is None:
            compliance_sentence = (
                f"Claims {met.text}, but the certificate ({certificate}) names no "
                f"notified body, so half points."
            )
        else:
            compliance_sentence = f"Claims {met.text} with a certificate from notified body {body}."
        if unvalidated:
            compliance_sentence += f" {_STERILITY}, so compliance is halved."

    # deliverability
    deliverability_sentence = (
        f"{_LEAD_TIME[line.stock_location]}{_plural(line.lead_time_days, 'day')}"
        f"{_SPEED[criticality]}"
    )

    # value
    price = line.unit_price_gbp
    if price_case == _NO_PRICE:
        absent = "no price was given" if price is None else f"{label} have no benchmark price"
        value_sentence = f"Half points for value: {absent}."
    else:
        shown = f"{_money(price)} a unit against a benchmark of {_money(benchmark)}"
        if price_case == _PRICE_HIGH:
            times = _times(price, benchmark) if ratio is None else ratio
            value_sentence = f"{shown}: {times} times the benchmark, an extreme price."
        elif price_case == _PRICE_LOW:
            value_sentence = f"{shown}: suspiciously low, so only half points."
        else:
            percent = _percentage(price, benchmark) if ratio is None else ratio
            value_sentence = f"{shown} ({percent}% of the benchmark)."

    return (
        need_sentence,
        coverage_sentence,
        compliance_sentence,
        deliverability_sentence,
        value_sentence,
        credibility_sentence,
    )


def _credibility(
    supplier: SupplierFacts, weight: int, today: date, flags: list[Flag]
) -> tuple[int, str]:
    if supplier.due_diligence_status == "failed":
        flags.append(_flag("due_diligence_failed", "The supplier failed due diligence.", None))
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
                _flag(
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
    maxima = (
        weights["need"],
        weights["coverage"],
        weights["compliance"],
        weights["deliverability"],
        weights["value"],
        weights["credibility"],
    )
    offer_flags: list[Flag] = []
    credibility_points, credibility_sentence = _credibility(
        offer.supplier, maxima[5], today, offer_flags
    )
    line_flags: list[Flag] = []
    best = best_line = best_need = None
    best_total = 0
    best_eligible = False
    ineligible: list[tuple[int, list[str]]] = []  # (index, reasons) of each ineligible line
    for index, line in enumerate(offer.lines):
        line_need = need.get(line.category)
        scored = _score_line(line, line_need, policy, maxima, credibility_points, index, line_flags)
        total, _, line_reasons, _ = scored
        if not line_reasons:
            better = not best_eligible or total > best_total
            best_eligible = True
        else:
            ineligible.append((index, line_reasons))
            better = best is None or (not best_eligible and total > best_total)
        if better:
            best, best_line, best_need, best_total = scored, line, line_need, total
    if best_eligible:
        reasons: tuple[str, ...] = ()
    elif len(offer.lines) == 1:
        reasons = tuple(ineligible[0][1])
    else:
        reasons = tuple(
            f"Line {index + 1}: {reason}"
            for index, line_reasons in ineligible
            for reason in line_reasons
        )
    sentences = _line_sentences(best_line, best_need, best[3], credibility_sentence)
    best_points = best[1]
    result = _new(TriageResult)
    _result_total(result, best_total)
    _result_components(
        result,
        (
            _component("need", best_points[0], maxima[0], sentences[0]),
            _component("coverage", best_points[1], maxima[1], sentences[1]),
            _component("compliance", best_points[2], maxima[2], sentences[2]),
            _component("deliverability", best_points[3], maxima[3], sentences[3]),
            _component("value", best_points[4], maxima[4], sentences[4]),
            _component("credibility", best_points[5], maxima[5], sentences[5]),
        ),
    )
    _result_flags(result, tuple(line_flags + offer_flags))
    _result_eligible(result, best_eligible)
    _result_reasons(result, reasons)
    _result_version(result, policy.version)
    return result


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
