"""How fast the pure scoring core is: score 100,000 synthetic offers on one core.

The offers (1 to 4 lines each, from a fixed seed) are built before the clock starts, so
only `score_offer` is timed. Target: at least 50,000 offer lines a second.

    .venv/bin/python benchmarks/triage_bench.py [--offers N] [--seed S] [--repeat R]
"""

import argparse
import random
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._setup import add_json_argument, write_json  # noqa: E402
from triage.scoring import (  # noqa: E402 (after the sys.path line above)
    CATEGORIES,
    DEFAULT_NEED,
    DEFAULT_POLICY,
    DUE_DILIGENCE,
    STOCK_LOCATIONS,
    LineFacts,
    OfferFacts,
    SupplierFacts,
    score_offer,
)

TARGET_LINES_PER_SECOND = 50_000
TODAY = date(2020, 4, 27)

CLAIMS = {
    "ffp3_respirator": ["EN 149:2001+A1:2009 FFP3", "EN149 FFP3 NR D", "EN 149 FFP2", "KN95"],
    "ffp2_respirator": ["EN 149:2001+A1:2009 FFP2", "EN 149 FFP3", "N95 NIOSH"],
    "iir_mask": ["EN 14683:2019 Type IIR", "EN14683 TYPE II", "BS EN 14683 IIR"],
    "gown": ["EN 13795-1:2019", "EN 14126", "AAMI level 2"],
    "gloves": ["EN 455-1,2,3", "EN ISO 374-5", "EN 455"],
    "apron": ["EN 13034", ""],
    "eye_protection": ["EN 166:2001", "ANSI Z87.1"],
    "hand_sanitiser": ["EN 1500", "EN 14476", "70% alcohol"],
    "body_bag": ["", "ISO 16603"],
    "other": [""],
}
CERTIFICATES = ["CE 2797", "CE 0123", "CE", "ISO 9001:2015", "", "Notified body 2163"]
VALIDATIONS = [None, "ISO 11137-2 dose audit", "EN ISO 11135 ethylene oxide", "gamma"]


def synthetic_offers(count: int, seed: int) -> list[OfferFacts]:
    rng = random.Random(seed)
    offers = []
    for _ in range(count):
        lines = []
        for _ in range(rng.randint(1, 4)):
            category = rng.choice(CATEGORIES)
            sterile = rng.random() < 0.1
            lines.append(
                LineFacts(
                    category=category,
                    quantity=rng.choice([500, 10_000, 250_000, 2_000_000, 60_000_000]),
                    unit_price_gbp=(
                        None
                        if rng.random() < 0.05
                        else Decimal(rng.randint(1, 2_000)) / Decimal(100)
                    ),
                    standards=tuple(
                        claim
                        for claim in rng.sample(CLAIMS[category], min(2, len(CLAIMS[category])))
                        if claim and rng.random() < 0.8
                    ),
                    certificate=rng.choice(CERTIFICATES),
                    strap_type=rng.choice(["head", "ear_loop", None]),
                    sterile=sterile,
                    sterilisation_validation=rng.choice(VALIDATIONS) if sterile else None,
                    stock_location=rng.choice(STOCK_LOCATIONS),
                    lead_time_days=rng.randint(0, 90),
                )
            )
        supplier = SupplierFacts(
            incorporated_on=(
                None if rng.random() < 0.1 else TODAY - timedelta(days=rng.randint(10, 12_000))
            ),
            ppe_trading_history=rng.random() < 0.6,
            due_diligence_status=rng.choice(DUE_DILIGENCE),
        )
        offers.append(OfferFacts(lines=tuple(lines), supplier=supplier))
    return offers


def measure(count: int, seed: int, repeat: int) -> dict:
    """Score `count` synthetic offers `repeat` times; the best run's figures."""
    offers = synthetic_offers(count, seed)
    line_count = sum(len(offer.lines) for offer in offers)
    need, policy = dict(DEFAULT_NEED), DEFAULT_POLICY

    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for offer in offers:
            score_offer(offer, need, policy, today=TODAY)
        best = min(best, time.perf_counter() - started)
    return {
        "offers": len(offers),
        "lines": line_count,
        "repeat": repeat,
        "best_s": best,
        "offers_per_s": len(offers) / best,
        "lines_per_s": line_count / best,
        "target_lines_per_s": TARGET_LINES_PER_SECOND,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs; the best is reported")
    add_json_argument(parser)
    args = parser.parse_args()

    figures = measure(args.offers, args.seed, args.repeat)
    write_json(args.json, figures)
    lines_per_second = figures["lines_per_s"]
    print(
        f"offers: {figures['offers']:,}  lines: {figures['lines']:,}  "
        f"best of {args.repeat}: {figures['best_s']:.3f} s"
    )
    print(f"{figures['offers_per_s']:,.0f} offers/s  {lines_per_second:,.0f} lines/s")
    verdict = "meets" if lines_per_second >= TARGET_LINES_PER_SECOND else "MISSES"
    print(f"{verdict} the target of {TARGET_LINES_PER_SECOND:,} lines/s on one core")
    return 0 if lines_per_second >= TARGET_LINES_PER_SECOND else 1


if __name__ == "__main__":
    sys.exit(main())
