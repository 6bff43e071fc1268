"""Writes for offers: the only way an offer, its lines and introductions come to exist.

`offer_create` is atomic (nothing half-saved), validates every row with the model's
own validators, opens the case, records possible duplicates, and enqueues triage
only after the transaction commits.
"""

from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from offers.models import Introducer, Introduction, Offer, OfferLine, Supplier
from offers.money import offer_value_gbp
from triage.tasks import case_score_task, new_cases_batcher
from vipcases.codes import GBP_RATES, EventKind, Status, lead_introducer_role
from vipcases.locks import transaction_locks
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
    api_token=None,
):
    """Create an offer with its lines and introductions and open its case.

    Raises ValidationError (and saves nothing) if any part is invalid. Returns the Case.
    `api_token` is the intake API token that sent the offer, if any.
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
        api_token=api_token,
    )
    offer.full_clean(exclude=["supplier", "created_by", "api_token"])
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
    roles = []
    for intro in introductions:
        introducer = intro.introducer or introducer_find_or_create(
            name=intro.name, role=intro.role, office=intro.office
        )
        roles.append(introducer.role)
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
    case = case_open(
        offer=offer, acting_user=acting_user, lead_introducer_role=lead_introducer_role(roles)
    )
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
            rationale=DUPLICATE_RATIONALE,
            data=duplicate_link_data(duplicates),
        )
    enqueue_on_commit(case_score_task, case.pk)
    return case


@transaction.atomic
def referral_create(
    *,
    acting_user,
    channel: str,
    received_at: datetime,
    lines: list[LineInput],
    supplier: Supplier | None = None,
    new_supplier: dict | None = None,
    introductions: list[IntroductionInput] = (),
    summary: str = "",
):
    """A referral keyed in by a caseworker: an existing `supplier`, or the fields of a
    `new_supplier`, and the offer. Atomic across both: if any part is invalid it raises
    ValidationError and nothing is saved, so a bad line never leaves a new supplier
    behind. Returns the Case (triage is enqueued on commit by offer_create)."""
    if (supplier is None) == (new_supplier is None):
        raise ValueError("Give either an existing supplier or the fields of a new one.")
    if supplier is None:
        supplier = supplier_create(acting_user=acting_user, **new_supplier)
    return offer_create(
        acting_user=acting_user,
        supplier=supplier,
        channel=channel,
        received_at=received_at,
        lines=lines,
        introductions=introductions,
        summary=summary,
    )


# A `duplicate_linked` event names at most this many of the possible duplicates (the
# newest) and gives their number: a supplier with thousands of open cases in a category
# would otherwise make every new offer's event, and its hash, carry all their ids.
DUPLICATES_LISTED = 20
DUPLICATE_RATIONALE = "The same supplier already has an open case for the same product category."


def duplicate_link_data(case_ids) -> dict:
    """The data of a `duplicate_linked` event: the newest DUPLICATES_LISTED possible
    duplicates, ascending, and, when there are more, how many there are."""
    ids = sorted(case_ids)
    if len(ids) <= DUPLICATES_LISTED:
        return {"possible_duplicates": ids}
    return {"possible_duplicates": ids[-DUPLICATES_LISTED:], "possible_duplicates_count": len(ids)}


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


# --- intake in bulk: the JSON API and the spreadsheet import -------------------------------
# Both validate with offers/intake.py first; these services write what it accepted.


def case_for_external_ref(external_ref: str):
    """The case of the offer recorded under `external_ref`, or None."""
    from vipcases.models import Case

    # A plain look-up on the unique index first: most references are new.
    offer_id = next(
        iter(Offer.objects.filter(external_ref=external_ref).values_list("pk", flat=True)), None
    )
    if offer_id is None:
        return None
    return Case.objects.select_related("offer").get(offer_id=offer_id)


def intake_offer_record(*, acting_user, intake, api_token=None):
    """Write one validated offer (an intake.OfferIntake) in the caller's transaction,
    with the rows of the bulk import (intakes_write), no savepoints. Raises
    IntegrityError when `external_ref` is already recorded (the unique index decides,
    even against a request running at the same moment); the caller's transaction is
    then unusable and the caller looks the offer up afresh. Triage is enqueued on
    commit, with the other new cases of the next tenth of a second
    (triage.tasks.new_cases_batcher). Returns the Case.

    On PostgreSQL offers.intake_sql writes the same rows in two statements instead of
    intakes_write's ten: for one offer, compiling the ORM's queries cost more than
    running them."""
    from offers.intake_sql import intake_offer_insert, intake_sql_supported

    _intake_take_turns(intake)
    if intake_sql_supported(intake):
        case = intake_offer_insert(acting_user=acting_user, intake=intake, api_token=api_token)
    else:
        case = intakes_write(acting_user=acting_user, intakes=[intake], api_token=api_token)[0]
    new_cases_batcher.add(case.pk)
    return case


def _intake_take_turns(intake) -> None:
    """Make offers of the same supplier written at the same moment take turns, each
    waiting for the other's commit (a PostgreSQL advisory lock, held to the end of the
    transaction).

    Without it, two requests naming a supplier not yet on record each found none and
    created one (two suppliers for one company), and two offers of one supplier and
    category, each unable to see the other's uncommitted case, linked neither as a
    possible duplicate. Waiting on the lock, the second request's statements start after
    the first commits, so they find its supplier and its case.

    Introducers are not locked: one MP may introduce many offers at once, and taking
    turns on the introducer cost the API a third of its throughput (api_bench, whose
    offers all name one introducer: 486 against 306 a second). Two offers naming a new
    introducer at the same instant can still record it twice; nothing is decided by
    which introducer row an introduction points to (the fairness report goes by role)."""
    transaction_locks([f"offers.supplier:{supplier_key(intake.supplier)!r}"])


def intake_offer_create(*, acting_user, intake, api_token=None):
    """Record one validated offer (an intake.OfferIntake) from the API or an import.

    Atomic: the supplier (found or created) and the offer are saved together or not at
    all (case opened, duplicates linked, triage enqueued on commit). Idempotent on
    `external_ref`: an offer already recorded under the same reference, even by a
    request running at the same moment, is answered with its case and nothing is
    written. Returns (case, created)."""
    try:
        with transaction.atomic():
            case = intake_offer_record(acting_user=acting_user, intake=intake, api_token=api_token)
    except IntegrityError:
        existing = case_for_external_ref(intake.external_ref) if intake.external_ref else None
        if existing is None:
            raise
        return existing, False
    return case, True


@dataclass
class ImportOutcome:
    created_case_ids: list[int] = field(default_factory=list)
    skipped_refs: list[str] = field(default_factory=list)
    duplicates_linked: int = 0


def _first_by_key(rows, key) -> dict:
    found: dict = {}
    for row in rows:
        found.setdefault(key(row), row)
    return found


def supplier_key(supplier) -> tuple:
    """What makes two suppliers one: the Companies House number when there is one, else
    the name and country (how intake finds an existing supplier)."""
    if supplier.company_number:
        return ("number", supplier.company_number)
    return ("name", supplier.name, supplier.country)


def _suppliers_for(intakes) -> dict:
    """(company number or name + country) -> Supplier, creating the missing ones in bulk."""
    wanted = _first_by_key((i.supplier for i in intakes), supplier_key)
    numbers = [k[1] for k in wanted if k[0] == "number"]
    names = {k[1] for k in wanted if k[0] == "name"}
    found = {}
    if numbers:
        found = _first_by_key(
            Supplier.objects.filter(company_number__in=numbers).order_by("pk"),
            lambda s: ("number", s.company_number),
        )
    if names:
        found.update(
            (k, s)
            for k, s in _first_by_key(
                Supplier.objects.filter(name__in=names).order_by("pk"),
                lambda s: ("name", s.name, s.country),
            ).items()
            if k in wanted
        )
    missing = [k for k in wanted if k not in found]
    created = Supplier.objects.bulk_create([Supplier(**asdict(wanted[k])) for k in missing])
    found.update(zip(missing, created, strict=True))
    return {id(i): found[supplier_key(i.supplier)] for i in intakes}


def _introducers_for(intakes) -> dict:
    """(name, role, office) -> Introducer, creating the missing ones in bulk."""
    wanted = {(i.name, i.role, i.office) for intake in intakes for i in intake.introductions}
    if not wanted:
        return {}
    found = _first_by_key(
        Introducer.objects.filter(name__in={k[0] for k in wanted}).order_by("pk"),
        lambda r: (r.name, r.role, r.office),
    )
    missing = [k for k in wanted if k not in found]
    created = Introducer.objects.bulk_create(
        [Introducer(name=n, role=r, office=o) for n, r, o in missing]
    )
    found.update(zip(missing, created, strict=True))
    return found


@transaction.atomic
def offers_import_bulk(*, acting_user, intakes: list) -> ImportOutcome:
    """Record many validated offers (intake.OfferIntake, external_ref required) at once
    (intakes_write; on PostgreSQL the same rows with COPY, offers.intake_copy), skipping
    those already recorded.

    Atomic for the batch. Idempotent: an offer whose external_ref is already recorded
    is skipped, so a batch can be run again after a crash. It does not run triage: the
    caller scores and routes the new cases (triage.services.cases_triage) after its
    transaction commits, and the triage sweep finds any it misses."""
    outcome = ImportOutcome()
    recorded = set(
        Offer.objects.filter(external_ref__in=[i.external_ref for i in intakes]).values_list(
            "external_ref", flat=True
        )
    )
    fresh, seen = [], set()
    for intake in intakes:
        if not intake.external_ref:
            raise ValueError("offers_import_bulk needs an external_ref on every offer")
        if intake.external_ref in recorded or intake.external_ref in seen:
            outcome.skipped_refs.append(intake.external_ref)
        else:
            seen.add(intake.external_ref)
            fresh.append(intake)
    if not fresh:
        return outcome
    from offers.intake_copy import intakes_copy, intakes_copy_supported

    if intakes_copy_supported():
        # The same rows with COPY: at 100,000 rows, a fifth of the Python time.
        outcome.created_case_ids, outcome.duplicates_linked = intakes_copy(
            acting_user=acting_user, intakes=fresh
        )
        return outcome
    cases = intakes_write(acting_user=acting_user, intakes=fresh)
    outcome.created_case_ids = [case.pk for case in cases]
    outcome.duplicates_linked = sum(1 for case in cases if case.duplicates_linked)
    return outcome


def intakes_write(*, acting_user, intakes: list, api_token=None) -> list:
    """Write validated offers (intake.OfferIntake) in the caller's transaction: the
    same rows offer_create writes (suppliers found or created, offers, lines,
    introductions, cases in triage, `created` events, `duplicate_linked` events for
    open cases of the same supplier and category), with a fixed number of queries
    whatever the number of offers. Returns the new cases, in order; each carries
    `duplicates_linked` (True when a duplicate_linked event was written)."""
    from vipcases.events import events_append
    from vipcases.models import Case

    now = timezone.now()
    suppliers = _suppliers_for(intakes)
    introducers = _introducers_for(intakes)
    offers = Offer.objects.bulk_create(
        [
            intake_offer_row(
                intake, supplier=suppliers[id(intake)], acting_user=acting_user, api_token=api_token
            )
            for intake in intakes
        ]
    )
    OfferLine.objects.bulk_create(
        [
            line
            for offer, intake in zip(offers, intakes, strict=True)
            for line in intake_line_rows(intake, offer=offer)
        ]
    )
    Introduction.objects.bulk_create(
        [
            intake_introduction_row(
                intake,
                introduction,
                offer=offer,
                introducer=introducers[(introduction.name, introduction.role, introduction.office)],
                acting_user=acting_user,
            )
            for offer, intake in zip(offers, intakes, strict=True)
            for introduction in intake.introductions
        ]
    )
    cases = Case.objects.bulk_create(
        [
            intake_case_row(intake, offer=offer)
            for offer, intake in zip(offers, intakes, strict=True)
        ]
    )
    # Possible duplicates, as offer_create links them one offer at a time: open cases of
    # the same supplier with a line in the same category, opened before this one.
    open_by_key: dict[tuple, set[int]] = {}
    for case_id, supplier_id, category in (
        Case.objects.exclude(status=Status.CLOSED)
        .filter(offer__supplier_id__in={s.pk for s in suppliers.values()})
        .values_list("pk", "offer__supplier_id", "offer__lines__category")
    ):
        open_by_key.setdefault((supplier_id, category), set()).add(case_id)
    created, linked = [], []
    for case, offer, intake in zip(cases, offers, intakes, strict=True):
        case.offer = offer
        earlier = {
            other
            for line in intake.lines
            for other in open_by_key.get((offer.supplier_id, line.category), ())
            if other < case.pk
        }
        events = intake_case_events(case, earlier, acting_user=acting_user, now=now)
        created.append(events[0])
        linked += events[1:]
    # The cases were created above, in this transaction: no earlier events to chain to.
    events_append(created + linked, new_cases=True)
    return cases


# The rows of one validated offer, shared by intakes_write and offers.intake_sql (the
# API's single-offer write) so that the two write the same values.


def intake_offer_row(intake, *, supplier, acting_user, api_token) -> Offer:
    return Offer(
        supplier=supplier,
        channel=intake.channel,
        received_at=intake.received_at,
        external_ref=intake.external_ref,
        summary=intake.summary,
        value_gbp=offer_value_gbp(intake.lines),
        created_by=acting_user,
        api_token=api_token,
    )


def intake_line_rows(intake, *, offer) -> list[OfferLine]:
    return [OfferLine(offer=offer, **vars(line)) for line in intake.lines]


def intake_introduction_row(intake, introduction, *, offer, introducer, acting_user):
    return Introduction(
        offer=offer,
        introducer=introducer,
        introduced_at=introduction.introduced_at or intake.received_at,
        relationship=introduction.relationship,
        conflict_of_interest_notes=introduction.conflict_of_interest_notes,
        recorded_by=acting_user,
    )


def intake_case_row(intake, *, offer):
    from vipcases.models import Case

    return Case(
        offer=offer,
        opened_at=offer.received_at,
        lead_introducer_role=lead_introducer_role(i.role for i in intake.introductions),
    )


def intake_case_events(case, earlier: set[int], *, acting_user, now) -> list:
    """The events of a case just opened from an intake (case.offer set): `created`, and
    `duplicate_linked` when `earlier` (open cases of the same supplier and category)
    is not empty. Sets case.duplicates_linked. Not saved: events_append chains them."""
    from vipcases.codes import Queue
    from vipcases.models import CaseEvent

    events = [
        CaseEvent(
            case=case,
            kind=EventKind.CREATED,
            actor=acting_user,
            to_value=Queue.TRIAGE,
            rationale=f"Offer received by {case.offer.get_channel_display().lower()}.",
            created_at=now,
        )
    ]
    case.duplicates_linked = bool(earlier)
    if earlier:
        events.append(
            CaseEvent(
                case=case,
                kind=EventKind.DUPLICATE_LINKED,
                actor=acting_user,
                rationale=DUPLICATE_RATIONALE,
                data=duplicate_link_data(earlier),
                created_at=now,
            )
        )
    return events


# --- the browser import: upload, report, confirm -------------------------------------------


class ImportRefused(Exception):
    """The import cannot go ahead; the message is for the user."""


def _refs_recorded(refs: list[str]) -> int:
    count = 0
    for start in range(0, len(refs), 5000):
        count += Offer.objects.filter(external_ref__in=refs[start : start + 5000]).count()
    return count


@transaction.atomic
def import_upload_record(*, acting_user, filename: str, content: bytes, parsed):
    """Keep a manager's uploaded spreadsheet with its validation report (parsed is an
    importing.ParsedImport). The file itself is kept only when every row is valid, for
    the worker to import once the manager confirms. Managers only."""
    import hashlib

    from offers.models import ImportUpload
    from vipcases import access

    if not access.is_manager(acting_user):
        raise ImportRefused("Only managers can import offers.")
    return ImportUpload.objects.create(
        filename=filename[:255],
        content=content if parsed.is_valid else b"",
        sha256=hashlib.sha256(content).hexdigest(),
        rows=parsed.rows,
        offers=len(parsed.offers),
        already_imported=_refs_recorded([o.external_ref for o in parsed.offers]),
        errors=[list(error) for error in parsed.errors],
        uploaded_by=acting_user,
    )


@transaction.atomic
def import_upload_confirm(*, upload_id: int, acting_user):
    """Start importing a valid upload in the background (a BackgroundJob of kind
    `import`, run by a worker after commit, progress on the job page). Confirming twice
    starts one job. Managers only."""
    from offers.models import ImportUpload
    from vipcases import access
    from vipcases.jobs import job_create
    from vipcases.models import BackgroundJob

    if not access.is_manager(acting_user):
        raise ImportRefused("Only managers can import offers.")
    upload = ImportUpload.objects.select_for_update().get(pk=upload_id)
    if not upload.is_valid:
        raise ImportRefused("The file has errors: correct them and upload it again.")
    if upload.job_id is not None:
        return upload.job
    upload.job = job_create(
        kind=BackgroundJob.Kind.IMPORT,
        description=f"Import offers from {upload.filename}",
        params={"upload_id": upload.pk, "cursor": 0},
        total=upload.offers,
        acting_user=acting_user,
    )
    upload.save(update_fields=["job"])
    return upload.job
