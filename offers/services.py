"""Writes for offers: the only way an offer, its lines and introductions come to exist.

`offer_create` is atomic (nothing half-saved), validates every row with the model's
own validators, opens the case, records possible duplicates, and enqueues triage
only after the transaction commits.
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from offers.models import Introducer, Introduction, Offer, OfferLine, Supplier
from offers.money import offer_value_gbp
from triage.tasks import case_score_task
from vipcases.codes import GBP_RATES, EventKind, Status
from vipcases.queueing import enqueue_on_commit
from vipcases.services import case_event_record, case_open


@dataclass
class LineInput:
    category: str
    description: str
    quantity: int
    stock_location: str
    lead_time_days: int
    unit_price: Decimal | None = None
    currency: str = "GBP"
    standards: list[str] = field(default_factory=list)
    certificate: str = ""
    strap_type: str = ""
    sterile: bool = False
    sterilisation_validation: str = ""


@dataclass
class IntroductionInput:
    name: str
    role: str
    office: str = ""
    relationship: str = ""
    conflict_of_interest_notes: str = ""
    introduced_at: datetime | None = None
    introducer: Introducer | None = None  # an existing introducer, if known


def _clean(instance, exclude: list[str]) -> None:
    try:
        instance.full_clean(exclude=exclude, validate_unique=False)
    except ValidationError as exc:
        raise ValidationError({f"{type(instance).__name__.lower()}": exc.messages}) from exc


@transaction.atomic
def supplier_create(*, acting_user, **fields) -> Supplier:
    supplier = Supplier(**fields)
    supplier.full_clean()
    supplier.save()
    return supplier


def introducer_find_or_create(*, name: str, role: str, office: str = "") -> Introducer:
    """The same person in the same role and office is one introducer, not many."""
    introducer = Introducer.objects.filter(name=name, role=role, office=office).first()
    if introducer is None:
        introducer = Introducer(name=name, role=role, office=office)
        introducer.full_clean()
        introducer.save()
    return introducer


@transaction.atomic
def offer_create(
    *,
    acting_user,
    supplier: Supplier,
    channel: str,
    received_at: datetime,
    lines: list[LineInput],
    introductions: list[IntroductionInput] = (),
    external_ref: str | None = None,
    summary: str = "",
):
    """Create an offer with its lines and introductions and open its case.

    Raises ValidationError (and saves nothing) if any part is invalid. Returns the Case.
    """
    if not lines:
        raise ValidationError({"lines": ["An offer needs at least one line."]})
    offer = Offer(
        supplier=supplier,
        channel=channel,
        received_at=received_at,
        external_ref=external_ref or None,
        summary=summary,
        created_by=acting_user,
    )
    offer.full_clean(exclude=["supplier", "created_by"])
    offer.save()
    line_rows = []
    for line in lines:
        if line.currency not in GBP_RATES:
            raise ValidationError({"currency": [f"Unknown currency {line.currency!r}."]})
        row = OfferLine(offer=offer, **line.__dict__)
        _clean(row, exclude=["offer"])
        line_rows.append(row)
    OfferLine.objects.bulk_create(line_rows)
    offer.value_gbp = offer_value_gbp(line_rows)
    offer.save(update_fields=["value_gbp"])
    for intro in introductions:
        introducer = intro.introducer or introducer_find_or_create(
            name=intro.name, role=intro.role, office=intro.office
        )
        row = Introduction(
            offer=offer,
            introducer=introducer,
            introduced_at=intro.introduced_at or received_at,
            relationship=intro.relationship,
            conflict_of_interest_notes=intro.conflict_of_interest_notes,
            recorded_by=acting_user,
        )
        _clean(row, exclude=["offer", "introducer", "recorded_by"])
        row.save()
    case = case_open(offer=offer, acting_user=acting_user)
    duplicates = possible_duplicate_case_ids(
        supplier_id=supplier.pk,
        categories={line.category for line in lines},
        exclude_case_id=case.pk,
    )
    if duplicates:
        case_event_record(
            case=case,
            kind=EventKind.DUPLICATE_LINKED,
            actor=acting_user,
            rationale="The same supplier already has an open case for the same product category.",
            data={"possible_duplicates": duplicates},
        )
    enqueue_on_commit(case_score_task, case.pk)
    return case


def possible_duplicate_case_ids(
    *, supplier_id: int, categories: set[str], exclude_case_id=None
) -> list[int]:
    from vipcases.models import Case

    qs = Case.objects.filter(
        offer__supplier_id=supplier_id, offer__lines__category__in=categories
    ).exclude(status=Status.CLOSED)
    if exclude_case_id:
        qs = qs.exclude(pk=exclude_case_id)
    return sorted(set(qs.values_list("pk", flat=True)))
