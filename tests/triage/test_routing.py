from decimal import Decimal

import pytest

from triage.routing import RoutingFacts, RoutingRules, route

RULES = RoutingRules(version=1, rapid_threshold=70, vip_value_threshold_gbp=Decimal("250000"))


def facts(**changes):
    base = {
        "score": 50,
        "eligible": True,
        "ineligible_reasons": (),
        "offer_value_gbp": Decimal("1000000"),
        "introduced": False,
        "vip_introduced": False,
        "mp_enquiry_about_existing_offer": False,
    }
    base.update(changes)
    return RoutingFacts(**base)


@pytest.mark.parametrize(
    ("changes", "queue", "outcome", "rule"),
    [
        ({"mp_enquiry_about_existing_offer": True, "score": 95}, "mp_inbox", "", "mp_enquiry"),
        (
            {"eligible": False, "score": 90, "vip_introduced": True, "introduced": True},
            "closed",
            "not_progressed",
            "ineligible",
        ),
        ({"score": 70}, "rapid_response", "", "rapid"),
        ({"score": 70, "vip_introduced": True, "introduced": True}, "rapid_response", "", "rapid"),
        ({"score": 69, "vip_introduced": True, "introduced": True}, "vip", "", "vip"),
        (
            {
                "score": 69,
                "vip_introduced": True,
                "introduced": True,
                "offer_value_gbp": Decimal("249999.99"),
            },
            "mp_inbox",
            "",
            "introduced",
        ),
        ({"score": 10, "introduced": True}, "mp_inbox", "", "introduced"),
        ({"score": 69}, "closed", "referred_to_standard_route", "standard_route"),
    ],
)
def test_it_applies_the_rules_in_order(changes, queue, outcome, rule):
    decision = route(facts(**changes), RULES)
    assert (decision.queue, decision.outcome, decision.rule) == (queue, outcome, rule)
    assert decision.sentence


def test_an_ineligible_offer_gets_its_reasons_and_a_reply_to_send():
    decision = route(facts(eligible=False, ineligible_reasons=("No evidence of EN 455.",)), RULES)
    assert "No evidence of EN 455." in decision.sentence
    assert "No evidence of EN 455." in decision.reply
    assert decision.reply.startswith("Thank you for your offer")


def test_a_high_score_goes_to_rapid_response_whoever_introduced_it():
    queues = {
        route(facts(score=88, introduced=i, vip_introduced=v), RULES).queue
        for i, v in [(False, False), (True, False), (True, True)]
    }
    assert queues == {"rapid_response"}
