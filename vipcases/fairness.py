"""The fairness report: do offers introduced by people of influence fare better than
others with the same clinical-need score?

The system's answer to the 2020 finding that priority-lane suppliers were about ten
times more likely to win a contract than others. Pure reads; every figure comes from an
aggregate query in the database, never a loop over cases in Python.

Definitions, as the page states them:
- population: every scored case (triage has set `eligible`), open or closed;
- score band: the case's clinical-need score (`priority`: an override if there is one,
  else the automatic score) in the case list's bands 0–39, 40–59, 60–79, 80–100;
- introduction route: "not introduced", or the role of the introducer; a case introduced
  by several people counts under the most senior role (minister, peer, senior official,
  MP, other), so the roles split the introduced cases without counting one twice. It is
  kept on the case when it opens (`Case.lead_introducer_role`);
- routed to: the queue the case's latest routing decision chose (`Case.routed_queue`,
  kept by routing beside its `routed` event); cases not routed yet are not counted;
- decided: closed, with any outcome; conversion: contract awarded ÷ decided;
- time to decision: from `opened_at` to `closed_at`, for decided cases (median);
- significance: Fisher's exact test (two-sided) on the 2×2 table of awarded / not
  awarded among decided cases, introduced (or of one role) against not introduced,
  within the band. A plain warning is shown whenever introduced offers convert better
  than others in the same band with p < 0.05.
"""

import math
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from vipcases.codes import INTRODUCER_SENIORITY, EventKind, IntroducerRole, Outcome, Queue, Status
from vipcases.dashboards import Figure, case_list_url
from vipcases.filters import NO_INTRODUCER, SCORE_BANDS, SCORE_CHOICES
from vipcases.models import CaseEvent

SIGNIFICANCE = 0.05
NOT_INTRODUCED = "none"
INTRODUCED = "introduced"
# Most senior first: a case with several introducers counts under the first of these.
ROLE_PRECEDENCE = INTRODUCER_SENIORITY
ROUTE_LABELS = {
    NOT_INTRODUCED: "Not introduced",
    INTRODUCED: "Introduced (any role)",
    **{role.value: role.label for role in ROLE_PRECEDENCE},
}
ROUTED_QUEUES = (Queue.RAPID_RESPONSE, Queue.VIP, Queue.MP_INBOX, Queue.CLOSED)
# Kinds of event that record a decision, and who makes it.
DECISION_KINDS = {
    EventKind.ROUTED: "Routing (by the routing rules)",
    EventKind.CLOSED: "Closing a case, with its outcome",
    EventKind.SCORE_OVERRIDDEN: "Overriding a score",
    EventKind.MOVED: "Moving a case to another queue",
    EventKind.HANDED_OVER: "Handing a case over",
}
LIST_LIMIT = 50
# How a warning names the offers of each route.
WARNING_SUBJECTS = {
    INTRODUCED: "introduced offers",
    IntroducerRole.MINISTER: "offers introduced by a minister",
    IntroducerRole.PEER: "offers introduced by a peer",
    IntroducerRole.SENIOR_OFFICIAL: "offers introduced by a senior official",
    IntroducerRole.MP: "offers introduced by an MP",
    IntroducerRole.OTHER: "offers introduced by someone in another role",
}


# --- statistics (standard library only) --------------------------------------------------


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def fisher_exact(a: int, b: int, c: int, d: int) -> float:
    """Two-sided p-value of Fisher's exact test for the 2×2 table [[a, b], [c, d]].

    With the margins fixed, `a` follows a hypergeometric distribution; the p-value is
    the probability of every table at most as likely as the one observed (the rule of
    R's fisher.test and SciPy, with the same relative tolerance of 1e-7 for ties).

    Exact at any size in a few hundred steps: the distribution is unimodal, so the
    tables no likelier than the observed one are the two tails. The tail boundary on the
    far side is found by bisection on log-probabilities, and each tail is summed from its
    boundary outwards with the ratio of successive terms until they no longer count."""
    row1, col1, n = a + b, a + c, a + b + c + d
    low, high = max(0, row1 + col1 - n), min(row1, col1)
    if low == high:
        return 1.0

    def log_pmf(k: int) -> float:
        return _log_comb(col1, k) + _log_comb(n - col1, row1 - k) - _log_comb(n, row1)

    def ratio_up(k: int) -> float:  # P(k + 1) / P(k)
        return (row1 - k) * (col1 - k) / ((k + 1) * (n - row1 - col1 + k + 1))

    cutoff = log_pmf(a) + math.log1p(1e-7)
    mode = min(max((row1 + 1) * (col1 + 1) // (n + 2), low), high)
    if a <= mode:
        lower_end = a
        lo, hi = mode, high + 1  # first k past the mode as unlikely as a
        while lo < hi:
            mid = (lo + hi) // 2
            if log_pmf(mid) <= cutoff:
                hi = mid
            else:
                lo = mid + 1
        upper_start = lo
    else:
        upper_start = a
        lo, hi = low - 1, mode  # last k before the mode as unlikely as a
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if log_pmf(mid) <= cutoff:
                lo = mid
            else:
                hi = mid - 1
        lower_end = lo
    total = 0.0
    if lower_end >= low:
        term, k, tail = math.exp(log_pmf(lower_end)), lower_end, 0.0
        while True:
            tail += term
            if k == low or term < tail * 1e-17:
                break
            term /= ratio_up(k - 1)
            k -= 1
        total += tail
    if upper_start <= high:
        term, k, tail = math.exp(log_pmf(upper_start)), upper_start, 0.0
        while True:
            tail += term
            if k == high or term < tail * 1e-17:
                break
            term *= ratio_up(k)
            k += 1
        total += tail
    return min(1.0, total)


# --- the figures, in SQL ----------------------------------------------------------------

_ROLE_RANK = (
    "CASE c.lead_introducer_role "
    + " ".join(
        f"WHEN '{role.value}' THEN {rank}" for rank, role in enumerate(ROLE_PRECEDENCE, start=1)
    )
    + " ELSE 0 END"
)
_BAND = (
    "CASE "
    + " ".join(
        f"WHEN c.priority <= {high} THEN '{band}'" for band, (_, high) in SCORE_BANDS.items()
    )
    + " END"
)
# Each scored case with its band and introduction route (0: not introduced, else the
# rank of its most senior introducer's role in ROLE_PRECEDENCE): one table, no joins.
_SCORED_CASES = f"""
    WITH scored AS (
        SELECT c.id AS id, c.status AS status, c.outcome AS outcome,
               c.opened_at AS opened_at, c.closed_at AS closed_at,
               c.routed_queue AS routed_queue,
               {_BAND} AS band, {_ROLE_RANK} AS role_rank
        FROM vipcases_case c
        WHERE c.eligible IS NOT NULL
    )
"""  # noqa: S608 - built from the constants above, never from input


# Cases, decided cases and contracts awarded per band, route and queue routed to: one
# pass over the cases gives both the outcome counts and the routing shares.
_OUTCOMES = f"""
    SELECT band, role_rank, routed_queue, COUNT(*),
           SUM(CASE WHEN status = '{Status.CLOSED}' THEN 1 ELSE 0 END),
           SUM(CASE WHEN outcome = '{Outcome.CONTRACT_AWARDED}' THEN 1 ELSE 0 END)
    FROM scored GROUP BY band, role_rank, routed_queue
"""  # noqa: S608 - built from constants, never from input
_MEDIANS_POSTGRES = f"""
    SELECT band, role_rank, role_rank > 0 AS introduced,
           PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM (closed_at - opened_at)))
    FROM scored WHERE status = '{Status.CLOSED}' AND closed_at IS NOT NULL
    GROUP BY GROUPING SETS ((band, role_rank), (band, role_rank > 0))
"""  # noqa: S608 - built from constants, never from input
# Elsewhere (SQLite): each group's decided cases numbered by window functions, and the
# middle one or two averaged. The UNION ALL makes the two groupings of GROUPING SETS.
_MEDIANS_PORTABLE = f"""
    , decided AS (
        SELECT band, role_rank, (julianday(closed_at) - julianday(opened_at)) * 86400.0
               AS seconds
        FROM scored WHERE status = '{Status.CLOSED}' AND closed_at IS NOT NULL
    ), grouped AS (
        SELECT band, role_rank, NULL AS introduced, seconds FROM decided
        UNION ALL
        SELECT band, NULL, role_rank > 0, seconds FROM decided
    ), ranked AS (
        SELECT band, role_rank, introduced, seconds,
               ROW_NUMBER() OVER (PARTITION BY band, role_rank, introduced ORDER BY seconds)
                   AS position,
               COUNT(*) OVER (PARTITION BY band, role_rank, introduced) AS size
        FROM grouped
    )
    SELECT band, role_rank, introduced, AVG(seconds) FROM ranked
    WHERE position IN ((size + 1) / 2, (size + 2) / 2)
    GROUP BY band, role_rank, introduced
"""  # noqa: S608 - built from constants, never from input


def _fetch(sql: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def _route_of(role_rank: int) -> str:
    return NOT_INTRODUCED if role_rank == 0 else ROLE_PRECEDENCE[role_rank - 1].value


def outcome_counts() -> tuple[
    dict[tuple[str, str], dict[str, int]], dict[tuple[str, str, str], int]
]:
    """Per (band, route): cases, decided cases and contracts awarded; and per (band,
    route, queue routed to): cases. One query."""
    outcomes: dict[tuple[str, str], dict[str, int]] = {}
    routing: dict[tuple[str, str, str], int] = {}
    for band, rank, queue, n, decided, awarded in _fetch(_SCORED_CASES + _OUTCOMES):
        key = (band, _route_of(rank))
        counts = outcomes.setdefault(key, {"cases": 0, "decided": 0, "awarded": 0})
        counts["cases"] += n
        counts["decided"] += decided or 0
        counts["awarded"] += awarded or 0
        if queue:
            routing[(*key, queue)] = routing.get((*key, queue), 0) + n
    return outcomes, routing


def decision_medians() -> dict[tuple[str, str], float]:
    """Median time to decision in seconds per (band, route) and per (band, "introduced"):
    one query. PERCENTILE_CONT on PostgreSQL; elsewhere each group's decided cases are
    numbered in SQL by window functions and the middle one or two averaged."""
    postgres = connection.vendor == "postgresql"
    rows = _fetch(_SCORED_CASES + (_MEDIANS_POSTGRES if postgres else _MEDIANS_PORTABLE))
    medians = {}
    for band, rank, introduced, median in rows:
        if rank is not None:
            medians[(band, _route_of(rank))] = float(median)
        elif introduced:
            medians[(band, INTRODUCED)] = float(median)
    return medians


@dataclass
class RationaleRow:
    kind: str
    label: str
    decisions: int
    with_rationale: int

    @property
    def share(self) -> float | None:
        return self.with_rationale / self.decisions if self.decisions else None


def decisions_with_rationale() -> list[RationaleRow]:
    """Decisions of each kind and how many carry a rationale: one query."""
    found = {
        row["kind"]: row
        for row in CaseEvent.objects.filter(kind__in=list(DECISION_KINDS))
        .values("kind")
        .annotate(n=Count("pk"), explained=Count("pk", filter=~Q(rationale="")))
        .order_by()
    }
    return [
        RationaleRow(
            kind=kind,
            label=label,
            decisions=found.get(kind, {}).get("n", 0),
            with_rationale=found.get(kind, {}).get("explained", 0),
        )
        for kind, label in DECISION_KINDS.items()
    ]


def overrides_and_moves(limit: int = LIST_LIMIT) -> tuple[list[CaseEvent], list[CaseEvent], dict]:
    """The latest score overrides and manual moves with their reasons, and how many there
    are of each: three queries. A move by a routing-policy transition (its event names
    the job) is a policy change, not a manual move, and is left out."""
    overrides = list(
        CaseEvent.objects.filter(kind=EventKind.SCORE_OVERRIDDEN)
        .select_related("actor")
        .order_by("-created_at", "-id")[:limit]
    )
    transition = Q(data__has_key="job_id")
    manual = CaseEvent.objects.filter(kind=EventKind.MOVED).exclude(transition)
    moves = list(manual.select_related("actor").order_by("-created_at", "-id")[:limit])
    counts = CaseEvent.objects.filter(
        kind__in=[EventKind.SCORE_OVERRIDDEN, EventKind.MOVED]
    ).aggregate(
        overrides=Count("pk", filter=Q(kind=EventKind.SCORE_OVERRIDDEN)),
        moves=Count("pk", filter=Q(kind=EventKind.MOVED) & ~transition),
    )
    return overrides, moves, counts


# --- the report ------------------------------------------------------------------------------


@dataclass
class RoutedShare:
    queue: str
    label: str
    count: int
    share: float | None


@dataclass
class RouteRow:
    band: str
    route: str
    label: str
    cases: Figure
    decided: Figure
    awarded: Figure
    routed: list[RoutedShare]
    median_seconds: float | None
    p_value: float | None = None  # against not introduced, same band
    converts_better: bool = False  # higher conversion than not introduced, p < 0.05

    @property
    def conversion(self) -> float | None:
        return self.awarded.value / self.decided.value if self.decided.value else None

    @property
    def median_days(self) -> float | None:
        return None if self.median_seconds is None else self.median_seconds / 86400

    @property
    def is_role(self) -> bool:
        return self.route not in (NOT_INTRODUCED, INTRODUCED)


@dataclass
class Band:
    key: str
    label: str
    rows: list[RouteRow]


@dataclass
class FairnessWarning:
    band: str
    route: str
    text: str


@dataclass
class FairnessReport:
    now: datetime
    bands: list[Band]
    warnings: list[FairnessWarning]
    rationale: list[RationaleRow]
    overrides: list[CaseEvent]
    moves: list[CaseEvent]
    override_count: int
    move_count: int
    totals: dict = field(default_factory=dict)

    @property
    def decisions(self) -> int:
        return sum(r.decisions for r in self.rationale)

    @property
    def decisions_with_rationale(self) -> int:
        return sum(r.with_rationale for r in self.rationale)

    @property
    def rationale_share(self) -> float | None:
        return self.decisions_with_rationale / self.decisions if self.decisions else None


def _route_filter(route: str) -> list[tuple[str, str]]:
    """The case list's introducer-role filter for a route. "Introduced (any role)" is
    every role ticked; a role row is that role (the list also shows cases whose most
    senior introducer had another role, so its count can be higher)."""
    if route == NOT_INTRODUCED:
        return [("introducer_role", NO_INTRODUCER)]
    if route == INTRODUCED:
        return [("introducer_role", role.value) for role in ROLE_PRECEDENCE]
    return [("introducer_role", route)]


def _percent(value: float) -> str:
    return f"{value:.0%}" if value >= 0.01 or value == 0 else f"{value:.1%}"


def _p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def report(*, now: datetime | None = None) -> FairnessReport:
    """The whole report: six queries on PostgreSQL (outcomes with routing, medians,
    rationale, overrides, moves, and their counts), whatever the number of cases."""
    now = now or timezone.now()
    outcomes, routing = outcome_counts()
    medians = decision_medians()
    band_labels = dict(SCORE_CHOICES)
    queue_labels = dict(Queue.choices)
    bands, warnings = [], []
    # Each row of a band and the introduction routes it adds up.
    groups = {
        NOT_INTRODUCED: (NOT_INTRODUCED,),
        INTRODUCED: tuple(r.value for r in ROLE_PRECEDENCE),
        **{role.value: (role.value,) for role in ROLE_PRECEDENCE},
    }
    for band in SCORE_BANDS:
        rows = []
        for route, members in groups.items():
            counts = {
                key: sum(outcomes.get((band, m), {}).get(key, 0) for m in members)
                for key in ("cases", "decided", "awarded")
            }
            routed = {q: sum(routing.get((band, m, q), 0) for m in members) for q in ROUTED_QUEUES}
            routed_total = sum(routing.get((band, m, q), 0) for m in members for q in Queue.values)
            link = [("score", band), *_route_filter(route)]
            rows.append(
                RouteRow(
                    band=band,
                    route=route,
                    label=ROUTE_LABELS[route],
                    # The case list shows open or closed cases (tabs), never both at
                    # once: the count links to the closed tab's cases of the group.
                    cases=Figure(counts["cases"], case_list_url(*link), exact=False),
                    decided=Figure(
                        counts["decided"],
                        case_list_url(("tab", Queue.CLOSED), *link),
                        exact=route in (NOT_INTRODUCED, INTRODUCED),
                    ),
                    awarded=Figure(
                        counts["awarded"],
                        case_list_url(("tab", Queue.CLOSED), *link),
                        exact=False,
                    ),
                    routed=[
                        RoutedShare(
                            q,
                            queue_labels[q],
                            routed[q],
                            routed[q] / routed_total if routed_total else None,
                        )
                        for q in ROUTED_QUEUES
                    ],
                    median_seconds=medians.get((band, route)),
                )
            )
        baseline = rows[0]
        for row in rows[1:]:
            if not (row.decided.value and baseline.decided.value):
                continue
            row.p_value = fisher_exact(
                row.awarded.value,
                row.decided.value - row.awarded.value,
                baseline.awarded.value,
                baseline.decided.value - baseline.awarded.value,
            )
            row.converts_better = (
                row.conversion > baseline.conversion and row.p_value < SIGNIFICANCE
            )
            if row.converts_better:
                who = WARNING_SUBJECTS[row.route]
                warnings.append(
                    FairnessWarning(
                        band=band,
                        route=row.route,
                        text=(
                            f"Score {band_labels[band]}: {who} were awarded a contract more "
                            f"often than offers nobody introduced ({_percent(row.conversion)} "
                            f"of {row.decided.value:,} decided, against "
                            f"{_percent(baseline.conversion)} of {baseline.decided.value:,}; "
                            f"{_p_text(row.p_value)}). At the same score, who introduced an "
                            "offer must make no difference: review these decisions."
                        ),
                    )
                )
        bands.append(Band(key=band, label=band_labels[band], rows=rows))
    overrides, moves, counts = overrides_and_moves()
    return FairnessReport(
        now=now,
        bands=bands,
        warnings=warnings,
        rationale=decisions_with_rationale(),
        overrides=overrides,
        moves=moves,
        override_count=counts["overrides"],
        move_count=counts["moves"],
    )
