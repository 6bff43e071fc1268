"""What must hold after every drill, read from the drill database with plain SQL.

- every offer submitted is present exactly once, with exactly one case;
- every case has exactly one `created` event; every case that has left triage was
  routed exactly once (one `routed` event) and scored once; a case still new in triage
  has no `routed` event;
- a routing-policy transition moves a case at most once (one `moved` event per job).
"""

from collections import Counter

from tests.drills.stack import Stack


def event_counts(stack: Stack, case_ids) -> dict[int, Counter]:
    """{case id: Counter(kind -> number of events)} for the given cases."""
    counts = {case_id: Counter() for case_id in case_ids}
    rows = stack.sql(
        "SELECT case_id, kind, count(*) FROM vipcases_caseevent "
        "WHERE case_id = ANY(%s) GROUP BY case_id, kind",
        (list(case_ids),),
    )
    for case_id, kind, n in rows:
        counts[case_id][kind] = n
    return counts


def cases_for_refs(stack: Stack, refs) -> dict[str, int]:
    """{external_ref: case id} for the offers submitted with those references."""
    rows = stack.sql(
        "SELECT o.external_ref, c.id FROM offers_offer o JOIN vipcases_case c ON c.offer_id = o.id "
        "WHERE o.external_ref = ANY(%s)",
        (list(refs),),
    )
    found = Counter(ref for ref, _ in rows)
    doubled = [ref for ref, n in found.items() if n > 1]
    assert not doubled, f"offers present more than once: {doubled}"
    return dict(rows)


def assert_submitted_once(stack: Stack, refs) -> dict[str, int]:
    """Every reference submitted is one offer with one case; returns {ref: case id}."""
    cases = cases_for_refs(stack, refs)
    missing = sorted(set(refs) - set(cases))
    assert not missing, f"{len(missing)} submitted offers are missing: {missing[:10]}"
    return cases


def assert_triaged_exactly_once(stack: Stack, case_ids) -> None:
    """Cases that arrived through intake: routed, with exactly created + scored + routed."""
    case_ids = list(case_ids)
    queues = dict(stack.sql("SELECT id, queue FROM vipcases_case WHERE id = ANY(%s)", (case_ids,)))
    unrouted = [pk for pk in case_ids if queues.get(pk) == "triage"]
    assert not unrouted, f"{len(unrouted)} cases were never routed: {unrouted[:10]}"
    expected = Counter(created=1, scored=1, routed=1)
    wrong = {
        pk: dict(counts)
        for pk, counts in event_counts(stack, case_ids).items()
        if counts != expected
    }
    assert not wrong, f"cases whose events are not created+scored+routed once each: {wrong}"
    assessments = dict(
        stack.sql(
            "SELECT case_id, count(*) FROM triage_triageassessment "
            "WHERE case_id = ANY(%s) AND NOT is_override GROUP BY case_id",
            (case_ids,),
        )
    )
    doubled = {pk: assessments.get(pk, 0) for pk in case_ids if assessments.get(pk, 0) != 1}
    assert not doubled, f"cases without exactly one automatic assessment: {doubled}"


def assert_global_invariants(stack: Stack) -> None:
    """No offer doubled, no case without its one case; no case routed twice or left
    routed without an event; no `created`/`scored` event doubled; no case moved twice
    by one transition job. Over every row in the drill database."""
    doubled_refs = stack.sql(
        "SELECT external_ref, count(*) FROM offers_offer WHERE external_ref IS NOT NULL "
        "GROUP BY external_ref HAVING count(*) > 1"
    )
    assert not doubled_refs, f"external_ref present more than once: {doubled_refs[:10]}"
    caseless = stack.sql(
        "SELECT o.id, count(c.id) FROM offers_offer o LEFT JOIN vipcases_case c "
        "ON c.offer_id = o.id GROUP BY o.id HAVING count(c.id) <> 1"
    )
    assert not caseless, f"offers without exactly one case: {caseless[:10]}"
    wrong = stack.sql(
        """
        SELECT c.id, c.queue, c.status,
               count(*) FILTER (WHERE e.kind = 'created') AS created,
               count(*) FILTER (WHERE e.kind = 'scored') AS scored,
               count(*) FILTER (WHERE e.kind = 'routed') AS routed
        FROM vipcases_case c LEFT JOIN vipcases_caseevent e ON e.case_id = c.id
        GROUP BY c.id
        HAVING count(*) FILTER (WHERE e.kind = 'created') <> 1
            OR count(*) FILTER (WHERE e.kind = 'scored') > 1
            OR count(*) FILTER (WHERE e.kind = 'routed') > 1
            OR (c.queue <> 'triage' AND count(*) FILTER (WHERE e.kind = 'routed') <> 1)
            OR (c.queue <> 'triage' AND count(*) FILTER (WHERE e.kind = 'scored') <> 1)
            OR (c.queue = 'triage' AND c.status = 'new'
                AND count(*) FILTER (WHERE e.kind = 'routed') <> 0)
        LIMIT 10
        """
    )
    assert not wrong, (
        "cases whose created/scored/routed events are not exactly once "
        f"(id, queue, status, created, scored, routed): {wrong}"
    )
    moved_twice = stack.sql(
        "SELECT case_id, data->>'job_id', count(*) FROM vipcases_caseevent "
        "WHERE kind = 'moved' AND data ? 'job_id' GROUP BY 1, 2 HAVING count(*) > 1 LIMIT 10"
    )
    assert not moved_twice, f"cases moved twice by one transition: {moved_twice}"
