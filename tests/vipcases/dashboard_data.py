"""Small, fully controlled case sets for the dashboard, fairness and export tests.

Cases are opened through offers.services.offer_create (so offers, lines, introductions
and the `created` event are real) and then given the state the test needs directly:
their triage and routing tasks are never run (the test's transaction does not commit),
so nothing else changes them. A routing decision is a `routed` event and the case's
`routed_queue`, as routing writes them.
"""

from datetime import datetime, timedelta

from django.utils import timezone

from offers.services import offer_create
from tests import factories
from vipcases.codes import EventKind, Queue, Status
from vipcases.events import event_append
from vipcases.models import Case, CaseEvent


def make_case(
    *,
    now: datetime,
    priority: int = 50,
    eligible: bool | None = True,
    queue: str = Queue.TRIAGE,
    status: str = Status.NEW,
    owner=None,
    opened: timedelta = timedelta(days=1),
    closed: timedelta | None = None,
    outcome: str = "",
    sla_due: timedelta | None = None,
    roles: tuple[str, ...] = (),
    routed_to: str | tuple[str, ...] | None = None,
    channel: str = "webform",
) -> Case:
    """A case opened `opened` before `now` (closed `closed` before now, if given), with
    introducers of `roles` and a routing decision to each queue in `routed_to`."""
    case = offer_create(
        acting_user=None,
        supplier=factories.supplier(),
        channel=channel,
        received_at=now - opened,
        lines=[factories.line()],
        introductions=[
            factories.introduction(role=role, name=f"Introducer {i} ({role})")
            for i, role in enumerate(roles)
        ],
    )
    closed_at = now - closed if closed is not None else None
    Case.objects.filter(pk=case.pk).update(
        priority=priority,
        eligible=eligible,
        queue=Queue.CLOSED if closed_at else queue,
        status=Status.CLOSED if closed_at else status,
        owner=owner,
        closed_at=closed_at,
        outcome=outcome,
        sla_due_at=now + sla_due if sla_due is not None else None,
    )
    if isinstance(routed_to, str):
        routed_to = (routed_to,)
    for i, target in enumerate(routed_to or ()):
        event_append(
            CaseEvent(
                case=case,
                kind=EventKind.ROUTED,
                from_value=Queue.TRIAGE,
                to_value=target,
                rationale=f"Routed to {target} (test).",
                created_at=now - opened + timedelta(minutes=30 + i),
            )
        )
    if routed_to:
        # What routing keeps on the case beside its event: the latest decision's queue.
        Case.objects.filter(pk=case.pk).update(routed_queue=routed_to[-1])
    case.refresh_from_db()
    return case


def now_fixed() -> datetime:
    """Midday today, Europe/London: far enough from midnight that "N days ago" stays on
    the Nth local day back whatever time the tests run."""
    local = timezone.localtime()
    return local.replace(hour=12, minute=0, second=0, microsecond=0)
