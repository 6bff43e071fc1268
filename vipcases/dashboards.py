"""The managers' backlog dashboard: its figures, from aggregate queries in the database.

Pure reads: nothing here writes, and nothing loops over cases in Python. The four
figures about open cases (by queue and status, ageing, SLA breaches, load per
caseworker) share one `values(...).annotate(...)` pass over the open cases, grouped by
queue, status and owner with conditional aggregation for the bands
(`open_case_tallies`); the others are one query each (range counts for days,
PercentileCont for medians on PostgreSQL). Python only adds up and arranges the few
hundred aggregate rows into tables and links. The page runs a fixed number of queries
whatever the number of cases (tests/vipcases/test_dashboard.py counts them).

Definitions, as the page states them:
- open: any status but closed;
- age: whole days since the offer reached government (`opened_at`), as on the case list;
- SLA breached: open and past its SLA due date (the case list's "SLA breached: yes");
- intake: cases opened that day; cleared: cases closed that day, whether routing closed
  them (ineligible, or referred to the standard route) or a person decided them;
- time to decision: from `opened_at` to `closed_at`, for the cases closed in the window,
  by the queue routing sent them to (closed straight from triage: "Triage"; a case
  routed twice counts under each queue).

Every number comes with the URL of the case list filtered to those cases, where the
case list has such a filter (vipcases/filters.py), or to its nearest filter otherwise
(`Figure.exact` is False then, and the page says so).
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db import connection
from django.db.models import (
    Aggregate,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    Min,
    Q,
    QuerySet,
    Subquery,
    Value,
    Window,
)
from django.db.models.functions import Coalesce, NullIf, RowNumber
from django.utils import timezone

from vipcases.codes import Queue, Status
from vipcases.filters import AGE_BANDS, AGE_CHOICES, UNASSIGNED, ListQuery
from vipcases.models import Case, ExportRecord

WINDOW_DAYS = 30
OPEN_QUEUES = (Queue.TRIAGE, Queue.RAPID_RESPONSE, Queue.VIP, Queue.MP_INBOX)
OPEN_STATUSES = tuple(s for s in Status if s != Status.CLOSED)
AGE_LABELS = dict(AGE_CHOICES)
DECISION_QUEUES = (Queue.TRIAGE, Queue.RAPID_RESPONSE, Queue.VIP, Queue.MP_INBOX, Queue.CLOSED)
# How a decision queue reads on the page: routing to "closed" is a decision by the rules.
DECISION_QUEUE_LABELS = {
    Queue.TRIAGE: "Closed before routing",
    Queue.RAPID_RESPONSE: "Rapid Response",
    Queue.VIP: "VIP",
    Queue.MP_INBOX: "MP inbox",
    Queue.CLOSED: "Closed by the routing rules",
}


# --- links and numbers ---------------------------------------------------------------


def case_list_url(*items: tuple[str, str]) -> str:
    """The case list's URL with these (parameter, value) pairs (vipcases.filters.ListQuery:
    the list's own spelling, defaults left out)."""
    return ListQuery(items).url()


@dataclass(frozen=True)
class Figure:
    """A number and the case list that shows those cases. `exact` is False when the list
    has no filter for exactly these cases and the link goes to the nearest one."""

    value: int
    href: str
    exact: bool = True


# --- medians in SQL ------------------------------------------------------------------


class PercentileCont(Aggregate):
    """PostgreSQL's PERCENTILE_CONT(fraction) WITHIN GROUP (ORDER BY expression)."""

    function = "PERCENTILE_CONT"
    name = "PercentileCont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    allow_distinct = False

    def __init__(self, expression, *, fraction: float, **extra):
        super().__init__(expression, fraction=float(fraction), **extra)


def duration(end: str, start: str) -> ExpressionWrapper:
    return ExpressionWrapper(F(end) - F(start), output_field=DurationField())


def medians_by_window(
    queryset: QuerySet, groups: dict[str, object], value
) -> dict[tuple, timedelta | None]:
    """The median of `value` (a duration expression) per group of `groups` (name →
    expression), in one query, where PERCENTILE_CONT is missing (SQLite): each group's
    rows are numbered in SQL by a window function and the middle one or two averaged,
    so no row leaves the database."""
    names = list(groups)
    partition = [F(n) for n in names]
    ranked = (
        queryset.order_by()
        .annotate(**groups)
        .annotate(
            median_value=value,
            median_rank=Window(RowNumber(), partition_by=partition, order_by=value.asc()),
            median_count=Window(Count("pk"), partition_by=partition),
        )
        .values(*names, "median_value", "median_rank", "median_count")
    )
    sql, params = ranked.query.sql_with_params()
    columns = ", ".join(connection.ops.quote_name(n) for n in names)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns}, AVG(median_value) FROM ({sql}) ranked "  # noqa: S608 - our SQL
            "WHERE median_rank IN ((median_count + 1) / 2, (median_count + 2) / 2) "
            f"GROUP BY {columns}",
            params,
        )
        found = cursor.fetchall()
    # SQLite keeps durations as whole microseconds.
    return {
        tuple(row[:-1]): None if row[-1] is None else timedelta(microseconds=row[-1])
        for row in found
    }


def in_days(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds() / 86400


# --- bands -------------------------------------------------------------------------------


def age_band_condition(band: str, now: datetime) -> Q:
    """Cases whose age in whole days falls in `band`: the case list's age filter exactly
    (age d means now - (d + 1) days < opened_at <= now - d days)."""
    low, high = AGE_BANDS[band]
    condition = Q(opened_at__lte=now - timedelta(days=low))
    if high is not None:
        condition &= Q(opened_at__gt=now - timedelta(days=high + 1))
    return condition


def sla_breached_condition(now: datetime) -> Q:
    """Open and past the SLA due date: the case list's "SLA breached: yes"."""
    return Q(sla_due_at__lt=now) & ~Q(status=Status.CLOSED)


def open_cases() -> QuerySet[Case]:
    return Case.objects.exclude(status=Status.CLOSED)


def window_start(now: datetime, days: int = WINDOW_DAYS) -> datetime:
    """Midnight (Europe/London) at the start of the first of the last `days` days,
    today included."""
    today = timezone.localdate(now)
    first = today - timedelta(days=days - 1)
    return timezone.make_aware(datetime.combine(first, datetime.min.time()))


# --- open cases by queue and status --------------------------------------------------------


@dataclass
class QueueStatusRow:
    queue: str
    label: str
    cells: list[Figure]
    total: Figure


@dataclass
class QueueStatusTable:
    statuses: list[tuple[str, str]]
    rows: list[QueueStatusRow]
    totals: list[Figure]
    total: Figure


def open_case_tallies(now: datetime) -> list[dict]:
    """Open cases counted per (queue, status, owner), with their SLA breaches, their
    count in each age band and the oldest: one pass over the open cases, shared by the
    four figures below (a few hundred rows at most, whatever the number of cases)."""
    bands = {
        f"band_{i}": Count("pk", filter=age_band_condition(band, now))
        for i, band in enumerate(AGE_BANDS)
    }
    return list(
        open_cases()
        .values("queue", "status", "owner")
        .annotate(
            n=Count("pk"),
            breached=Count("pk", filter=Q(sla_due_at__lt=now)),
            oldest=Min("opened_at"),
            **bands,
        )
        .order_by()
    )


def _summed(tallies: list[dict], key: str, fields: tuple[str, ...]) -> dict:
    """The tallies added up per value of `key`: {value: {field: total}}."""
    found = {}
    for row in tallies:
        into = found.setdefault(row[key], dict.fromkeys(fields, 0))
        for name in fields:
            into[name] += row[name]
    return found


def open_by_queue_and_status(tallies: list[dict] | None = None) -> QueueStatusTable:
    """Open cases by queue × status."""
    if tallies is None:
        tallies = open_case_tallies(timezone.now())
    counts = {}
    for row in tallies:
        key = (row["queue"], row["status"])
        counts[key] = counts.get(key, 0) + row["n"]
    queues = list(OPEN_QUEUES) + sorted({q for q, _ in counts} - set(OPEN_QUEUES))
    rows = []
    for queue in queues:
        cells = [
            Figure(counts.get((queue, s), 0), case_list_url(("queue", queue), ("status", s)))
            for s in OPEN_STATUSES
        ]
        rows.append(
            QueueStatusRow(
                queue=queue,
                label=Queue(queue).label,
                cells=cells,
                total=Figure(sum(c.value for c in cells), case_list_url(("queue", queue))),
            )
        )
    totals = [
        Figure(sum(counts.get((q, s), 0) for q in queues), case_list_url(("status", s)))
        for s in OPEN_STATUSES
    ]
    return QueueStatusTable(
        statuses=[(s.value, s.label) for s in OPEN_STATUSES],
        rows=rows,
        totals=totals,
        total=Figure(sum(counts.values()), case_list_url()),
    )


# --- ageing ------------------------------------------------------------------------------


@dataclass
class AgeingRow:
    queue: str
    label: str
    bands: list[Figure]
    total: Figure


@dataclass
class AgeingTable:
    bands: list[tuple[str, str]]
    rows: list[AgeingRow]
    totals: list[Figure]


def ageing(now: datetime, tallies: list[dict] | None = None) -> AgeingTable:
    """Open cases per queue in each age band."""
    bands = list(AGE_BANDS)
    if tallies is None:
        tallies = open_case_tallies(now)
    found = _summed(tallies, "queue", tuple(f"band_{i}" for i in range(len(bands))))
    queues = list(OPEN_QUEUES) + sorted(set(found) - set(OPEN_QUEUES))
    rows = []
    for queue in queues:
        row = found.get(queue, {})
        figures = [
            Figure(row.get(f"band_{i}", 0), case_list_url(("queue", queue), ("age", band)))
            for i, band in enumerate(bands)
        ]
        rows.append(
            AgeingRow(
                queue=queue,
                label=Queue(queue).label,
                bands=figures,
                total=Figure(sum(f.value for f in figures), case_list_url(("queue", queue))),
            )
        )
    totals = [
        Figure(sum(r.bands[i].value for r in rows), case_list_url(("age", band)))
        for i, band in enumerate(bands)
    ]
    return AgeingTable(bands=[(b, AGE_LABELS[b]) for b in bands], rows=rows, totals=totals)


# --- intake against cleared ----------------------------------------------------------------


@dataclass
class FlowDay:
    day: date
    intake: Figure
    cleared: Figure
    open_at_end: int  # open cases at the end of the day, counted back from now

    @property
    def net(self) -> int:
        return self.intake.value - self.cleared.value


@dataclass
class Flow:
    days: list[FlowDay]
    open_now: int

    @property
    def intake(self) -> int:
        return sum(d.intake.value for d in self.days)

    @property
    def cleared(self) -> int:
        return sum(d.cleared.value for d in self.days)

    @property
    def shrinking(self) -> bool:
        return self.cleared > self.intake


def _age_band_of(days_ago: int) -> str:
    for band, (low, high) in AGE_BANDS.items():
        if days_ago >= low and (high is None or days_ago <= high):
            return band
    return list(AGE_BANDS)[-1]  # pragma: no cover - the last band is open-ended


def _day_bounds(now: datetime, days: int) -> list[datetime]:
    """The local midnights (Europe/London, so a day is 23 or 25 hours across a clock
    change) that start each of the last `days` days, and the one that ends today."""
    first = timezone.localdate(now) - timedelta(days=days - 1)
    return [
        timezone.make_aware(datetime.combine(first + timedelta(days=i), datetime.min.time()))
        for i in range(days + 1)
    ]


class CountAll(Func):
    """COUNT(*) as a plain expression, for a scalar subquery with no GROUP BY."""

    template = "COUNT(*)"
    output_field = IntegerField()


def _day_counts(bounds: list[datetime], now: datetime, indexes: list[int]) -> dict[int, tuple]:
    """(opened, closed) for each day index in `indexes`, in one query of range counts."""
    if not indexes:
        return {}
    counts = {}
    for name, column in (("opened", "opened_at"), ("closed", "closed_at")):
        for i in indexes:
            rows = Case.objects.filter(
                **{f"{column}__gte": bounds[i], f"{column}__lt": min(bounds[i + 1], now)}
            ).order_by()
            counts[f"{name}_{i}"] = Subquery(rows.values(n=CountAll()))
    found = Case.objects.order_by().values(**counts)[:1]
    found = found[0] if found else {}
    return {i: (found.get(f"opened_{i}") or 0, found.get(f"closed_{i}") or 0) for i in indexes}


def past_days_counted(now: datetime, days: int = WINDOW_DAYS) -> dict[date, tuple[int, int]]:
    """(opened, closed) for each whole day of the window before today (Europe/London).

    A day that has ended changes only when an offer received earlier is entered late
    (its case opens on the day it was received), so these are kept in the cache
    (vipcases/report_cache.py) and only today is counted on every visit."""
    bounds = _day_bounds(now, days)
    found = _day_counts(bounds, now, list(range(days - 1)))
    return {timezone.localdate(bounds[i]): counts for i, counts in found.items()}


def intake_and_cleared(
    now: datetime,
    *,
    open_now: int,
    days: int = WINDOW_DAYS,
    past: dict[date, tuple[int, int]] | None = None,
) -> Flow:
    """Cases opened and closed per day (Europe/London) over the last `days` days, today
    included, in one query. `open_now` (the open cases now) lets each day's closing
    backlog be counted back from today. `past` gives the counts of days before today
    already worked out (`past_days_counted`); today, and any day it lacks, is counted.

    Each day is a range count on the opened_at or closed_at index rather than a GROUP BY
    TruncDate: turning every row's time into a local date costs about 70 ms a series at
    300,000 cases in the window on PostgreSQL, where 30 index-only range counts cost 18.

    The case list has no "opened on" or "closed on" filter: a day's intake links to the
    open cases of that age band, newest first, and a day's cleared cases to the closed
    cases, newest first (`Figure.exact` is False)."""
    bounds = _day_bounds(now, days)
    today = timezone.localdate(now)
    past = past or {}
    known = {}
    for i in range(days):
        day = timezone.localdate(bounds[i])
        if day < today and day in past:
            known[i] = past[day]
    known.update(_day_counts(bounds, now, [i for i in range(days) if i not in known]))
    cleared_href = case_list_url(("tab", Queue.CLOSED), ("sort", "newest"))
    result, open_at_end = [], open_now
    for i in range(days - 1, -1, -1):  # today first, counting back
        day = timezone.localdate(bounds[i])
        intake, cleared = known[i]
        result.append(
            FlowDay(
                day=day,
                intake=Figure(
                    intake,
                    case_list_url(("age", _age_band_of((today - day).days)), ("sort", "newest")),
                    exact=False,
                ),
                cleared=Figure(cleared, cleared_href, exact=False),
                open_at_end=open_at_end,
            )
        )
        open_at_end -= intake - cleared
    result.reverse()
    return Flow(days=result, open_now=open_now)


# --- SLA breaches ------------------------------------------------------------------------


@dataclass
class SlaRow:
    queue: str
    label: str
    open: Figure
    breached: Figure

    @property
    def share(self) -> float | None:
        return self.breached.value / self.open.value if self.open.value else None


@dataclass
class SlaTable:
    rows: list[SlaRow]
    open: Figure
    breached: Figure

    @property
    def share(self) -> float | None:
        return self.breached.value / self.open.value if self.open.value else None


def sla_breaches(now: datetime, tallies: list[dict] | None = None) -> SlaTable:
    """Open cases past their SLA due date, per queue."""
    if tallies is None:
        tallies = open_case_tallies(now)
    found = _summed(tallies, "queue", ("n", "breached"))
    queues = list(OPEN_QUEUES) + sorted(set(found) - set(OPEN_QUEUES))
    rows = [
        SlaRow(
            queue=q,
            label=Queue(q).label,
            open=Figure(found.get(q, {}).get("n", 0), case_list_url(("queue", q))),
            breached=Figure(
                found.get(q, {}).get("breached", 0),
                case_list_url(("queue", q), ("sla_breached", "yes")),
            ),
        )
        for q in queues
    ]
    return SlaTable(
        rows=rows,
        open=Figure(sum(r.open.value for r in rows), case_list_url()),
        breached=Figure(
            sum(r.breached.value for r in rows), case_list_url(("sla_breached", "yes"))
        ),
    )


# --- load per caseworker -----------------------------------------------------------------


@dataclass
class OwnerRow:
    owner_id: int | None
    name: str
    open: Figure
    breached: Figure
    oldest: datetime | None


def open_per_caseworker(
    now: datetime, owners: list, tallies: list[dict] | None = None
) -> list[OwnerRow]:
    """Open cases per owner, with their SLA breaches and oldest case; every person in
    `owners` (those who may own cases) is listed, with none if they have none, and
    "Unassigned" last. Most loaded first."""
    if tallies is None:
        tallies = open_case_tallies(now)
    found = _summed(tallies, "owner", ("n", "breached"))
    for row in tallies:
        into = found[row["owner"]]
        if into.get("oldest") is None or row["oldest"] < into["oldest"]:
            into["oldest"] = row["oldest"]
    names = {person.pk: person.get_full_name() or person.get_username() for person in owners}
    # An owner who can no longer own cases still has them: named by id, never dropped.
    for owner_id in set(found) - set(names) - {None}:
        names[owner_id] = f"User {owner_id} (no longer a caseworker)"
    rows = []
    for owner_id, name in names.items():
        row = found.get(owner_id, {})
        key = str(owner_id)
        rows.append(
            OwnerRow(
                owner_id=owner_id,
                name=name,
                open=Figure(row.get("n", 0), case_list_url(("owner", key))),
                breached=Figure(
                    row.get("breached", 0),
                    case_list_url(("owner", key), ("sla_breached", "yes")),
                ),
                oldest=row.get("oldest"),
            )
        )
    rows.sort(key=lambda r: (-r.open.value, r.name))
    unassigned = found.get(None, {})
    rows.append(
        OwnerRow(
            owner_id=None,
            name="Unassigned",
            open=Figure(unassigned.get("n", 0), case_list_url(("owner", UNASSIGNED))),
            breached=Figure(
                unassigned.get("breached", 0),
                case_list_url(("owner", UNASSIGNED), ("sla_breached", "yes")),
            ),
            oldest=unassigned.get("oldest"),
        )
    )
    return rows


# --- time to decision ----------------------------------------------------------------------


@dataclass
class DecisionRow:
    queue: str
    label: str
    decided: Figure
    median: timedelta | None

    @property
    def median_days(self) -> float | None:
        return in_days(self.median)


def decided_in_window(now: datetime, days: int = WINDOW_DAYS) -> QuerySet[Case]:
    """Cases closed in the window, annotated with `decision_queue`: the queue their
    latest routing decision chose (`Case.routed_queue`), or triage for a case closed
    before it was routed."""
    return Case.objects.filter(
        status=Status.CLOSED, closed_at__gte=window_start(now, days), closed_at__lte=now
    ).annotate(
        decision_queue=Coalesce(NullIf(F("routed_queue"), Value("")), Value(Queue.TRIAGE.value))
    )


def time_to_decision(now: datetime, days: int = WINDOW_DAYS) -> list[DecisionRow]:
    """Median time from opening to closing of the cases closed in the window, per queue
    routing sent them to, with how many: one query on PostgreSQL, two elsewhere (the
    medians by window functions, then the counts). The case list cannot filter by the
    queue a closed case was routed to, so the counts link to the closed cases."""
    decided = decided_in_window(now, days)
    counts: dict[str, int] = {}
    medians: dict[str, timedelta | None] = {}
    if connection.vendor == "postgresql":
        for row in (
            decided.values("decision_queue")
            .annotate(
                n=Count("pk"),
                median=PercentileCont(
                    duration("closed_at", "opened_at"),
                    fraction=0.5,
                    output_field=DurationField(),
                ),
            )
            .order_by()
        ):
            counts[row["decision_queue"]] = row["n"]
            medians[row["decision_queue"]] = row["median"]
    else:
        found = medians_by_window(
            decided, {"queue_key": F("decision_queue")}, duration("closed_at", "opened_at")
        )
        medians = {key[0]: value for key, value in found.items()}
        counts = dict(
            decided.values("decision_queue")
            .annotate(n=Count("pk"))
            .values_list("decision_queue", "n")
            .order_by()
        )
    href = case_list_url(("tab", Queue.CLOSED))
    queues = list(DECISION_QUEUES) + sorted(set(counts) - set(DECISION_QUEUES))
    return [
        DecisionRow(
            queue=q,
            label=DECISION_QUEUE_LABELS.get(q, q),
            decided=Figure(counts.get(q, 0), href, exact=False),
            median=medians.get(q),
        )
        for q in queues
    ]


# --- the page ------------------------------------------------------------------------------


@dataclass
class Backlog:
    now: datetime
    queue_status: QueueStatusTable
    ageing: AgeingTable
    flow: Flow
    sla: SlaTable
    caseworkers: list[OwnerRow]
    decisions: list[DecisionRow]
    recent_exports: list = field(default_factory=list)


def backlog(
    *,
    now: datetime | None = None,
    owners: list | None = None,
    decisions: list[DecisionRow] | None = None,
    past_days: dict[date, tuple[int, int]] | None = None,
) -> Backlog:
    """Every figure of the backlog dashboard, as of `now`. A fixed number of queries,
    one per figure, plus the people who may own cases and the recent exports. The caller
    may pass the costly figures worked out earlier: the time to decision, and the intake
    and clearances of the days before today (`past_days_counted`)."""
    from vipcases.selectors import case_owners

    now = now or timezone.now()
    tallies = open_case_tallies(now)
    queue_status = open_by_queue_and_status(tallies)
    return Backlog(
        now=now,
        queue_status=queue_status,
        ageing=ageing(now, tallies),
        flow=intake_and_cleared(now, open_now=queue_status.total.value, past=past_days),
        sla=sla_breaches(now, tallies),
        caseworkers=open_per_caseworker(now, case_owners() if owners is None else owners, tallies),
        decisions=time_to_decision(now) if decisions is None else decisions,
        recent_exports=list(
            ExportRecord.objects.select_related("exported_by").order_by("-exported_at", "-id")[:10]
        ),
    )
