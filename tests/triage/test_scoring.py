"""The scoring rules, table by table, and the properties that must hold for any input.

A good offer of FFP3 respirators is the baseline; each test changes one fact of it.
No database and no Django: run with `pytest -p no:django tests/triage`.
"""

import json
from dataclasses import replace
from datetime import date
from decimal import ROUND_DOWN, Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
    LineFacts,
    OfferFacts,
    ScoringPolicy,
    SupplierFacts,
    TriageResult,
    need_table_from_dict,
    need_table_to_dict,
    offer_facts_from_dict,
    offer_facts_to_dict,
    policy_from_dict,
    policy_to_dict,
    result_from_dict,
    result_to_dict,
    score_offer,
)

TODAY = date(2020, 4, 27)
GOOD_LINE = LineFacts(
    category="ffp3_respirator",
    quantity=2_000_000,
    unit_price_gbp=Decimal("1.85"),
    standards=("EN 149:2001+A1:2009 FFP3",),
    certificate="CE 2797",
    strap_type="head",
    sterile=False,
    sterilisation_validation=None,
    stock_location="uk",
    lead_time_days=5,
)
GOOD_SUPPLIER = SupplierFacts(
    incorporated_on=date(2009, 6, 1), ppe_trading_history=True, due_diligence_status="passed"
)
# A claim that meets each category's requirement in DEFAULT_NEED.
VALID_CLAIM = {
    "ffp3_respirator": ("EN 149:2001+A1:2009 FFP3",),
    "ffp2_respirator": ("EN 149:2001+A1:2009 FFP2",),
    "iir_mask": ("EN 14683:2019 Type IIR",),
    "gown": ("EN 13795-1:2019",),
    "gloves": ("EN 455-1,2,3",),
    "apron": (),
    "eye_protection": ("EN 166:2001",),
    "hand_sanitiser": ("EN 1500",),
    "body_bag": (),
    "other": (),
}


def line(**changes) -> LineFacts:
    if "category" in changes and "standards" not in changes:
        changes["standards"] = VALID_CLAIM[changes["category"]]
    return replace(GOOD_LINE, **changes)


def score(*lines, supplier=GOOD_SUPPLIER, need=DEFAULT_NEED, policy=DEFAULT_POLICY, today=TODAY):
    return score_offer(
        OfferFacts(lines=lines or (GOOD_LINE,), supplier=supplier), need, policy, today=today
    )


def points(result: TriageResult, name: str) -> int:
    return next(c.points for c in result.components if c.name == name)


def sentence(result: TriageResult, name: str) -> str:
    return next(c.sentence for c in result.components if c.name == name)


def codes(result: TriageResult) -> set[str]:
    return {flag.code for flag in result.flags}


def need_with(category: str, **changes) -> dict[str, CategoryNeed]:
    table = dict(DEFAULT_NEED)
    table[category] = replace(table[category], **changes)
    return table


def standing(result: TriageResult) -> tuple[bool, int]:
    """How an offer ranks: eligible offers first, then by total."""
    return result.eligible, result.total


# --- the baseline ---------------------------------------------------------------------


def test_it_scores_a_good_ffp3_offer_with_a_sentence_per_component():
    result = score()

    assert [(c.name, c.points, c.maximum) for c in result.components] == [
        ("need", 30, 30),
        ("coverage", 3, 20),
        ("compliance", 20, 20),
        ("deliverability", 12, 15),
        ("value", 10, 10),
        ("credibility", 5, 5),
    ]
    assert result.total == 80
    assert result.eligible is True
    assert result.ineligible_reasons == ()
    assert result.flags == ()
    assert result.policy_version == "scoring-2020.1"
    assert sentence(result, "need") == "Clinical need for FFP3 respirators is rated critical now."
    assert sentence(result, "coverage") == (
        "Offers 2,000,000 of an unmet need of 12,000,000 FFP3 respirators (17%)."
    )
    assert sentence(result, "compliance") == (
        "Claims EN 149 FFP3 with a certificate from notified body 2797."
    )
    assert sentence(result, "deliverability") == (
        "Stock is in the UK with a lead time of 5 days; at critical need, "
        "21 days or more scores nothing for speed."
    )
    assert sentence(result, "value") == (
        "£1.85 a unit against a benchmark of £2.50 (74% of the benchmark)."
    )
    assert sentence(result, "credibility") == (
        "Trades in PPE or medical goods; incorporated 10 years ago; due diligence passed."
    )


# --- need -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "criticality", "expected"),
    [
        ("ffp3_respirator", "critical", 30),
        ("gown", "critical", 30),
        ("ffp2_respirator", "high", 22),
        ("iir_mask", "high", 22),
        ("gloves", "high", 22),
        ("eye_protection", "medium", 13),
        ("body_bag", "medium", 13),
        ("apron", "low", 6),
        ("hand_sanitiser", "low", 6),
        ("other", "none", 0),
    ],
)
def test_it_gives_need_points_by_criticality_now(category, criticality, expected):
    result = score(line(category=category))

    assert points(result, "need") == expected
    assert DEFAULT_NEED[category].criticality == criticality


@pytest.mark.parametrize(
    ("offered", "need", "label"),
    [
        ("other", DEFAULT_NEED, "other products"),
        ("gloves", need_with("gloves", criticality="none"), "gloves"),
        ("gown", {k: v for k, v in DEFAULT_NEED.items() if k != "gown"}, "gowns"),
        ("other", need_with("other", criticality="critical", unmet_demand=10**6), "other products"),
    ],
)
def test_it_finds_a_line_with_no_clinical_need_ineligible(offered, need, label):
    result = score(line(category=offered), need=need)

    assert result.eligible is False
    assert result.ineligible_reasons == (f"There is no current clinical need for {label}.",)
    assert points(result, "need") == 0


# --- coverage -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "gap", "expected", "text"),
    [
        (
            2_000_000,
            12_000_000,
            3,
            "Offers 2,000,000 of an unmet need of 12,000,000 FFP3 respirators (17%).",
        ),
        (6_000_000, 12_000_000, 10, "(50%)"),
        (11_999_999, 12_000_000, 19, "(100%)"),
        (12_000_000, 12_000_000, 20, "(100%)"),
        (24_000_000, 12_000_000, 20, "units beyond the need add nothing"),
        (1_000, 12_000_000, 0, "(under 1%)"),
        (2_000_000, 0, 0, "There is no unmet need for FFP3 respirators"),
    ],
)
def test_it_counts_units_only_up_to_the_unmet_need(quantity, gap, expected, text):
    result = score(line(quantity=quantity), need=need_with("ffp3_respirator", unmet_demand=gap))

    assert points(result, "coverage") == expected
    assert text in sentence(result, "coverage")


@pytest.mark.parametrize("beyond", [12_000_001, 24_000_000, 10**12])
def test_it_adds_nothing_for_units_beyond_the_gap(beyond):
    at_gap = score(line(quantity=12_000_000))
    more = score(line(quantity=beyond))

    assert more.components == tuple(
        replace(c, sentence=m.sentence)
        for c, m in zip(at_gap.components, more.components, strict=True)
    )
    assert more.total == at_gap.total


# --- compliance: standards ------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "claims", "satisfied"),
    [
        ("ffp3_respirator", ("EN149:2001+A1:2009 FFP3",), True),
        ("ffp3_respirator", ("EN 149 FFP3",), True),
        ("ffp3_respirator", ("BS EN 149:2001 FFP3 NR D",), True),
        ("ffp3_respirator", ("EN-149 ffp 3",), True),
        ("ffp3_respirator", ("EN 149:2001+A1:2009", "FFP3"), True),
        ("ffp3_respirator", ("EN 149 FFP2",), False),  # FFP2 claimed on an FFP3 line
        ("ffp3_respirator", ("EN 149:2001+A1:2009",), False),  # no class
        ("ffp3_respirator", ("FFP3",), False),  # no standard
        ("ffp3_respirator", ("KN95 GB2626-2006",), False),
        ("ffp3_respirator", ("N95 NIOSH 42 CFR 84",), False),
        ("ffp3_respirator", ("EN 1490 FFP3",), False),
        ("ffp3_respirator", (), False),
        ("ffp2_respirator", ("EN 149 FFP2",), True),
        ("ffp2_respirator", ("EN 149 FFP3",), True),  # a higher class is acceptable
        ("ffp2_respirator", ("EN 149 FFP1",), False),
        ("iir_mask", ("EN 14683:2019+AC:2019 Type IIR",), True),
        ("iir_mask", ("EN14683 TYPE-IIR",), True),
        ("iir_mask", ("BS EN 14683 IIR",), True),
        ("iir_mask", ("EN 14683 Type II",), False),  # not fluid-resistant
        ("iir_mask", ("EN 14683 Type I",), False),
        ("iir_mask", ("Type IIR",), False),
        ("gown", ("EN 13795-1:2019",), True),
        ("gown", ("EN 14126:2003",), True),
        ("gown", ("AAMI PB70 level 3",), False),
        ("gloves", ("EN 455-1,2,3",), True),
        ("gloves", ("EN ISO 374-5:2016",), False),
        ("eye_protection", ("EN166",), True),
        ("eye_protection", ("ANSI Z87.1",), False),
        ("hand_sanitiser", ("EN 1500",), True),
        ("hand_sanitiser", ("EN 14476:2013+A2:2019",), True),
        ("hand_sanitiser", ("70% alcohol",), False),
        ("apron", (), True),  # no standard required
        ("body_bag", (), True),
    ],
)
def test_it_matches_claimed_standards_to_the_category(category, claims, satisfied):
    result = score(line(category=category, standards=claims))

    assert result.eligible is satisfied
    assert ("standard_missing" in codes(result)) is not satisfied
    assert points(result, "compliance") == (20 if satisfied else 0)


@pytest.mark.parametrize(
    ("category", "reason"),
    [
        ("ffp3_respirator", "No evidence of EN 149 FFP3."),
        ("gown", "No evidence of EN 13795 or EN 14126."),
        ("iir_mask", "No evidence of EN 14683 Type IIR."),
    ],
)
def test_it_finds_a_line_without_the_required_standard_ineligible(category, reason):
    result = score(line(category=category, standards=("EN 149 FFP2",)))

    assert result.ineligible_reasons == (reason,)
    assert result.flags[0].code == "standard_missing"
    assert result.flags[0].line == 0
    assert "claimed: EN 149 FFP2" in result.flags[0].sentence


@pytest.mark.parametrize(
    ("required", "claims", "satisfied"),
    [
        (("EN 149:2001 FFP3",), ("EN 149 FFP3",), True),  # the edition does not matter
        (("EN ISO 374-5",), ("EN ISO 374-5:2016",), True),
        (("EN ISO 374-5",), ("EN ISO 374-1:2016",), False),  # a part must match
        (("CE marked",), ("ce-marked",), True),  # no standard number: the text must appear
        (("CE marked",), ("EN 149",), False),
    ],
)
def test_it_reads_requirements_the_managers_write(required, claims, satisfied):
    need = need_with("ffp3_respirator", required_standards=required)

    assert score(line(standards=claims), need=need).eligible is satisfied


# --- compliance: certificate, straps and sterility -------------------------------------


@pytest.mark.parametrize(
    ("certificate", "notified_body"),
    [
        ("CE 2797", True),
        ("CE0123", True),
        ("Notified body 2163, certificate 2163-PPE-0042", True),
        ("CE 2797 (EN 149:2001)", True),
        ("CE", False),
        ("", False),
        ("ISO 9001:2015", False),
        ("ISO 13485:2016", False),
        ("EN 149:2001", False),
        ("Declaration of conformity 12", False),
    ],
)
def test_it_needs_a_notified_body_for_full_compliance(certificate, notified_body):
    result = score(line(certificate=certificate))

    assert points(result, "compliance") == (20 if notified_body else 10)
    assert ("no_notified_body" in codes(result)) is not notified_body
    assert result.eligible is True


@pytest.mark.parametrize(
    ("category", "strap_type", "flagged", "expected"),
    [
        ("ffp3_respirator", "ear_loop", True, 0),
        ("ffp2_respirator", "ear_loop", True, 0),
        ("ffp3_respirator", "head", False, 20),
        ("ffp3_respirator", None, False, 20),
        ("iir_mask", "ear_loop", False, 20),  # surgical masks may have ear loops
    ],
)
def test_it_flags_respirators_with_ear_loops(category, strap_type, flagged, expected):
    result = score(line(category=category, strap_type=strap_type))

    assert ("ear_loop_respirator" in codes(result)) is flagged
    assert points(result, "compliance") == expected
    if flagged:
        assert "Respirators with ear loops fail face-fit testing" in result.flags[0].sentence


@pytest.mark.parametrize(
    ("sterile", "validation", "certificate", "flagged", "expected"),
    [
        (False, None, "CE 2797", False, 20),
        (True, None, "CE 2797", True, 10),
        (True, "gamma irradiated", "CE 2797", True, 10),
        (True, "sterile", "CE 2797", True, 10),
        (True, "ISO 11137-2 dose audit", "CE 2797", False, 20),
        (True, "EN ISO 11135:2014 ethylene oxide", "CE 2797", False, 20),
        (True, "ISO11137", "CE 2797", False, 20),
        (True, "EN 556-1", "CE 2797", False, 20),
        (True, None, "CE", True, 5),  # both halvings
    ],
)
def test_it_needs_a_validated_process_behind_a_sterile_claim(
    sterile, validation, certificate, flagged, expected
):
    gown = line(
        category="gown",
        sterile=sterile,
        sterilisation_validation=validation,
        certificate=certificate,
    )
    result = score(gown)

    assert ("unvalidated_sterility" in codes(result)) is flagged
    assert points(result, "compliance") == expected
    assert result.eligible is True


# --- minimum order --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "minimum", "eligible"),
    [
        (999, 1000, False),
        (1000, 1000, True),
        (0, 1000, False),
        (10, 0, True),
        (49_999, 50_000, False),
    ],
)
def test_it_finds_a_line_below_the_minimum_order_ineligible(quantity, minimum, eligible):
    policy = replace(DEFAULT_POLICY, min_order_units=minimum)
    result = score(line(quantity=quantity), policy=policy)

    assert result.eligible is eligible
    if not eligible:
        assert result.ineligible_reasons == (
            f"Below the minimum order of {minimum:,} units (offers {quantity:,}).",
        )


# --- deliverability -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "location", "days", "expected"),
    [
        ("ffp3_respirator", "uk", 0, 15),
        ("ffp3_respirator", "uk", 5, 12),
        ("ffp3_respirator", "in_transit", 5, 11),
        ("ffp3_respirator", "overseas", 5, 9),
        ("ffp3_respirator", "not_yet_manufactured", 5, 6),
        ("ffp3_respirator", "uk", 14, 8),
        ("ffp3_respirator", "uk", 21, 6),
        ("ffp3_respirator", "uk", 60, 6),
        ("ffp3_respirator", "not_yet_manufactured", 60, 0),
        ("gloves", "uk", 14, 11),
        ("apron", "uk", 14, 13),
    ],
)
def test_it_scores_deliverability_by_location_and_lead_time(category, location, days, expected):
    result = score(line(category=category, stock_location=location, lead_time_days=days))

    assert points(result, "deliverability") == expected
    assert f"{days} day" in sentence(result, "deliverability")


@pytest.mark.parametrize("category", ["ffp3_respirator", "gloves", "eye_protection", "apron"])
@pytest.mark.parametrize("days", [0, 7, 20, 40])
def test_it_ranks_stock_in_the_uk_first_and_not_yet_made_last(category, days):
    scores = [
        points(
            score(line(category=category, stock_location=loc, lead_time_days=days)),
            "deliverability",
        )
        for loc in ("uk", "in_transit", "overseas", "not_yet_manufactured")
    ]

    assert scores == sorted(scores, reverse=True)
    assert len(set(scores)) == 4


@pytest.mark.parametrize("days", [7, 14, 20])
def test_it_makes_a_critical_need_lose_points_faster_per_day(days):
    def lost(category):
        now = points(score(line(category=category, lead_time_days=0)), "deliverability")
        later = points(score(line(category=category, lead_time_days=days)), "deliverability")
        return now - later

    assert lost("ffp3_respirator") > lost("gloves") > lost("apron")


# --- value ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "expected", "flag"),
    [
        ("1.85", 10, None),
        ("2.50", 10, None),
        ("0.75", 10, None),  # exactly the low ratio: not yet extreme
        ("0.7499", 5, "price_extreme_low"),
        ("0.01", 5, "price_extreme_low"),
        ("0", 5, "price_extreme_low"),
        ("3.75", 7, None),
        ("5.00", 5, None),
        ("6.25", 2, None),
        ("7.50", 0, None),  # exactly the high ratio: no points, not yet a flag
        ("7.5001", 0, "price_extreme_high"),
        ("25.00", 0, "price_extreme_high"),
    ],
)
def test_it_scores_value_against_the_benchmark(price, expected, flag):
    result = score(line(unit_price_gbp=Decimal(price)))

    assert points(result, "value") == expected
    assert codes(result) == ({flag} if flag else set())
    assert "£2.50" in sentence(result, "value")


def test_it_never_rewards_an_extreme_low_price_over_the_benchmark():
    at_benchmark = score(line(unit_price_gbp=Decimal("2.50")))
    suspicious = score(line(unit_price_gbp=Decimal("0.10")))

    assert points(suspicious, "value") < points(at_benchmark, "value")
    assert "counterfeit" in suspicious.flags[0].sentence


@pytest.mark.parametrize(
    ("price", "benchmark", "text"),
    [
        (None, Decimal("2.50"), "Half points for value: no price was given."),
        (Decimal("1.85"), None, "Half points for value: FFP3 respirators have no benchmark price."),
    ],
)
def test_it_gives_half_value_points_without_a_price_or_benchmark(price, benchmark, text):
    need = need_with("ffp3_respirator", benchmark_price_gbp=benchmark)
    result = score(line(unit_price_gbp=price), need=need)

    assert points(result, "value") == 5
    assert sentence(result, "value") == text


# --- credibility ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("incorporated_on", "history", "due_diligence", "expected", "flags"),
    [
        (date(2009, 6, 1), True, "passed", 5, set()),
        (date(2009, 6, 1), True, "failed", 0, {"due_diligence_failed"}),
        (date(2020, 3, 1), True, "passed", 3, {"new_company"}),
        (date(2019, 4, 28), True, "passed", 3, {"new_company"}),  # a day short of a year
        (date(2019, 4, 27), True, "passed", 4, set()),  # one year today
        (date(2009, 6, 1), False, "in_progress", 2, set()),
        (None, False, "not_started", 0, set()),
        (date(2020, 3, 1), False, "failed", 0, {"due_diligence_failed"}),
    ],
)
def test_it_scores_supplier_credibility(incorporated_on, history, due_diligence, expected, flags):
    supplier = SupplierFacts(incorporated_on, history, due_diligence)
    result = score(supplier=supplier)

    assert points(result, "credibility") == expected
    assert codes(result) == flags
    assert all(flag.line is None for flag in result.flags)


# --- how the lines make the offer -----------------------------------------------------


def test_it_scores_an_offer_by_its_best_eligible_line():
    small = line(quantity=100)  # ineligible, but otherwise the best line
    gloves = line(
        category="gloves", quantity=5_000_000, unit_price_gbp=Decimal("0.08"), certificate="CE"
    )
    result = score(small, gloves)

    assert score(small).total > score(gloves).total
    assert result.eligible is True
    assert result.total == score(gloves).total
    assert result.ineligible_reasons == ()
    assert [(f.code, f.line) for f in result.flags] == [("no_notified_body", 1)]


def test_it_scores_an_ineligible_offer_by_its_best_line_for_information():
    other = line(category="other")
    small = line(quantity=10)
    result = score(other, small)

    assert result.eligible is False
    assert result.total == max(score(other).total, score(small).total)
    assert result.ineligible_reasons == (
        "Line 1: There is no current clinical need for other products.",
        "Line 2: Below the minimum order of 1,000 units (offers 10).",
    )


def test_it_prefers_the_first_line_on_a_tie_and_collects_every_lines_flags():
    result = score(
        line(strap_type="ear_loop"),
        line(unit_price_gbp=Decimal("99")),
        supplier=replace(GOOD_SUPPLIER, incorporated_on=date(2020, 1, 1)),
    )

    assert [(f.code, f.line) for f in result.flags] == [
        ("ear_loop_respirator", 0),
        ("price_extreme_high", 1),
        ("new_company", None),
    ]


# --- policy and inputs ----------------------------------------------------------------

GOOD_WEIGHTS = dict(DEFAULT_POLICY.weights)


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"weights": {**GOOD_WEIGHTS, "need": 29}}, ValueError),  # adds up to 99
        ({"weights": {**GOOD_WEIGHTS, "need": 31}}, ValueError),
        ({"weights": {k: v for k, v in GOOD_WEIGHTS.items() if k != "value"}}, ValueError),
        ({"weights": {**GOOD_WEIGHTS, "introducer": 0}}, ValueError),
        ({"weights": {**GOOD_WEIGHTS, "need": 40, "value": 0, "credibility": -5}}, ValueError),
        ({"weights": {**GOOD_WEIGHTS, "need": 30.0}}, TypeError),
        ({"extreme_high_ratio": Decimal("1")}, ValueError),
        ({"extreme_low_ratio": Decimal("1.5")}, ValueError),
        ({"extreme_low_ratio": 0.3}, TypeError),
        ({"min_order_units": -1}, ValueError),
        ({"version": ""}, ValueError),
    ],
)
def test_it_refuses_a_bad_policy(changes, error):
    fields = {**policy_to_dict(DEFAULT_POLICY), **changes}
    fields["extreme_high_ratio"] = Decimal(str(fields["extreme_high_ratio"]))
    if not isinstance(fields["extreme_low_ratio"], float):
        fields["extreme_low_ratio"] = Decimal(str(fields["extreme_low_ratio"]))

    with pytest.raises(error):
        ScoringPolicy(**fields)


def test_it_keeps_a_policys_weights_read_only():
    with pytest.raises(TypeError):
        DEFAULT_POLICY.weights["need"] = 100


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"category": "ventilator"}, ValueError),
        ({"stock_location": "warehouse"}, ValueError),
        ({"strap_type": "elastic"}, ValueError),
        ({"quantity": -1}, ValueError),
        ({"quantity": 1.5}, TypeError),
        ({"lead_time_days": -3}, ValueError),
        ({"unit_price_gbp": 1.85}, TypeError),
        ({"unit_price_gbp": Decimal("-1")}, ValueError),
        ({"unit_price_gbp": Decimal("NaN")}, TypeError),
        ({"unit_price_gbp": Decimal("1E+9")}, ValueError),
        ({"standards": ["EN 149 FFP3"]}, TypeError),
    ],
)
def test_it_refuses_bad_line_facts(changes, error):
    with pytest.raises(error):
        replace(GOOD_LINE, **changes)


def test_it_refuses_an_offer_without_lines():
    with pytest.raises(ValueError):
        OfferFacts(lines=(), supplier=GOOD_SUPPLIER)


def test_it_starts_from_the_late_april_2020_need_table():
    assert {c: n.criticality for c, n in DEFAULT_NEED.items()} == {
        "ffp3_respirator": "critical",
        "gown": "critical",
        "ffp2_respirator": "high",
        "iir_mask": "high",
        "gloves": "high",
        "eye_protection": "medium",
        "body_bag": "medium",
        "apron": "low",
        "hand_sanitiser": "low",
        "other": "none",
    }
    assert DEFAULT_NEED["gown"].required_standards == ("EN 13795", "EN 14126")
    assert DEFAULT_NEED["ffp3_respirator"].benchmark_price_gbp == Decimal("2.50")


def test_it_ignores_the_callers_decimal_context():
    offer = (
        line(unit_price_gbp=Decimal("3.3333")),
        line(unit_price_gbp=Decimal("7.5001")),  # just over the extreme ratio
        line(category="gown", quantity=333_333),
    )
    expected = score(*offer)
    assert [f.code for f in expected.flags] == ["price_extreme_high"]
    with localcontext() as context:
        context.prec = 2
        context.rounding = ROUND_DOWN
        assert score(*offer) == expected


def test_it_keeps_every_decimal_place_through_a_json_snapshot():
    offer = OfferFacts((line(unit_price_gbp=Decimal("1.8500")),), GOOD_SUPPLIER)
    need = need_with("ffp3_respirator", benchmark_price_gbp=Decimal("2.5000"))
    policy = replace(DEFAULT_POLICY, extreme_low_ratio=Decimal("0.30"))

    stored = json.loads(
        json.dumps([offer_facts_to_dict(offer), need_table_to_dict(need), policy_to_dict(policy)])
    )

    assert stored[0]["lines"][0]["unit_price_gbp"] == "1.8500"
    assert stored[0]["supplier"]["incorporated_on"] == "2009-06-01"
    assert stored[1]["ffp3_respirator"]["benchmark_price_gbp"] == "2.5000"
    assert stored[2]["extreme_low_ratio"] == "0.30"
    assert repr(offer_facts_from_dict(stored[0])) == repr(offer)
    assert repr(need_table_from_dict(stored[1])) == repr(need)
    assert repr(policy_from_dict(stored[2])) == repr(policy)


def test_it_writes_a_result_as_json_and_reads_it_back():
    result = score(line(strap_type="ear_loop"), line(quantity=10))

    stored = json.loads(json.dumps(result_to_dict(result)))

    assert result_from_dict(stored) == result
    assert stored["components"][0] == {
        "name": "need",
        "points": 30,
        "maximum": 30,
        "sentence": "Clinical need for FFP3 respirators is rated critical now.",
    }


# --- properties -----------------------------------------------------------------------

CLAIMS = st.sampled_from(
    [
        "EN 149:2001+A1:2009 FFP3",
        "EN149 FFP2",
        "EN 149",
        "KN95",
        "EN 14683:2019 Type IIR",
        "EN 14683 Type II",
        "EN 13795-1:2019",
        "EN 14126",
        "EN 455-1,2,3",
        "EN ISO 374-5",
        "EN 166",
        "EN 1500",
        "EN 14476",
        "EN 13034",
    ]
) | st.text(max_size=30)
CERTIFICATES = st.sampled_from(["CE 2797", "CE0123", "CE", "", "ISO 9001:2015", "EN 149:2001"]) | (
    st.text(max_size=20)
)
VALIDATIONS = st.none() | st.sampled_from(["ISO 11137-2 dose audit", "EN ISO 11135", "gamma"])
PRICES = st.none() | st.decimals(min_value=0, max_value=1000, places=4)
DATES = st.dates(min_value=date(1950, 1, 1), max_value=date(2030, 12, 31))


@st.composite
def line_facts(draw) -> LineFacts:
    return LineFacts(
        category=draw(st.sampled_from(CATEGORIES)),
        quantity=draw(st.integers(0, 10**9)),
        unit_price_gbp=draw(PRICES),
        standards=tuple(draw(st.lists(CLAIMS, max_size=3))),
        certificate=draw(CERTIFICATES),
        strap_type=draw(st.sampled_from(["head", "ear_loop", None])),
        sterile=draw(st.booleans()),
        sterilisation_validation=draw(VALIDATIONS),
        stock_location=draw(st.sampled_from(STOCK_LOCATIONS)),
        lead_time_days=draw(st.integers(0, 400)),
    )


supplier_facts = st.builds(
    SupplierFacts,
    incorporated_on=st.none() | DATES,
    ppe_trading_history=st.booleans(),
    due_diligence_status=st.sampled_from(DUE_DILIGENCE),
)
offer_facts = st.builds(
    OfferFacts,
    lines=st.lists(line_facts(), min_size=1, max_size=4).map(tuple),
    supplier=supplier_facts,
)


@st.composite
def need_tables(draw) -> dict[str, CategoryNeed]:
    table = {}
    for category in CATEGORIES:
        if draw(st.integers(0, 9)) == 0:
            continue  # a category missing from the table has no need
        table[category] = CategoryNeed(
            category=category,
            criticality=draw(st.sampled_from(CRITICALITIES)),
            unmet_demand=draw(st.integers(0, 10**9)),
            required_standards=draw(
                st.sampled_from(
                    [DEFAULT_NEED[category].required_standards, (), ("EN 149 FFP2", "EN 455")]
                )
            ),
            benchmark_price_gbp=draw(
                st.none() | st.decimals(min_value=Decimal("0.0001"), max_value=100, places=4)
            ),
        )
    return table


@st.composite
def policies(draw) -> ScoringPolicy:
    cuts = sorted(draw(st.lists(st.integers(0, 100), min_size=5, max_size=5)))
    bounds = [0, *cuts, 100]
    return ScoringPolicy(
        version=draw(st.text(min_size=1, max_size=12)),
        weights={name: bounds[i + 1] - bounds[i] for i, name in enumerate(COMPONENTS)},
        min_order_units=draw(st.integers(0, 10**6)),
        extreme_high_ratio=draw(st.decimals(min_value=Decimal("1.01"), max_value=10, places=2)),
        extreme_low_ratio=draw(st.decimals(min_value=0, max_value=1, places=2)),
    )


needs = st.one_of(st.just(DEFAULT_NEED), need_tables())
scoring_policies = st.one_of(st.just(DEFAULT_POLICY), policies())
days = st.dates(min_value=date(2019, 1, 1), max_value=date(2030, 12, 31))


@settings(deadline=None)
@given(offer=offer_facts, need=needs, policy=scoring_policies, today=days)
def test_property_every_result_is_well_formed(offer, need, policy, today):
    result = score_offer(offer, need, policy, today=today)

    assert [c.name for c in result.components] == list(COMPONENTS)
    assert [c.maximum for c in result.components] == [policy.weights[n] for n in COMPONENTS]
    assert all(0 <= c.points <= c.maximum for c in result.components)
    assert all(c.sentence.endswith(".") for c in result.components)
    assert 0 <= result.total <= 100
    assert result.total == sum(c.points for c in result.components)
    assert result.eligible is (result.ineligible_reasons == ())
    assert {f.code for f in result.flags} <= set(FLAG_CODES)
    assert all(f.line is None or 0 <= f.line < len(offer.lines) for f in result.flags)
    assert result.policy_version == policy.version


@settings(deadline=None)
@given(
    offer=offer_facts,
    need=needs,
    policy=scoring_policies,
    today=days,
    index=st.integers(0, 3),
    fractions=st.tuples(st.integers(0, 1000), st.integers(0, 1000)).map(sorted),
)
def test_property_more_units_up_to_the_gap_never_lower_the_score(
    offer, need, policy, today, index, fractions
):
    index %= len(offer.lines)
    gap = (
        need[offer.lines[index].category].unmet_demand if offer.lines[index].category in need else 0
    )
    fewer, more = (gap * f // 1000 for f in fractions)

    def scored(quantity):
        lines = list(offer.lines)
        lines[index] = replace(lines[index], quantity=quantity)
        return score_offer(replace(offer, lines=tuple(lines)), need, policy, today=today)

    # More units can make a line eligible (the minimum order), which may change which line
    # the offer is scored by; so across lines the offer's standing never falls, and a
    # single line's total never falls.
    assert standing(scored(more)) >= standing(scored(fewer))
    if len(offer.lines) == 1:
        assert scored(more).total >= scored(fewer).total


@settings(deadline=None)
@given(offer=offer_facts, need=needs, policy=scoring_policies, today=days, index=st.integers(0, 3))
def test_property_a_valid_certificate_never_lowers_the_score(offer, need, policy, today, index):
    index %= len(offer.lines)
    before = score_offer(offer, need, policy, today=today)

    for certificate in ("CE 2797", offer.lines[index].certificate + " CE 2797"):
        lines = list(offer.lines)
        lines[index] = replace(lines[index], certificate=certificate)
        after = score_offer(replace(offer, lines=tuple(lines)), need, policy, today=today)
        assert after.total >= before.total
        assert after.eligible is before.eligible
        assert not any(f.code == "no_notified_body" and f.line == index for f in after.flags)


@settings(deadline=None)
@given(
    offer=offer_facts,
    need=needs,
    policy=scoring_policies,
    today=days,
    index=st.integers(0, 3),
    shorter=st.integers(0, 400),
)
def test_property_a_shorter_lead_time_never_lowers_the_score(
    offer, need, policy, today, index, shorter
):
    index %= len(offer.lines)
    longer = offer.lines[index].lead_time_days
    lines = list(offer.lines)
    lines[index] = replace(lines[index], lead_time_days=min(shorter, longer))

    sooner = score_offer(replace(offer, lines=tuple(lines)), need, policy, today=today)
    later = score_offer(offer, need, policy, today=today)

    assert sooner.total >= later.total


@settings(deadline=None)
@given(offer=offer_facts, need=needs, policy=scoring_policies, today=days)
def test_property_the_same_inputs_give_an_equal_result(offer, need, policy, today):
    first = score_offer(offer, need, policy, today=today)
    second = score_offer(offer, dict(need), policy, today=today)

    assert first == second
    assert result_to_dict(first) == result_to_dict(second)


@settings(deadline=None)
@given(offer=offer_facts, need=needs, policy=scoring_policies, today=days)
def test_property_a_json_snapshot_replays_to_an_equal_result(offer, need, policy, today):
    snapshot = json.loads(
        json.dumps(
            {
                "offer": offer_facts_to_dict(offer),
                "need": need_table_to_dict(need),
                "policy": policy_to_dict(policy),
            }
        )
    )

    offer_back = offer_facts_from_dict(snapshot["offer"])
    need_back = need_table_from_dict(snapshot["need"])
    policy_back = policy_from_dict(snapshot["policy"])

    assert offer_back == offer
    assert need_back == dict(need)
    assert policy_back == policy
    # Exact, not merely equal: Decimal("1.8500") stays Decimal("1.8500").
    assert repr(offer_back) == repr(offer)
    assert repr(need_back) == repr(dict(need))
    assert repr(policy_back) == repr(policy)
    assert score_offer(offer_back, need_back, policy_back, today=today) == score_offer(
        offer, need, policy, today=today
    )


@given(
    weights=st.dictionaries(
        st.sampled_from([*COMPONENTS, "introducer"]), st.integers(-20, 120), max_size=7
    )
)
def test_property_weights_must_name_every_component_and_add_up_to_100(weights):
    valid = (
        set(weights) == set(COMPONENTS)
        and all(w >= 0 for w in weights.values())
        and (sum(weights.values()) == 100)
    )
    if valid:
        assert dict(ScoringPolicy(version="v", weights=weights).weights) == weights
    else:
        with pytest.raises(ValueError):
            ScoringPolicy(version="v", weights=weights)
