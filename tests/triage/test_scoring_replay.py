"""Stored scores must replay exactly: `score_offer` gives, byte for byte, what it gave
when these digests were taken.

Thousands of deterministic offers (every category, missing and odd prices, sterile
lines, every stock location and due-diligence status, free-text standards and
certificates of every kind) are scored against several need tables, policies and days.
The canonical JSON of every `result_to_dict` goes into one sha256; any changed number,
flag or word of any sentence changes it. Edge cases where the fixed decimal context runs
out of digits must raise the same errors. A few results are also spelled out in full.

If a change to the rules is intended, it is a new policy version: recompute the digest
on purpose (run this file with REPLAY_PRINT=1) and say why in the commit.
"""

import hashlib
import itertools
import json
import os
import pickle
import random
from collections import Counter
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest

from tests.triage.test_scoring import GOOD_LINE
from triage.scoring import (
    CATEGORIES,
    COMPONENTS,
    CRITICALITIES,
    DEFAULT_NEED,
    DEFAULT_POLICY,
    DUE_DILIGENCE,
    FLAG_CODES,
    STOCK_LOCATIONS,
    CategoryNeed,
    Component,
    Flag,
    LineFacts,
    OfferFacts,
    ScoringPolicy,
    SupplierFacts,
    TriageResult,
    result_from_dict,
    result_to_dict,
    score_offer,
)

SEED = 20200427
OFFERS = 6000
# sha256 of the results of `golden_cases()` and `edge_cases()`, taken from the scoring
# code as it was before it was made faster (commit f4e8219).
GOLDEN_DIGEST = "2acc6d856f3899e83d73c1b1c7520cca5b4c085ea1353a4c9313b9577f7b2822"
GOLDEN_COUNT = 6000  # cases scored (including those that raise)
EDGE_DIGEST = "ab710fa1ea12d96b4183ff9ead40055f9d639ea7c9c955d7ce9f285012ac4787"
EDGE_COUNT = 960
EDGE_RAISES = {"raises InvalidOperation": 176, "raises Overflow": 32}

DAYS = (
    date(2020, 4, 27),
    date(2020, 2, 29),
    date(2021, 2, 28),
    date(2021, 3, 1),
    date(2020, 12, 31),
    date(2024, 1, 1),
)

CLAIMS = (
    "EN 149:2001+A1:2009 FFP3",
    "EN149:2001+A1:2009 FFP3",
    "EN149 FFP3 NR D",
    "BS EN 149:2001 FFP3 NR D",
    "EN-149 ffp 3",
    "EN 149:2001+A1:2009",
    "EN 149 FFP2",
    "EN 149 FFP-1",
    "EN 149:2001 FFP3:2001",
    "EN 149+AC:2009 FFP2",
    "EN 1490 FFP3",
    "FFP3",
    "FFP2",
    "KN95",
    "KN95 GB2626-2006",
    "N95 NIOSH 42 CFR 84",
    "EN 14683:2019 Type IIR",
    "EN 14683:2019+AC:2019 Type IIR",
    "EN14683 TYPE-IIR",
    "EN14683 TYPE II",
    "EN 14683 type 2R",
    "EN 14683 Type I",
    "BS EN 14683 IIR",
    "Type IIR",
    "EN 13795-1:2019",
    "EN 13795-2",
    "EN ISO 13795",
    "EN 14126",
    "EN 14126:2003",
    "AAMI level 2",
    "AAMI PB70 level 3",
    "EN 455-1,2,3",
    "EN 455",
    "EN 455 powder free",
    "EN ISO 374-5",
    "EN ISO 374-5:2016",
    "EN 13034",
    "EN 166:2001",
    "EN166",
    "DIN EN 166",
    "ANSI Z87.1",
    "EN 1500",
    "EN-14476",
    "EN 14476",
    "70% alcohol",
    "ISO 16603",
    "ISO 9001:2015",
    "CE marked",
    "ce",
    "",
    "   ",
    "EN 149 – FFP3",
    "en 149 ffp3; en 14683 type ii",
    "EN 149 FFP3 ; EN 14683 Type IIR ; EN 166",
)
REQUIREMENTS = (
    (),
    ("EN 149 FFP3",),
    ("EN 149 FFP2",),
    ("EN 149:2001+A1:2009 FFP3 NR",),
    ("EN 14683 Type IIR",),
    ("EN 14683 Type II",),
    ("EN 14683 IIR",),
    ("EN 13795", "EN 14126"),
    ("EN 13795-1",),
    ("EN 455",),
    ("EN 455 powder free",),
    ("ISO 374-5",),
    ("EN 166",),
    ("EN 1500", "EN 14476"),
    ("CE marked",),
    ("FFP2",),
    ("Type II",),
    ("ISO 16603",),
)
CERTIFICATES = (
    "CE 2797",
    "CE 0123",
    "CE2797",
    "CE",
    "",
    "ISO 9001:2015",
    "EN 149:2001",
    "Notified body 2163",
    "certificate no. 12345",
    "BSI 0086 / SGS 0120",
    "EN 14683 2019",
    "“CE 1639”",
)
VALIDATIONS = (
    None,
    "",
    "ISO 11137-2 dose audit",
    "EN ISO 11135 ethylene oxide",
    "iso 17665",
    "EN 556-1",
    "EN 5561",
    "ISO 111370",
    "gamma",
    "steam",
)
PRICES = (
    "0",
    "-0",
    "0.00",
    "0.001",
    "0.01",
    "0.05",
    "0.0850",
    "0.085",
    "0.3",
    "0.30",
    "1E+1",
    "2.5",
    "2.500",
    "3.14159",
    "7.4999",
    "12",
    "1234.5",
    "1234567.891",
    "999999999.999",
)
BENCHMARKS = (None, "0.01", "0.05", "0.085", "0.30", "1.20", "2.5", "2.50", "12.00", "1E+1")
BENCHMARKS += ("1234.5", "999999999.99")
RATIOS_HIGH = (
    "3",
    "3.0",
    "1E+1",
    "2E+0",
    "2",
    "1.5",
    "10",
    "1.0000001",
    "1E+30",
    "3.333333333333333333333333333",
)
RATIOS_LOW = ("0.3", "0.30", "3E-1", "0", "1", "0.5", "0.0001", "0.333333333333333333333333333333")


def _decimal(rng: random.Random) -> Decimal:
    """Any price: from the list above or n x 10^-k, exactly."""
    if rng.random() < 0.3:
        return Decimal(rng.choice(PRICES))
    return Decimal(f"{rng.randint(0, 10 ** rng.randint(1, 9))}e-{rng.randint(0, 6)}")


def _weights(rng: random.Random) -> dict[str, int]:
    cuts = sorted(rng.randint(0, 100) for _ in range(len(COMPONENTS) - 1))
    sizes = [b - a for a, b in zip([0, *cuts], [*cuts, 100], strict=True)]
    return dict(zip(COMPONENTS, sizes, strict=True))


def need_tables(rng: random.Random) -> list[dict[str, CategoryNeed]]:
    tables = [dict(DEFAULT_NEED)]
    for _ in range(12):
        table = {}
        for category in CATEGORIES:
            if rng.random() < 0.08:
                continue  # not in the table at all
            benchmark = rng.choice(BENCHMARKS)
            table[category] = CategoryNeed(
                category=category,
                criticality=rng.choice(CRITICALITIES),
                unmet_demand=rng.choice([0, 1, 999, 100_000, 12_000_000, 10**12]),
                required_standards=rng.choice(REQUIREMENTS),
                benchmark_price_gbp=None if benchmark is None else Decimal(benchmark),
            )
        tables.append(table)
    return tables


def policies(rng: random.Random) -> list[ScoringPolicy]:
    found = [DEFAULT_POLICY]
    for number in range(10):
        found.append(
            ScoringPolicy(
                version=f"replay-{number}",
                weights=_weights(rng) if number else dict(DEFAULT_POLICY.weights),
                min_order_units=rng.choice([0, 1, 1000, 50_000]),
                extreme_high_ratio=Decimal(rng.choice(RATIOS_HIGH)),
                extreme_low_ratio=Decimal(rng.choice(RATIOS_LOW)),
            )
        )
    return found


def random_line(rng: random.Random) -> LineFacts:
    sterile = rng.random() < 0.2
    return LineFacts(
        category=rng.choice(CATEGORIES),
        quantity=rng.choice(
            [0, 1, 999, 1000, 1001, 500, 10_000, 99_999, 250_000, 2_000_000, 12_000_000]
            + [12_000_001, 60_000_000, 10**12, rng.randint(0, 10**9)]
        ),
        unit_price_gbp=None if rng.random() < 0.08 else _decimal(rng),
        standards=tuple(rng.sample(CLAIMS, rng.choice([0, 1, 1, 1, 2, 3]))),
        certificate=rng.choice(CERTIFICATES),
        strap_type=rng.choice(["head", "ear_loop", None]),
        sterile=sterile,
        sterilisation_validation=rng.choice(VALIDATIONS) if sterile or rng.random() < 0.1 else None,
        stock_location=rng.choice(STOCK_LOCATIONS),
        lead_time_days=rng.choice([0, 1, 2, 5, 20, 21, 34, 35, 55, 56, 83, 84, 85, 365, 10**6]),
    )


def random_supplier(rng: random.Random, today: date) -> SupplierFacts:
    incorporated = rng.choice(
        [
            None,
            today,
            today - timedelta(days=1),
            today - timedelta(days=364),
            today - timedelta(days=365),
            today - timedelta(days=366),
            today.replace(year=today.year - 3) if (today.month, today.day) != (2, 29) else today,
            date(2016, 2, 29),
            date(2017, 2, 28),
            date(2017, 3, 1),
            today + timedelta(days=30),  # a date after today
            today - timedelta(days=rng.randint(0, 20_000)),
        ]
    )
    return SupplierFacts(
        incorporated_on=incorporated,
        ppe_trading_history=rng.random() < 0.5,
        due_diligence_status=rng.choice(DUE_DILIGENCE),
    )


def golden_cases():
    """(offer, need, policy, today) for every case, always the same, in the same order."""
    rng = random.Random(SEED)
    tables = need_tables(rng)
    found_policies = policies(rng)
    for _ in range(OFFERS):
        today = rng.choice(DAYS)
        lines = tuple(random_line(rng) for _ in range(rng.choice([1, 1, 1, 2, 3, 4, 6])))
        if len(lines) > 1 and rng.random() < 0.2:
            lines = (*lines, lines[0])  # a tie
        offer = OfferFacts(lines=lines, supplier=random_supplier(rng, today))
        # The default need and policy half the time, as in the real service.
        need = tables[0] if rng.random() < 0.5 else rng.choice(tables)
        policy = DEFAULT_POLICY if rng.random() < 0.5 else rng.choice(found_policies)
        yield offer, need, policy, today


EDGE_BENCHMARKS = ("1E-30", "1E-16", "1E-17", "1E-18", "0.0000000000000000000000001", "1E-999999")
EDGE_HIGH = ("3", "1E+20", "1E+40", "1E+999990")
EDGE_PRICES = ("5", "999999999.99", "0.0000000000001", "-0", "0")


def edge_cases():
    """Tiny benchmarks and huge ratios, where the fixed decimal context runs out of digits
    or range: the errors are part of what must replay, whichever line hits them."""
    day = DAYS[0]
    supplier = SupplierFacts(date(2009, 6, 1), True, "passed")
    good = _good_line(category="gown", standards=("EN 13795-1:2019",))
    for benchmark in EDGE_BENCHMARKS:
        need = dict(DEFAULT_NEED)
        need["ffp3_respirator"] = replace(
            need["ffp3_respirator"], benchmark_price_gbp=Decimal(benchmark)
        )
        for high in EDGE_HIGH:
            for low in ("0.3", "0"):
                policy = replace(
                    DEFAULT_POLICY,
                    weights=dict(DEFAULT_POLICY.weights),
                    extreme_high_ratio=Decimal(high),
                    extreme_low_ratio=Decimal(low),
                )
                for price in EDGE_PRICES:
                    odd = _good_line(unit_price_gbp=Decimal(price))
                    for lines in (
                        (odd,),
                        (odd, good),
                        (good, odd),
                        (replace(odd, quantity=1), good),
                    ):
                        yield OfferFacts(lines=lines, supplier=supplier), need, policy, day


def canonical(offer, need, policy, today) -> str:
    try:
        result = result_to_dict(score_offer(offer, need, policy, today=today))
    except Exception as error:  # an error is part of the behaviour too
        return f"raises {type(error).__name__}: {error}"
    return json.dumps(result, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def replay_digest(cases) -> tuple[str, int]:
    digest = hashlib.sha256()
    count = 0
    for case in cases:
        digest.update(canonical(*case).encode())
        digest.update(b"\n")
        count += 1
    return digest.hexdigest(), count


def test_every_golden_case_replays_byte_for_byte():
    digest, count = replay_digest(golden_cases())
    if os.environ.get("REPLAY_PRINT"):
        print(f"\nGOLDEN_DIGEST = {digest!r}\nGOLDEN_COUNT = {count}")

    assert count == GOLDEN_COUNT
    assert digest == GOLDEN_DIGEST


def test_the_edge_cases_replay_errors_included():
    digest, count = replay_digest(edge_cases())
    raised = Counter(
        outcome.split(":")[0]
        for outcome in map(canonical, *zip(*edge_cases(), strict=True))
        if outcome.startswith("raises")
    )
    if os.environ.get("REPLAY_PRINT"):
        print(f"\nEDGE_DIGEST = {digest!r}\nEDGE_COUNT = {count}\nEDGE_RAISES = {dict(raised)}")

    assert (count, dict(raised)) == (EDGE_COUNT, EDGE_RAISES)
    assert digest == EDGE_DIGEST


def test_results_are_the_objects_the_public_constructors_make():
    """score_offer may build its results faster than through the dataclass constructors,
    but what it returns must not differ in any way from what they make."""
    for offer, need, policy, today in itertools.islice(golden_cases(), 500):
        result = score_offer(offer, need, policy, today=today)
        rebuilt = result_from_dict(result_to_dict(result))

        assert type(result) is TriageResult
        assert {type(c) for c in result.components} == {Component}
        assert {type(f) for f in result.flags} <= {Flag}
        assert result == rebuilt
        assert hash(result) == hash(rebuilt)
        assert repr(result) == repr(rebuilt)
        assert pickle.loads(pickle.dumps(result)) == result  # noqa: S301 (our own data)


def test_the_golden_cases_reach_every_branch():
    """The digest means something only if the cases cover the rules: every flag, every
    component at zero and at full points, eligible and not, one line and several."""
    flags, zero, full, eligible, errors = set(), set(), set(), set(), 0
    for case in golden_cases():
        try:
            result = score_offer(case[0], case[1], case[2], today=case[3])
        except Exception:
            errors += 1
            continue
        flags.update(flag.code for flag in result.flags)
        zero.update(c.name for c in result.components if c.points == 0)
        full.update(c.name for c in result.components if c.points == c.maximum and c.maximum)
        eligible.add((result.eligible, len(case[0].lines) == 1))

    assert flags == set(FLAG_CODES)
    assert zero == set(COMPONENTS)
    assert full == set(COMPONENTS)
    assert eligible == {(True, True), (True, False), (False, True), (False, False)}
    assert errors == 0


def _good_line(**changes) -> LineFacts:
    return replace(GOOD_LINE, **changes)


# Offers scored against DEFAULT_NEED and DEFAULT_POLICY on 27 April 2020, and their
# results in full.
FULL_OFFERS = {
    "one eligible line priced above the benchmark": OfferFacts(
        lines=(
            _good_line(
                unit_price_gbp=Decimal("4.2"), lead_time_days=9, stock_location="in_transit"
            ),
        ),
        supplier=SupplierFacts(date(2018, 6, 1), False, "in_progress"),
    ),
    "no eligible line, every flag but a failed due diligence": OfferFacts(
        lines=(
            _good_line(strap_type="ear_loop", unit_price_gbp=Decimal("9.99"), quantity=999),
            _good_line(
                category="gown",
                quantity=500,
                standards=("EN 13795-1:2019",),
                certificate="ISO 9001:2015",
                sterile=True,
                sterilisation_validation="gamma",
                unit_price_gbp=Decimal("0.085"),
                stock_location="overseas",
                lead_time_days=40,
            ),
            _good_line(
                category="other",
                standards=(),
                unit_price_gbp=None,
                stock_location="not_yet_manufactured",
            ),
            _good_line(
                category="iir_mask",
                standards=("EN 14683 Type II",),
                quantity=200_000_000,
                lead_time_days=1,
            ),
        ),
        supplier=SupplierFacts(date(2020, 1, 2), True, "not_started"),
    ),
    "failed due diligence, a tie between two lines": OfferFacts(
        lines=(
            _good_line(
                category="gloves",
                standards=("EN 455-1,2,3",),
                unit_price_gbp=Decimal("0.02"),
                certificate="CE 0123",
            ),
            _good_line(
                category="hand_sanitiser",
                standards=("EN 1500",),
                unit_price_gbp=Decimal("3.00"),
                quantity=1_000_000,
                sterile=True,
                sterilisation_validation="ISO 11137-2 dose audit",
            ),
            _good_line(
                category="gloves",
                standards=("EN 455-1,2,3",),
                unit_price_gbp=Decimal("0.02"),
                certificate="CE 0123",
            ),
        ),
        supplier=SupplierFacts(None, False, "failed"),
    ),
}
FULL_RESULTS = {
    "one eligible line priced above the benchmark": {
        "total": 69,
        "components": [
            {
                "name": "need",
                "points": 30,
                "maximum": 30,
                "sentence": "Clinical need for FFP3 respirators is rated critical now.",
            },
            {
                "name": "coverage",
                "points": 3,
                "maximum": 20,
                "sentence": "Offers 2,000,000 of an unmet need of 12,000,000 FFP3 respirators (17%).",
            },
            {
                "name": "compliance",
                "points": 20,
                "maximum": 20,
                "sentence": "Claims EN 149 FFP3 with a certificate from notified body 2797.",
            },
            {
                "name": "deliverability",
                "points": 9,
                "maximum": 15,
                "sentence": "Stock is in transit with a lead time of 9 days; at critical need, 21 days or more scores nothing for speed.",
            },
            {
                "name": "value",
                "points": 6,
                "maximum": 10,
                "sentence": "£4.20 a unit against a benchmark of £2.50 (168% of the benchmark).",
            },
            {
                "name": "credibility",
                "points": 1,
                "maximum": 5,
                "sentence": "No history of trading in PPE or medical goods; incorporated 1 year ago; due diligence in progress.",
            },
        ],
        "flags": [],
        "eligible": True,
        "ineligible_reasons": [],
        "policy_version": "scoring-2020.1",
    },
    "no eligible line, every flag but a failed due diligence": {
        "total": 58,
        "components": [
            {
                "name": "need",
                "points": 22,
                "maximum": 30,
                "sentence": "Clinical need for Type IIR masks is rated high now.",
            },
            {
                "name": "coverage",
                "points": 20,
                "maximum": 20,
                "sentence": "Offers 200,000,000 Type IIR masks against an unmet need of 150,000,000; units beyond the need add nothing (100%).",
            },
            {
                "name": "compliance",
                "points": 0,
                "maximum": 20,
                "sentence": "No evidence of EN 14683 Type IIR (claimed: EN 14683 Type II).",
            },
            {
                "name": "deliverability",
                "points": 14,
                "maximum": 15,
                "sentence": "Stock is in the UK with a lead time of 1 day; at high need, 35 days or more scores nothing for speed.",
            },
            {
                "name": "value",
                "points": 0,
                "maximum": 10,
                "sentence": "£1.85 a unit against a benchmark of £0.30: 6.2 times the benchmark, an extreme price.",
            },
            {
                "name": "credibility",
                "points": 2,
                "maximum": 5,
                "sentence": "Trades in PPE or medical goods; incorporated on 2020-01-02, less than a year ago; due diligence not started.",
            },
        ],
        "flags": [
            {
                "code": "ear_loop_respirator",
                "sentence": "Respirators with ear loops fail face-fit testing; head straps are needed.",
                "line": 0,
            },
            {
                "code": "price_extreme_high",
                "sentence": "£9.99 a unit is more than 3 times the benchmark of £2.50: a risk, not a bargain.",
                "line": 0,
            },
            {
                "code": "no_notified_body",
                "sentence": "The certificate (“ISO 9001:2015”) names no notified body (a four-digit number, such as CE 2797).",
                "line": 1,
            },
            {
                "code": "unvalidated_sterility",
                "sentence": "Sold as sterile without a validated sterilisation process (such as ISO 11137, ISO 11135 or EN 556).",
                "line": 1,
            },
            {
                "code": "price_extreme_low",
                "sentence": "£0.085 a unit is under 0.3 times the benchmark of £4.50; prices this low can mean counterfeit goods.",
                "line": 1,
            },
            {
                "code": "standard_missing",
                "sentence": "No evidence of EN 14683 Type IIR (claimed: EN 14683 Type II).",
                "line": 3,
            },
            {
                "code": "price_extreme_high",
                "sentence": "£1.85 a unit is more than 3 times the benchmark of £0.30: a risk, not a bargain.",
                "line": 3,
            },
            {
                "code": "new_company",
                "sentence": "The supplier was incorporated on 2020-01-02, less than a year ago.",
                "line": None,
            },
        ],
        "eligible": False,
        "ineligible_reasons": [
            "Line 1: Below the minimum order of 1,000 units (offers 999).",
            "Line 2: Below the minimum order of 1,000 units (offers 500).",
            "Line 3: There is no current clinical need for other products.",
            "Line 4: No evidence of EN 14683 Type IIR.",
        ],
        "policy_version": "scoring-2020.1",
    },
    "failed due diligence, a tie between two lines": {
        "total": 60,
        "components": [
            {
                "name": "need",
                "points": 22,
                "maximum": 30,
                "sentence": "Clinical need for gloves is rated high now.",
            },
            {
                "name": "coverage",
                "points": 0,
                "maximum": 20,
                "sentence": "Offers 2,000,000 of an unmet need of 500,000,000 gloves (under 1%).",
            },
            {
                "name": "compliance",
                "points": 20,
                "maximum": 20,
                "sentence": "Claims EN 455 with a certificate from notified body 0123.",
            },
            {
                "name": "deliverability",
                "points": 13,
                "maximum": 15,
                "sentence": "Stock is in the UK with a lead time of 5 days; at high need, 35 days or more scores nothing for speed.",
            },
            {
                "name": "value",
                "points": 5,
                "maximum": 10,
                "sentence": "£0.02 a unit against a benchmark of £0.08: suspiciously low, so only half points.",
            },
            {
                "name": "credibility",
                "points": 0,
                "maximum": 5,
                "sentence": "The supplier failed due diligence, so credibility scores nothing.",
            },
        ],
        "flags": [
            {
                "code": "price_extreme_low",
                "sentence": "£0.02 a unit is under 0.3 times the benchmark of £0.08; prices this low can mean counterfeit goods.",
                "line": 0,
            },
            {
                "code": "price_extreme_low",
                "sentence": "£0.02 a unit is under 0.3 times the benchmark of £0.08; prices this low can mean counterfeit goods.",
                "line": 2,
            },
            {
                "code": "due_diligence_failed",
                "sentence": "The supplier failed due diligence.",
                "line": None,
            },
        ],
        "eligible": True,
        "ineligible_reasons": [],
        "policy_version": "scoring-2020.1",
    },
}


@pytest.mark.parametrize("name", FULL_RESULTS)
def test_some_results_in_full(name):
    result = score_offer(FULL_OFFERS[name], DEFAULT_NEED, DEFAULT_POLICY, today=date(2020, 4, 27))

    assert result_to_dict(result) == FULL_RESULTS[name]
