"""Prices in GBP: offers quote many currencies; benchmarks and thresholds are in GBP."""

from decimal import Decimal

from vipcases.codes import GBP_RATES

PENNY = Decimal("0.01")
PRICE_PLACES = Decimal("0.0001")


def price_in_gbp(price: Decimal | None, currency: str) -> Decimal | None:
    """A unit price converted at the recorded rate; None when no price was given."""
    if price is None:
        return None
    return (price * Decimal(GBP_RATES[currency])).quantize(PRICE_PLACES)


def offer_value_gbp(lines) -> Decimal:
    """Quantity × unit price in GBP over the lines that carry a price."""
    total = Decimal(0)
    for line in lines:
        price = price_in_gbp(line.unit_price, line.currency)
        if price is not None:
            total += price * line.quantity
    return total.quantize(PENNY)
