"""Build offers and cases the way the application does: through offer_create."""

import itertools
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.test import TestCase
from django.utils import timezone

from offers.models import Supplier
from offers.services import IntroductionInput, LineInput, offer_create

_counter = itertools.count(1)


def supplier(**fields) -> Supplier:
    n = next(_counter)
    defaults = {
        "name": f"Testwell Protective {n} Ltd",
        "company_number": f"{10000000 + n}",
        "country": "GB",
        "incorporated_on": date(2009, 6, 1),
        "ppe_trading_history": True,
        "due_diligence_status": "passed",
    }
    defaults.update(fields)
    return Supplier.objects.create(**defaults)


def line(**fields) -> LineInput:
    defaults = {
        "category": "ffp3_respirator",
        "description": "FFP3 respirator, head straps",
        "quantity": 2_000_000,
        "unit_price": Decimal("1.85"),
        "currency": "GBP",
        "standards": ["EN 149:2001+A1:2009 FFP3"],
        "certificate": "CE 2797",
        "strap_type": "head",
        "stock_location": "uk",
        "lead_time_days": 5,
    }
    defaults.update(fields)
    return LineInput(**defaults)


def introduction(**fields) -> IntroductionInput:
    defaults = {
        "name": "Alex Example",
        "role": "mp",
        "office": "Member for Westford",
        "relationship": "constituent",
    }
    defaults.update(fields)
    return IntroductionInput(**defaults)


def case(
    *,
    acting_user=None,
    lines=None,
    introductions=(),
    channel="referral",
    received_at: datetime | None = None,
    external_ref=None,
    **supplier_fields,
):
    """An offer with its case, scored and routed in process as soon as it is committed
    (the test's transaction never commits, so its on-commit tasks are run here)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        created = offer_create(
            acting_user=acting_user,
            supplier=supplier(**supplier_fields),
            channel=channel,
            received_at=received_at or timezone.now() - timedelta(days=1),
            lines=lines or [line()],
            introductions=list(introductions),
            external_ref=external_ref,
        )
    created.refresh_from_db()
    return created
