"""Case events are append-only (database triggers) and chained by hash (vipcases/events.py),
and `manage.py verify_events` finds any break."""

import random
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.models import ProtectedError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from offers.services import offers_import_bulk
from tests import factories
from triage.services import cases_triage
from vipcases import demo, services
from vipcases import events as events_module
from vipcases.codes import EventKind, Queue
from vipcases.events import (
    HASHED_FIELDS,
    ChainCheck,
    append_only_triggers_missing,
    event_append,
    event_hash,
    event_rows,
    events_append,
    sqlite_triggers_lifted,
)
from vipcases.models import Case, CaseEvent

pytestmark = pytest.mark.django_db

TABLE = CaseEvent._meta.db_table
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "offers.csv"
ON_SQLITE = connection.vendor == "sqlite"
sqlite_only = pytest.mark.skipif(
    settings.DATABASE_IS_POSTGRES, reason="SQLite's triggers (the suite runs on PostgreSQL)"
)


def chain_of(case: Case) -> list[CaseEvent]:
    return list(CaseEvent.objects.filter(case=case).order_by("id"))


def recomputed(event: CaseEvent) -> str:
    return event_hash(
        **{name: getattr(event, name) for name in HASHED_FIELDS}, prev_hash=event.prev_hash
    )


def verify(*args) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("verify_events", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue() + str(exc)
    return 0, out.getvalue()


@contextmanager
def triggers_off():
    """What someone with the table's ownership could do: lift the append-only triggers
    (inside the test's transaction, so they come back when it rolls back)."""
    if ON_SQLITE:
        with sqlite_triggers_lifted(connection):
            yield
        return
    with connection.cursor() as cursor:
        # Pending foreign-key checks would stop ALTER TABLE: run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER caseevent_append_only")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER caseevent_append_only")


def tamper(sql: str, params=()) -> None:
    with triggers_off(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.fixture
def worked_case(caseworker):
    """A case with a timeline of several events: created, scored, routed, claimed, a note."""
    case = factories.case(name="Chainwell Ltd")
    services.case_claim(case_id=case.pk, acting_user=caseworker, no_conflict_declared=True)
    services.case_add_note(case_id=case.pk, acting_user=caseworker, text="Samples requested.")
    return case


# --- the chain -------------------------------------------------------------------------------


def test_it_chains_each_case_events_in_the_order_they_were_appended(worked_case):
    events = chain_of(worked_case)
    assert len(events) >= 5
    assert events[0].kind == EventKind.CREATED and events[0].prev_hash == ""
    for before, after in zip(events, events[1:], strict=False):
        assert after.prev_hash == before.hash
    assert all(event.hash == recomputed(event) for event in events)
    assert len({event.hash for event in events}) == len(events)


def test_it_chains_several_cases_in_one_call_with_one_lookup_and_one_insert(worked_case):
    other = factories.case(name="Otherwell Ltd")
    tips = {case.pk: chain_of(case)[-1].hash for case in (worked_case, other)}
    batch = [
        CaseEvent(case=worked_case, kind=EventKind.NOTE, rationale="one"),
        CaseEvent(case=other, kind=EventKind.NOTE, rationale="two"),
        CaseEvent(case=worked_case, kind=EventKind.NOTE, rationale="three"),
    ]

    with CaptureQueriesContext(connection) as queries:
        saved = events_append(batch)

    assert len(queries) == 2  # the cases' last hashes, then one INSERT
    assert all(event.pk for event in saved)
    assert saved[0].prev_hash == tips[worked_case.pk]
    assert saved[1].prev_hash == tips[other.pk]
    assert saved[2].prev_hash == saved[0].hash
    assert verify()[0] == 0


def test_it_chains_to_the_last_event_appended_not_the_latest_in_time(worked_case):
    backdated = event_append(
        CaseEvent(
            case=worked_case,
            kind=EventKind.NOTE,
            rationale="Recorded late.",
            created_at=timezone.now() - timedelta(days=30),
        )
    )
    after = event_append(CaseEvent(case=worked_case, kind=EventKind.NOTE, rationale="Next."))
    assert after.prev_hash == backdated.hash
    assert verify()[0] == 0


def test_a_batch_inserted_in_parts_keeps_list_order_as_id_order(worked_case):
    other = factories.case(name="Otherwell Ltd")
    batch = [
        CaseEvent(case=case, kind=EventKind.NOTE, rationale=f"note {n}")
        for n, case in enumerate([worked_case, other] * 3)
    ]
    saved = events_append(batch, batch_size=4)
    assert [event.pk for event in saved] == sorted(event.pk for event in saved)
    assert all(not event._state.adding for event in saved)
    for case in (worked_case, other):
        mine = [event for event in saved if event.case_id == case.pk]
        assert [event.pk for event in chain_of(case)[-3:]] == [event.pk for event in mine]
    assert verify()[0] == 0


def test_it_skips_the_lookup_for_cases_created_in_the_transaction():
    case = factories.case()
    with triggers_off():  # make room for a case with no events, as if just created
        CaseEvent.objects.filter(case=case).delete()
    with CaptureQueriesContext(connection) as queries:
        event_append(CaseEvent(case=case, kind=EventKind.CREATED), new_case=True)
    assert len(queries) == 1


def test_it_refuses_a_fork_of_a_chain(worked_case):
    # Appending as if the case had no events yet: a second first event.
    with pytest.raises(IntegrityError), transaction.atomic():
        event_append(CaseEvent(case=worked_case, kind=EventKind.NOTE), new_case=True)


def test_it_refuses_an_event_written_without_its_hash(worked_case):
    with pytest.raises(IntegrityError), transaction.atomic():
        CaseEvent.objects.create(case=worked_case, kind=EventKind.NOTE, rationale="no hash")


def test_the_hash_covers_the_values_as_they_read_back(worked_case):
    event = event_append(
        CaseEvent(
            case=worked_case,
            kind=EventKind.NOTE,
            rationale="Prix: 1,85 € — “quoted”\r\nsecond line",
            from_value=42,
            data={
                "z": (1, 2),
                7: "int key",
                "big": 1e16,
                "whole": 2.0,
                "small": 1.5e-7,
                "nested": {"b": [True, None], "a": "ü"},
            },
            created_at=datetime(2020, 4, 28, 9, 30, 0, 123456, tzinfo=ZoneInfo("Europe/London")),
        )
    )
    assert event.from_value == "42"
    stored = CaseEvent.objects.get(pk=event.pk)
    assert stored.hash == event.hash == recomputed(stored)
    assert stored.created_at == datetime(2020, 4, 28, 8, 30, 0, 123456, tzinfo=UTC)


def test_it_refuses_a_naive_datetime(worked_case):
    with pytest.raises(ValueError, match="aware"):
        event_append(
            CaseEvent(case=worked_case, kind=EventKind.NOTE, created_at=datetime(2020, 4, 28, 9))
        )


def test_scoring_routing_and_bulk_moves_keep_every_chain_intact(manager):
    cases = [factories.case(name=f"Bulkwell {n} Ltd") for n in range(6)]
    cases_triage([case.pk for case in cases])
    open_cases = Case.objects.filter(pk__in=[c.pk for c in cases]).exclude(queue=Queue.CLOSED)
    services.cases_bulk_move(
        case_ids=[case.pk for case in open_cases if case.queue != Queue.MP_INBOX][:3],
        to_queue=Queue.MP_INBOX,
        acting_user=manager,
        rationale="Tracking only.",
    )
    code, output = verify()
    assert code == 0, output


def test_the_bulk_import_chains_new_cases_without_a_lookup(caseworker, monkeypatch):
    from offers.importing import import_parse

    looked_up = []
    original = events_module.latest_hashes
    monkeypatch.setattr(
        events_module, "latest_hashes", lambda ids: looked_up.append(ids) or original(ids)
    )
    parsed = import_parse(EXAMPLE.read_bytes(), filename="offers.csv", now=timezone.now())
    outcome = offers_import_bulk(acting_user=caseworker, intakes=parsed.offers)

    assert outcome.created_case_ids and looked_up == []
    code, output = verify()
    assert code == 0, output


def test_the_demo_writer_keeps_every_chain_intact():
    demo.scale_seed(
        rng=random.Random(8), now=timezone.now(), count=40, triage=True, log=lambda _: None
    )
    code, output = verify()
    assert code == 0, output
    assert "of 40 cases" in output


# --- append-only -----------------------------------------------------------------------------


def refused(action) -> None:
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        action()


def test_an_event_cannot_be_changed_through_the_orm(worked_case):
    event = chain_of(worked_case)[-1]
    event.rationale = "Something else."
    refused(event.save)
    refused(lambda: CaseEvent.objects.filter(case=worked_case).update(rationale="rewritten"))
    assert CaseEvent.objects.filter(rationale="rewritten").count() == 0


def test_an_event_cannot_be_deleted_through_the_orm(worked_case):
    count = CaseEvent.objects.filter(case=worked_case).count()
    refused(chain_of(worked_case)[-1].delete)
    refused(CaseEvent.objects.filter(case=worked_case).delete)
    assert CaseEvent.objects.filter(case=worked_case).count() == count


def test_an_event_cannot_be_changed_or_deleted_in_sql(worked_case):
    event = chain_of(worked_case)[-1]

    def execute(sql):
        with connection.cursor() as cursor:
            cursor.execute(sql, [event.pk])

    refused(lambda: execute(f"UPDATE {TABLE} SET rationale = 'x' WHERE id = %s"))  # noqa: S608
    refused(lambda: execute(f"DELETE FROM {TABLE} WHERE id = %s"))  # noqa: S608
    assert CaseEvent.objects.get(pk=event.pk).rationale == event.rationale


def test_a_case_with_events_cannot_be_deleted(worked_case):
    with pytest.raises(ProtectedError), transaction.atomic():
        worked_case.delete()


@pytest.mark.postgres
def test_postgresql_refuses_with_an_integrity_error_that_says_what_to_do(worked_case):
    import psycopg

    event = chain_of(worked_case)[-1]
    with pytest.raises(IntegrityError) as raised, transaction.atomic():
        CaseEvent.objects.filter(pk=event.pk).delete()
    cause = raised.value.__cause__
    assert isinstance(cause, psycopg.errors.IntegrityConstraintViolation)
    assert cause.sqlstate == "23000"
    assert f"DELETE of event {event.pk} refused" in str(cause)
    assert "event_append" in cause.diag.message_hint
    assert append_only_triggers_missing(connection) == []


@sqlite_only
def test_sqlite_refuses_with_an_integrity_error(worked_case):
    with pytest.raises(IntegrityError, match="append-only: UPDATE refused"), transaction.atomic():
        CaseEvent.objects.filter(case=worked_case).update(restricted=True)
    assert append_only_triggers_missing(connection) == []


@sqlite_only
def test_flush_empties_the_events_on_sqlite_and_keeps_the_triggers(worked_case):
    call_command("flush", interactive=False, inhibit_post_migrate=True, verbosity=0)
    assert CaseEvent.objects.count() == 0
    assert append_only_triggers_missing(connection) == []


@pytest.mark.django_db(transaction=True)
def test_the_test_framework_can_still_empty_the_events_between_tests():
    """Teardown flushes every table: TRUNCATE on PostgreSQL, which the row triggers do
    not see; DELETE on SQLite, with the triggers lifted by vipcases' flush command."""
    factories.case()
    assert CaseEvent.objects.exists()


# --- verify_events ---------------------------------------------------------------------------


def test_verify_events_reports_intact_chains(worked_case):
    factories.case(name="Secondwell Ltd")
    events = CaseEvent.objects.count()
    code, output = verify()
    assert code == 0
    assert f"Checked {events:,} events of 2 cases." in output
    assert "Every chain is intact." in output
    assert "Digest of the chain heads: " in output


def test_verify_events_names_an_event_changed_behind_the_triggers(worked_case):
    changed = chain_of(worked_case)[2]
    tamper(f"UPDATE {TABLE} SET rationale = %s WHERE id = %s", ["Nothing to see.", changed.pk])  # noqa: S608

    code, output = verify()

    assert code == 1
    assert f"case {worked_case.pk} (PPE-{worked_case.pk:06d}), event {changed.pk}:" in output
    assert "does not match its hash" in output
    assert f"found {changed.hash}" in output
    assert "1 break" in output


def test_verify_events_finds_a_removed_event(worked_case):
    events = chain_of(worked_case)
    removed, after = events[2], events[3]
    tamper(f"DELETE FROM {TABLE} WHERE id = %s", [removed.pk])  # noqa: S608

    code, output = verify()

    assert code == 1
    assert f"event {after.pk}: its prev_hash is not the hash of the event before it" in output
    assert f"expected {events[1].hash}, found {removed.hash}" in output


def test_verify_events_finds_an_event_rewritten_with_a_fresh_hash(worked_case):
    events = chain_of(worked_case)
    target = events[1]
    target.rationale = "Rewritten."
    tamper(
        f"UPDATE {TABLE} SET rationale = %s, hash = %s WHERE id = %s",  # noqa: S608
        [target.rationale, recomputed(target), target.pk],
    )

    code, output = verify()

    assert code == 1
    assert f"event {events[2].pk}: its prev_hash is not the hash" in output


def test_verify_events_checks_one_case(worked_case):
    other = factories.case(name="Secondwell Ltd")
    tamper(f"UPDATE {TABLE} SET rationale = 'x' WHERE case_id = %s", [worked_case.pk])  # noqa: S608

    code, output = verify("--case", str(other.pk))

    assert code == 0
    assert "of 1 case." in output
    assert verify("--case", str(worked_case.pk))[0] == 1


def test_verify_events_fails_when_the_triggers_are_off(worked_case):
    with triggers_off():
        code, output = verify()
    assert code == 1
    assert "is missing or disabled" in output
    assert verify()[0] == 0


def test_the_chain_check_reports_every_break_and_carries_on():
    check = ChainCheck()
    rows = []
    for n in range(3):
        content = {
            "case_id": 1,
            "kind": "note",
            "actor_id": None,
            "created_at": datetime(2020, 5, 1, 9, n, tzinfo=UTC),
            "from_value": "",
            "to_value": "",
            "rationale": f"note {n}",
            "restricted": False,
            "data": {},
        }
        prev = rows[-1]["hash"] if rows else ""
        rows.append(
            {
                "id": n + 1,
                "prev_hash": prev,
                "hash": event_hash(**content, prev_hash=prev),
                **content,
            }
        )
    rows[0]["rationale"] = "changed"
    rows[2]["prev_hash"] = "0" * 64

    breaks = [found for row in rows for found in check.feed(row)]

    assert [(b.event_id, "hash" in b.problem) for b in breaks] == [(1, True), (3, True), (3, True)]
    assert (check.cases, check.events, check.breaks) == (1, 3, 3)


# --- the migration ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_chains_the_events_already_recorded():
    before = [("vipcases", "0005_exports_and_dashboard_indexes")]
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    cases = [factories.case(name=f"Legacy {n} Ltd") for n in range(3)]
    executor.migrate(before)
    try:
        old_apps = executor.loader.project_state(before).apps
        OldEvent = old_apps.get_model("vipcases", "CaseEvent")
        earlier = timezone.now() - timedelta(days=30)
        # Rows as the old code wrote them, some stamped earlier than events before them.
        OldEvent.objects.bulk_create(
            [
                OldEvent(
                    case_id=cases[0].pk, kind="note", rationale="late entry", created_at=earlier
                ),
                OldEvent(case_id=cases[1].pk, kind="note", data={"x": [1, 2.5]}),
                OldEvent(case_id=cases[0].pk, kind="chaser", data={"who": "Minister's office"}),
            ]
        )
        with connection.cursor() as cursor:  # no triggers yet
            cursor.execute(f"UPDATE {TABLE} SET rationale = rationale || '.'")  # noqa: S608
    finally:
        executor.loader.build_graph()
        executor.migrate(leaves)

    code, output = verify()
    assert code == 0, output
    for case in cases:
        events = chain_of(case)
        assert events[0].prev_hash == ""
        assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:], strict=False))
    assert append_only_triggers_missing(connection) == []
    assert sum(1 for _ in event_rows()) == CaseEvent.objects.count()


# --- cost ------------------------------------------------------------------------------------


def test_a_case_action_costs_one_query_more_for_the_chain(worked_case, caseworker):
    with CaptureQueriesContext(connection) as queries:
        services.case_add_note(case_id=worked_case.pk, acting_user=caseworker, text="Chased.")
    on_events = [q["sql"] for q in queries if TABLE in q["sql"]]
    assert len(on_events) == 2  # the last hash of the case, and the INSERT
    assert on_events[0].lstrip().upper().startswith("SELECT")
    assert on_events[1].lstrip().upper().startswith("INSERT")


# --- the disclosure pack ---------------------------------------------------------------------


def test_the_disclosure_pack_shows_each_event_hash(worked_case, client_for, caseworker):
    events = chain_of(worked_case)
    page = client_for(caseworker).get(f"/cases/{worked_case.pk}/disclosure/").text
    for event in events:
        assert f'<code title="{event.hash}">{event.hash[:16]}</code>' in page
    assert f"verify_events --case {worked_case.pk}" in page
