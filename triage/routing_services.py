"""Routing in the application: apply triage/routing.py to cases, version the routing
policy, preview a new version against the cases in train, and apply it.

Guarantees:
- routing a case is idempotent: only a scored case still new in the triage queue is
  routed, under a row lock, so a redelivered task or a second worker changes nothing
  and writes no second event;
- the facts routing needs (score, eligibility, offer value, who introduced it) are read
  with aggregate SQL, a fixed number of queries per batch;
- a transition moves cases in batches whose progress is committed with the moves, so a
  killed worker resumes without moving any case twice; each moved case gets one event
  and each affected owner one email per batch, sent after commit.
"""

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.core.mail import send_mass_mail
from django.db import transaction
from django.db.models import Count, Exists, F, Min, OuterRef, Q
from django.utils import timezone

from offers.models import Introduction, OfferLine
from triage import routing
from triage.models import RoutingPolicy
from triage.services import BatchOutcome, TriageError
from vipcases import access
from vipcases.bulk import update_in_groups
from vipcases.codes import VIP_INTRODUCER_ROLES, Channel, EventKind, Queue, Status
from vipcases.events import events_append
from vipcases.models import BackgroundJob, Case, CaseEvent
from vipcases.transactions import commit_asynchronously

BATCH_SIZE = 500
TRANSITION_BATCH_SIZE = 2000
# Queues whose open cases a policy transition reconsiders.
IN_TRAIN_QUEUES = (Queue.VIP, Queue.RAPID_RESPONSE, Queue.MP_INBOX)


def routing_policy_active() -> RoutingPolicy:
    policy = RoutingPolicy.objects.filter(is_active=True).first()
    if policy is None:
        raise TriageError("No routing policy is active.")
    return policy


def routing_rules(policy: RoutingPolicy) -> routing.RoutingRules:
    return routing.RoutingRules(
        version=policy.version,
        rapid_threshold=policy.rapid_threshold,
        vip_value_threshold_gbp=policy.vip_value_threshold_gbp,
    )


def with_routing_facts(qs):
    """Annotate cases with who introduced them (as two booleans) in SQL."""
    return qs.annotate(
        introduced=Exists(Introduction.objects.filter(offer_id=OuterRef("offer_id"))),
        vip_introduced=Exists(
            Introduction.objects.filter(
                offer_id=OuterRef("offer_id"), introducer__role__in=VIP_INTRODUCER_ROLES
            )
        ),
    )


def routing_facts_for(
    case: Case, reasons: tuple[str, ...], existing_offer: bool
) -> routing.RoutingFacts:
    return routing.RoutingFacts(
        score=case.priority,
        eligible=bool(case.eligible),
        ineligible_reasons=reasons,
        offer_value_gbp=case.offer.value_gbp,
        introduced=case.introduced,
        vip_introduced=case.vip_introduced,
        mp_enquiry_about_existing_offer=existing_offer,
    )


# --- routing new cases ------------------------------------------------------------------


def cases_route(case_ids: list[int]) -> BatchOutcome:
    """Route scored cases that are still new in the triage queue, in batches."""
    outcome = BatchOutcome([], [])
    for start in range(0, len(case_ids), BATCH_SIZE):
        batch = _route_batch(case_ids[start : start + BATCH_SIZE])
        outcome.changed += batch.changed
        outcome.unchanged += batch.unchanged
    return outcome


@transaction.atomic
def _route_batch(case_ids: list[int]) -> BatchOutcome:
    from triage.models import TriageAssessment

    commit_asynchronously()  # safe: a lost routing is redone by the sweep
    now = timezone.now()
    policy = routing_policy_active()
    rules = routing_rules(policy)
    # skip_locked: a case another worker is routing right now is that worker's to finish.
    locked = list(
        Case.objects.select_for_update(skip_locked=True)
        .filter(pk__in=case_ids, queue=Queue.TRIAGE, status=Status.NEW, eligible__isnull=False)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    cases = list(
        with_routing_facts(Case.objects.filter(pk__in=locked))
        .select_related("offer")
        .order_by("pk")
    )
    reasons = dict(
        TriageAssessment.objects.filter(case_id__in=locked, is_override=False, eligible=False)
        .order_by("case_id", "created_at", "id")
        .values_list("case_id", "ineligible_reasons")
    )
    existing = _mp_enquiries_about_existing_offers(
        [c for c in cases if c.offer.channel == Channel.MP_ENQUIRY]
    )
    events, updates = [], []
    for case in cases:
        decision = routing.route(
            routing_facts_for(case, tuple(reasons.get(case.pk, ())), case.pk in existing), rules
        )
        updates.append((case.pk, _decision_values(decision, policy, now)))
        events.append(
            CaseEvent(
                case=case,
                kind=EventKind.ROUTED,
                from_value=Queue.TRIAGE,
                to_value=decision.queue,
                rationale=decision.sentence,
                data={
                    "rule": decision.rule,
                    "policy_version": policy.version,
                    "outcome": decision.outcome,
                    "reply": decision.reply,
                },
                created_at=now,
            )
        )
    update_in_groups(Case, updates, version=F("version") + 1, updated_at=now)
    events_append(events)
    done = [c.pk for c in cases]
    return BatchOutcome(done, [pk for pk in case_ids if pk not in set(done)])


def cases_route_pending(*, include: int | None = None, limit: int = BATCH_SIZE) -> BatchOutcome:
    """Route `include` and any other scored cases waiting in triage, up to `limit` at once.

    Under load one task drains many waiting cases and the tasks behind it find nothing
    left to do, so throughput grows with the backlog while a lone case is still routed
    as soon as it is scored.
    """
    waiting = list(
        Case.objects.filter(queue=Queue.TRIAGE, status=Status.NEW, eligible__isnull=False)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    if include is not None and include not in waiting:
        waiting.append(include)
    return _route_batch(waiting)


def _decision_values(decision: routing.RoutingDecision, policy: RoutingPolicy, now) -> dict:
    """The case fields a routing decision sets."""
    if decision.queue == Queue.CLOSED:
        return {
            "queue": Queue.CLOSED,
            "status": Status.CLOSED,
            "outcome": decision.outcome,
            "closed_at": now,
            "sla_due_at": None,
            "routed_queue": Queue.CLOSED,
        }
    days = int(policy.sla_days.get(decision.queue, 10))
    return {
        "queue": decision.queue,
        "sla_due_at": now + timedelta(days=days),
        "routed_queue": decision.queue,
    }


def _mp_enquiries_about_existing_offers(cases: list[Case]) -> set[int]:
    """MP-enquiry cases whose supplier already had an earlier case (not itself an MP
    enquiry) for a category they offer. Two queries for the whole batch."""
    if not cases:
        return set()
    offered = {
        (row["offer_id"], row["category"])
        for row in OfferLine.objects.filter(offer_id__in=[c.offer_id for c in cases]).values(
            "offer_id", "category"
        )
    }
    earliest: dict[tuple[int, str], int] = {}
    for row in (
        Case.objects.filter(offer__supplier_id__in={c.offer.supplier_id for c in cases})
        .exclude(offer__channel=Channel.MP_ENQUIRY)
        .values("offer__supplier_id", "offer__lines__category")
        .annotate(first=Min("pk"))
    ):
        earliest[(row["offer__supplier_id"], row["offer__lines__category"])] = row["first"]
    found = set()
    for case in cases:
        for offer_id, category in offered:
            first = earliest.get((case.offer.supplier_id, category))
            if offer_id == case.offer_id and first is not None and first < case.pk:
                found.add(case.pk)
    return found


def cases_unrouted(older_than: timedelta, limit: int = 5000) -> list[int]:
    """New cases still in triage after `older_than`: their task was lost (broker down)."""
    cutoff = timezone.now() - older_than
    return list(
        Case.objects.filter(queue=Queue.TRIAGE, status=Status.NEW, updated_at__lte=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


# --- policy versions, preview and transition --------------------------------------------


@transaction.atomic
def routing_policy_create(
    *,
    acting_user,
    rapid_threshold: int,
    vip_value_threshold_gbp: Decimal,
    sla_days: dict,
    rationale: str,
) -> RoutingPolicy:
    """A manager drafts a new version of the routing policy (not active until applied)."""
    if not access.is_manager(acting_user):
        raise TriageError("Only managers can change the routing policy.")
    rationale = (rationale or "").strip()
    if not rationale:
        raise TriageError("Give a rationale for the new routing policy.")
    latest = RoutingPolicy.objects.select_for_update().order_by("-version").first()
    return RoutingPolicy.objects.create(
        version=(latest.version if latest else 0) + 1,
        rapid_threshold=rapid_threshold,
        vip_value_threshold_gbp=vip_value_threshold_gbp,
        sla_days=sla_days,
        rationale=rationale,
        created_by=acting_user,
    )


def transition_queryset():
    return Case.objects.filter(queue__in=IN_TRAIN_QUEUES).exclude(status=Status.CLOSED)


@dataclass
class TransitionPreview:
    policy: RoutingPolicy
    moves: list[tuple[str, str, int]] = field(default_factory=list)  # (from, to, count)
    held: list[tuple[str, int]] = field(default_factory=list)  # would leave casework: not moved
    unchanged: int = 0
    sample: list[Case] = field(default_factory=list)

    @property
    def moving(self) -> int:
        return sum(count for _, _, count in self.moves)


def routing_target_sql(rules: routing.RoutingRules):
    """The queue routing.route() would choose for an in-train case, as a SQL expression.

    Rules 3–6 of triage/routing.py (a case in train has passed rules 1–2);
    tests/triage/test_routing_transition.py checks it agrees with routing.route().
    """
    from django.db.models import Case as SqlCase
    from django.db.models import CharField, Value, When

    return SqlCase(
        When(eligible=False, then=Value(Queue.CLOSED)),
        When(priority__gte=rules.rapid_threshold, then=Value(Queue.RAPID_RESPONSE)),
        When(
            Q(vip_introduced=True) & Q(offer__value_gbp__gte=rules.vip_value_threshold_gbp),
            then=Value(Queue.VIP),
        ),
        When(introduced=True, then=Value(Queue.MP_INBOX)),
        default=Value(Queue.CLOSED),
        output_field=CharField(),
    )


def routing_policy_preview(policy: RoutingPolicy, sample_size: int = 50) -> TransitionPreview:
    """What applying `policy` would do to the open cases in train. Writes nothing; one
    aggregate query for the counts and one for a sample of the cases that would move."""
    rules = routing_rules(policy)
    qs = with_routing_facts(transition_queryset()).annotate(target=routing_target_sql(rules))
    preview = TransitionPreview(policy=policy)
    for row in qs.values("queue", "target").annotate(n=Count("pk")).order_by("queue", "target"):
        if row["target"] == row["queue"]:
            preview.unchanged += row["n"]
        elif row["target"] == Queue.CLOSED:
            preview.held.append((row["queue"], row["n"]))
        else:
            preview.moves.append((row["queue"], row["target"], row["n"]))
    preview.sample = list(
        qs.exclude(target=Queue.CLOSED)
        .exclude(target=F("queue"))
        .select_related("offer__supplier", "owner")
        .order_by("-priority", "opened_at")[:sample_size]
    )
    return preview


@transaction.atomic
def routing_policy_apply(*, policy_id: int, acting_user, rationale: str = "") -> BackgroundJob:
    """Make `policy` the active version and move the cases in train in the background.

    Cases the new policy would close are not closed by a transition: they stay where they
    are for a caseworker to decide, since each closure needs its own rationale.
    """
    from vipcases.jobs import job_create

    if not access.is_manager(acting_user):
        raise TriageError("Only managers can apply a routing policy.")
    policy = RoutingPolicy.objects.select_for_update().get(pk=policy_id)
    if policy.is_active:
        raise TriageError(f"Version {policy.version} is already active.")
    RoutingPolicy.objects.filter(is_active=True).update(is_active=False)
    policy.is_active = True
    policy.save(update_fields=["is_active"])
    return job_create(
        kind=BackgroundJob.Kind.TRANSITION,
        description=f"Apply routing policy version {policy.version} to the cases in train",
        params={"policy_id": policy.pk, "rationale": (rationale or policy.rationale).strip()},
        total=transition_queryset().count(),
        acting_user=acting_user,
    )


def transition_step(job: BackgroundJob) -> bool:
    """Move the next batch of in-train cases under the job's policy. The cursor and the moves
    commit together (the caller's transaction), so no case is moved twice."""
    policy = RoutingPolicy.objects.get(pk=job.params["policy_id"])
    rules = routing_rules(policy)
    cursor = job.params.get("cursor", 0)
    now = timezone.now()
    ids = list(
        transition_queryset()
        .filter(pk__gt=cursor)
        .order_by("pk")
        .values_list("pk", flat=True)[:TRANSITION_BATCH_SIZE]
    )
    if not ids:
        return True
    # One query locks the batch's cases (only them, in id order) and reads their facts:
    # the id range, not a list of thousands of ids, and for a case changed meanwhile
    # PostgreSQL re-reads it, and re-checks that it is still in train, once it is locked.
    # The target once per case, in the select list, and the cases that stay filtered out
    # here: filtering on it in SQL repeated the whole CASE, with its subqueries, in the
    # WHERE clause twice. Plain rows, not model instances: a batch is thousands of cases.
    rows = (
        with_routing_facts(transition_queryset().filter(pk__gt=cursor, pk__lte=ids[-1]))
        .annotate(target=routing_target_sql(rules))
        .select_for_update(of=("self",))
        .order_by("pk")
        .values_list("pk", "queue", "target", "owner__email")
    )
    moves = [row for row in rows if row[2] != Queue.CLOSED and row[2] != row[1]]
    rationale = (
        f"Routing policy version {policy.version} applied. {job.params.get('rationale', '')}"
    ).strip()
    due = {
        queue: now + timedelta(days=int(policy.sla_days.get(queue, 10)))
        for queue in {target for _, _, target, _ in moves}
    }
    events, mail, updates = [], {}, []
    for case_id, previous, target, email in moves:
        updates.append((case_id, {"queue": target, "sla_due_at": due[target]}))
        events.append(
            CaseEvent(
                case_id=case_id,
                kind=EventKind.MOVED,
                actor_id=job.created_by_id,
                from_value=previous,
                to_value=target,
                rationale=rationale,
                data={"policy_version": policy.version, "job_id": job.pk},
                created_at=now,
            )
        )
        if email:
            mail.setdefault(email, []).append(
                f"{Case(pk=case_id).reference}: {Queue(previous).label} → {Queue(target).label}"
            )
    update_in_groups(Case, updates, version=F("version") + 1, updated_at=now)
    events_append(events)
    if mail:
        messages = [
            (
                f"{len(lines)} of your cases moved under routing policy version {policy.version}",
                "These cases you own have moved queue:\n\n" + "\n".join(lines),
                None,
                [address],
            )
            for address, lines in mail.items()
        ]
        transaction.on_commit(lambda: send_mass_mail(messages, fail_silently=True))
    job.params["cursor"] = ids[-1]
    job.done = min(job.total, job.done + len(ids))
    job.changed += len(moves)
    return len(ids) < TRANSITION_BATCH_SIZE
