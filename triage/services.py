"""Triage in the application: score cases with triage/scoring.py, store each result with a
snapshot of its inputs, and route scored cases with triage/routing.py.

Guarantees:
- scoring and routing work in batches: each batch locks its case rows, writes its
  assessments, case updates and events in one transaction, and is idempotent (a case
  whose inputs did not change is not re-scored; a case that left triage is not re-routed),
  so a task delivered twice or a batch retried after a killed worker changes nothing;
- introducers are never read by scoring; routing reads them only for the VIP/MP-inbox
  rules that come after every rule about need (see triage/routing.py);
- routing is enqueued only after the scoring transaction commits.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Prefetch
from django.utils import timezone

from offers.models import OfferLine
from offers.money import price_in_gbp
from triage import scoring
from triage.models import ClinicalNeed, TriageAssessment
from vipcases.bulk import insert_all, update_in_groups
from vipcases.codes import GBP_RATES, EventKind, Status
from vipcases.events import event_append, events_append
from vipcases.models import Case, CaseEvent

BATCH_SIZE = 500
SCORING_POLICY = scoring.DEFAULT_POLICY


class TriageError(Exception):
    """A triage rule stopped the change; the message is for the user."""


# --- reading the inputs ------------------------------------------------------------


def clinical_need_table() -> dict[str, scoring.CategoryNeed]:
    """The clinical-need table as the scoring function takes it (one query)."""
    return {
        row.category: scoring.CategoryNeed(
            category=row.category,
            criticality=row.criticality,
            unmet_demand=row.unmet_demand,
            required_standards=tuple(row.required_standards),
            benchmark_price_gbp=row.benchmark_price_gbp,
        )
        for row in ClinicalNeed.objects.all()
    }


def line_facts(line: OfferLine) -> scoring.LineFacts:
    return scoring.LineFacts(
        category=line.category,
        quantity=line.quantity,
        unit_price_gbp=price_in_gbp(line.unit_price, line.currency),
        standards=tuple(line.standards),
        certificate=line.certificate,
        strap_type=line.strap_type or None,
        sterile=line.sterile,
        sterilisation_validation=line.sterilisation_validation or None,
        stock_location=line.stock_location,
        lead_time_days=line.lead_time_days,
    )


def offer_facts(offer, lines: Iterable[OfferLine]) -> scoring.OfferFacts:
    """The facts scoring may see. Built from the offer's lines and supplier only:
    this function is given no introduction and no channel."""
    supplier = offer.supplier
    return scoring.OfferFacts(
        lines=tuple(line_facts(line) for line in lines),
        supplier=scoring.SupplierFacts(
            incorporated_on=supplier.incorporated_on,
            ppe_trading_history=supplier.ppe_trading_history,
            due_diligence_status=supplier.due_diligence_status,
        ),
    )


def _cases_with_inputs(case_ids: list[int]):
    return (
        Case.objects.select_for_update(of=("self",))
        .filter(pk__in=case_ids)
        .select_related("offer__supplier")
        .prefetch_related(
            Prefetch("offer__lines", queryset=OfferLine.objects.order_by("pk")),
        )
        .order_by("pk")
    )


def _snapshot(facts: scoring.OfferFacts, need: dict, today: date) -> dict:
    """Every input the score depends on. Scoring reads only the need rows of the categories
    offered, so only those are kept: replaying with them gives the same result."""
    offered = {line.category for line in facts.lines}
    return {
        "offer": scoring.offer_facts_to_dict(facts),
        "need": scoring.need_table_to_dict({c: row for c, row in need.items() if c in offered}),
        "policy": scoring.policy_to_dict(SCORING_POLICY),
        "gbp_rates": GBP_RATES,
        "today": today.isoformat(),
    }


def _same_inputs(old: dict, new: dict) -> bool:
    """Equal apart from the day: a retry tomorrow of an unchanged case changes nothing."""
    return {k: v for k, v in old.items() if k != "today"} == {
        k: v for k, v in new.items() if k != "today"
    }


def assessment_replay(assessment: TriageAssessment) -> scoring.TriageResult:
    """Score again from the stored snapshot: the same inputs give the same result."""
    inputs = assessment.inputs
    return scoring.score_offer(
        scoring.offer_facts_from_dict(inputs["offer"]),
        scoring.need_table_from_dict(inputs["need"]),
        scoring.policy_from_dict(inputs["policy"]),
        today=date.fromisoformat(inputs["today"]),
    )


# --- scoring ---------------------------------------------------------------------------


@dataclass
class BatchOutcome:
    changed: list[int]
    unchanged: list[int]


def cases_score(
    case_ids: list[int], *, reason: str = "", only_unscored: bool = False
) -> BatchOutcome:
    """Score the given cases on clinical need, in batches. Audited (a `scored` event per
    changed case); idempotent; an active override stays the case's priority."""
    outcome = BatchOutcome([], [])
    for start in range(0, len(case_ids), BATCH_SIZE):
        batch = _score_batch(case_ids[start : start + BATCH_SIZE], reason, only_unscored)
        outcome.changed += batch.changed
        outcome.unchanged += batch.unchanged
    return outcome


@transaction.atomic
def _score_batch(case_ids: list[int], reason: str, only_unscored: bool) -> BatchOutcome:
    now = timezone.now()
    today = timezone.localdate(now)
    need = clinical_need_table()
    cases = list(_cases_with_inputs(case_ids))
    latest: dict[int, TriageAssessment] = {}
    overrides: dict[int, TriageAssessment] = {}
    for row in TriageAssessment.objects.filter(case_id__in=[c.pk for c in cases]).order_by(
        "created_at", "id"
    ):
        (overrides if row.is_override else latest)[row.case_id] = row
    new_assessments, changed_cases, events = [], [], []
    outcome = BatchOutcome([], [])
    for case in cases:
        previous = latest.get(case.pk)
        if only_unscored and previous is not None:
            outcome.unchanged.append(case.pk)
            continue
        lines = list(case.offer.lines.all())
        facts = offer_facts(case.offer, lines)
        inputs = _snapshot(facts, need, today)
        if previous is not None and _same_inputs(previous.inputs, inputs):
            outcome.unchanged.append(case.pk)
            continue
        result = scoring.score_offer(facts, need, SCORING_POLICY, today=today)
        assessment = TriageAssessment(
            case=case,
            total=result.total,
            automatic_total=result.total,
            components=[_as_dict(c) for c in result.components],
            flags=[_as_dict(f) for f in result.flags],
            eligible=result.eligible,
            ineligible_reasons=list(result.ineligible_reasons),
            policy_version=result.policy_version,
            inputs=inputs,
            created_at=now,
        )
        new_assessments.append(assessment)
        override = overrides.get(case.pk)
        case.priority = override.total if override else result.total
        case.eligible = result.eligible
        changed_cases.append(case)
        sentence = f"Scored {result.total} out of 100 on clinical need ({result.policy_version})."
        if override:
            sentence += f" The override of {override.total} remains in force."
        if reason:
            sentence += f" {reason}"
        events.append(
            CaseEvent(
                case=case,
                kind=EventKind.SCORED,
                from_value=str(previous.total) if previous else "",
                to_value=str(result.total),
                rationale=sentence,
                data={"flags": [f.code for f in result.flags], "eligible": result.eligible},
                created_at=now,
            )
        )
        outcome.changed.append(case.pk)
    # COPY on PostgreSQL: bulk_create's UNNEST insert sends the JSON columns as text
    # arrays, which psycopg escapes quote by quote in Python (4 in 10 of scoring's time).
    insert_all(TriageAssessment, new_assessments)
    update_in_groups(
        Case,
        ((c.pk, {"priority": c.priority, "eligible": c.eligible}) for c in changed_cases),
        version=F("version") + 1,
        updated_at=now,
    )
    for event, assessment in zip(events, new_assessments, strict=True):
        event.data["assessment_id"] = assessment.pk
    events_append(events)
    return outcome


def _as_dict(item) -> dict:
    return {name: getattr(item, name) for name in item.__dataclass_fields__}


@transaction.atomic
def score_override(
    *, case_id: int, total: int, rationale: str, acting_user, expected_version: int | None = None
) -> TriageAssessment:
    """A manager sets the score by hand. The rationale is required; the automatic score
    is kept beside the override and both appear on the timeline. A stale
    `expected_version` (someone changed the case meanwhile) is refused."""
    from vipcases import access

    if not access.is_manager(acting_user):
        raise TriageError("Only managers can override a score.")
    rationale = (rationale or "").strip()
    if not rationale:
        raise TriageError("Give a rationale for overriding the score.")
    if not 0 <= int(total) <= 100:
        raise TriageError("The score must be a whole number from 0 to 100.")
    case = Case.objects.select_for_update().get(pk=case_id)
    if expected_version is not None and case.version != expected_version:
        raise TriageError(
            "Someone else changed this case while you were looking at it. "
            "Nothing was saved: review the latest version and try again."
        )
    if case.status == Status.CLOSED:
        raise TriageError("A closed case cannot be re-scored.")
    automatic = case.assessments.filter(is_override=False).first()
    if automatic is None:
        raise TriageError("The case has not been scored yet.")
    now = timezone.now()
    override = TriageAssessment.objects.create(
        case=case,
        total=total,
        automatic_total=automatic.automatic_total,
        is_override=True,
        rationale=rationale,
        components=automatic.components,
        flags=automatic.flags,
        eligible=automatic.eligible,
        ineligible_reasons=automatic.ineligible_reasons,
        policy_version=automatic.policy_version,
        inputs=automatic.inputs,
        created_by=acting_user,
        created_at=now,
    )
    previous = case.priority
    case.priority = total
    case.version += 1
    case.save(update_fields=["priority", "version", "updated_at"])
    event_append(
        CaseEvent(
            case=case,
            kind=EventKind.SCORE_OVERRIDDEN,
            actor=acting_user,
            from_value=str(previous),
            to_value=str(total),
            rationale=rationale,
            data={"automatic_total": automatic.automatic_total, "assessment_id": override.pk},
            created_at=now,
        )
    )
    return override


def cases_triage(case_ids: list[int]) -> None:
    """Score, then route, the given cases in process (seed data, bulk loads, tests)."""
    from triage.routing_services import cases_route

    cases_score(list(case_ids), only_unscored=True)
    cases_route(list(case_ids))


# --- the clinical-need table ------------------------------------------------------------


def _need_row_dict(row: ClinicalNeed) -> dict:
    return {
        "criticality": row.criticality,
        "unmet_demand": row.unmet_demand,
        "required_standards": list(row.required_standards),
        "benchmark_price_gbp": None
        if row.benchmark_price_gbp is None
        else str(row.benchmark_price_gbp),
    }


@transaction.atomic
def clinical_need_update(
    *,
    category: str,
    acting_user,
    criticality: str,
    unmet_demand: int,
    required_standards: list[str],
    benchmark_price_gbp: Decimal | None,
    rationale: str,
):
    """A manager changes one category's clinical need. Audited (a ClinicalNeedChange with
    before, after and rationale); re-scores the open cases holding that category in the
    background, in batches, and returns the change (its rescore_job shows progress)."""
    from triage.jobs import rescore_queryset
    from triage.models import ClinicalNeedChange
    from vipcases import access
    from vipcases.jobs import job_create
    from vipcases.models import BackgroundJob

    if not access.is_manager(acting_user):
        raise TriageError("Only managers can change the clinical-need table.")
    rationale = (rationale or "").strip()
    if not rationale:
        raise TriageError("Give a rationale for changing the clinical need.")
    row = ClinicalNeed.objects.select_for_update().get(category=category)
    before = _need_row_dict(row)
    row.criticality = criticality
    row.unmet_demand = unmet_demand
    row.required_standards = [s.strip() for s in required_standards if s.strip()]
    row.benchmark_price_gbp = benchmark_price_gbp
    row.updated_by = acting_user
    row.full_clean()
    after = _need_row_dict(row)
    if after == before:
        raise TriageError("Nothing changed.")
    row.save()
    label = row.get_category_display()
    job = job_create(
        kind=BackgroundJob.Kind.RESCORE,
        description=f"Re-score open cases offering {label.lower()}",
        params={"categories": [category], "reason": f"Clinical need for {label.lower()} changed."},
        total=rescore_queryset([category]).count(),
        acting_user=acting_user,
    )
    return ClinicalNeedChange.objects.create(
        category=category,
        before=before,
        after=after,
        rationale=rationale,
        changed_by=acting_user,
        rescore_job=job,
    )
