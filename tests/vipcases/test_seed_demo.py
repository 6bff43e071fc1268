"""`manage.py seed_demo`: the default demo, scale mode, and the safety rules."""

import importlib
import io
import sys

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.db.models import Count, Max, Min, Q
from django.test import override_settings
from django.utils import timezone

from offers.models import Introducer, Introduction, Offer, OfferLine, Supplier
from vipcases.codes import Category, EventKind, IntroducerRole, Outcome, Queue, Status, StrapType
from vipcases.demo import DEMO_USERNAMES
from vipcases.models import Case, CaseEvent, Handover, MPEnquiry

ROLE_GROUPS = {
    "caseworker": ["caseworker"],
    "cw.amara": ["caseworker"],
    "cw.joel": ["caseworker"],
    "cw.nadia": ["caseworker"],
    "cw.tomasz": ["caseworker"],
    "manager": ["manager"],
    "mpinbox": ["mp_inbox"],
    "admin": [],
}


def seed(*args) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Offer, OfferLine, Supplier, Introducer, Introduction, Case, CaseEvent, User)
    }


def data_migrations_reapply() -> None:
    """Transactional tests elsewhere empty every table, data-migration rows included; put
    back the role groups and the starting triage tables (both idempotent)."""
    importlib.import_module("vipcases.migrations.0002_roles").create_roles(apps, None)
    importlib.import_module("triage.migrations.0002_starting_tables").create(apps, None)


@pytest.fixture
def ready(db, settings):
    data_migrations_reapply()
    settings.DEBUG = True


# --- scale mode and the safety rules, on an empty database ------------------------------


def test_it_builds_exactly_n_cases_at_scale(ready):
    output = seed("--cases", "2000", "--no-triage")

    assert Case.objects.count() == Offer.objects.count() == 2000
    assert not Offer.objects.filter(lines__isnull=True).exists()
    created = CaseEvent.objects.filter(kind=EventKind.CREATED)
    assert created.count() == 2000
    assert created.values("case").distinct().count() == 2000
    assert Case.objects.filter(queue=Queue.TRIAGE, status=Status.NEW).count() == 2000
    assert 0.3 < Introduction.objects.count() / 2000 < 0.5
    assert 2000 / 3 - 1 <= Supplier.objects.count() <= 2000 / 3 + 1
    assert "2,000 / 2,000 cases" in output


def test_it_triages_cases_built_at_scale(ready):
    seed("--cases", "120")

    assert not Case.objects.filter(queue=Queue.TRIAGE).exists()
    assert CaseEvent.objects.filter(kind=EventKind.ROUTED).count() == 120


def test_it_leaves_cases_in_triage_when_triage_is_not_available(ready, monkeypatch):
    monkeypatch.setitem(sys.modules, "triage.services", None)  # the import fails

    output = seed("--cases", "30")

    assert "triage not available yet: cases left in the triage queue" in output
    assert Case.objects.filter(queue=Queue.TRIAGE, status=Status.NEW).count() == 30


def test_it_does_not_create_demo_users_when_debug_is_off(ready, settings):
    settings.DEBUG = False

    output = seed("--cases", "20", "--no-triage")

    assert not User.objects.filter(username__in=DEMO_USERNAMES).exists()
    assert "Demo users not created" in output
    assert Case.objects.count() == 20


def test_it_creates_demo_users_when_debug_is_off_with_force(ready, settings):
    settings.DEBUG = False

    seed("--cases", "20", "--no-triage", "--force")

    assert User.objects.filter(username__in=DEMO_USERNAMES).count() == len(DEMO_USERNAMES)


def test_it_is_reproducible_from_the_seed(ready):
    def lines_of(offers):
        return [
            (line.category, line.description, line.quantity, line.unit_price, line.certificate)
            for line in OfferLine.objects.filter(offer__in=offers).order_by("offer_id", "id")
        ]

    seed("--cases", "40", "--no-triage", "--seed", "7")
    first = list(Offer.objects.order_by("id")[:40])
    seed("--cases", "40", "--no-triage", "--seed", "7", "--force")
    second = list(Offer.objects.order_by("id")[40:])

    assert lines_of(first) == lines_of(second)
    assert [o.supplier.name for o in first] == [o.supplier.name for o in second]


# --- the default demo, seeded once for this class --------------------------------------


@pytest.fixture(scope="class")
def demo_output(django_db_setup, django_db_blocker):
    """Seed the default demo once for the class, inside a transaction rolled back at the
    end, so no other test sees its rows. Each test runs in a savepoint inside it."""
    with django_db_blocker.unblock(), override_settings(DEBUG=True):
        with transaction.atomic():
            data_migrations_reapply()
            yield seed()
            transaction.set_rollback(True)


@pytest.mark.django_db
@pytest.mark.usefixtures("demo_output")
class TestTheDefaultDemo:
    def test_it_has_three_weeks_of_offers(self):
        assert 400 <= Offer.objects.count() <= 700
        received = Offer.objects.aggregate(first=Min("received_at"), last=Max("received_at"))
        assert 19 <= (received["last"] - received["first"]).days <= 21
        assert received["last"] < timezone.now()

    def test_it_has_about_300_cases_in_train(self):
        assert 250 <= Case.objects.exclude(status=Status.CLOSED).count() <= 350
        assert Case.objects.filter(status=Status.CLOSED).exists()

    def test_it_offers_every_category(self):
        assert set(OfferLine.objects.values_list("category", flat=True)) == set(Category.values)

    def test_it_has_the_traps_triage_must_catch(self):
        respirators = [Category.FFP3_RESPIRATOR, Category.FFP2_RESPIRATOR]
        lines = OfferLine.objects
        assert lines.filter(category__in=respirators, strap_type=StrapType.EAR_LOOP).exists()
        assert lines.filter(
            category=Category.GOWN, sterile=True, sterilisation_validation=""
        ).exists()
        assert lines.filter(sterilisation_validation="ISO 11137-2 dose audit").exists()
        assert lines.filter(certificate="").exists()
        assert lines.filter(certificate="CE 2797").exists()

    def test_it_has_every_introducer_role_and_direct_offers(self):
        roles = set(Introduction.objects.values_list("introducer__role", flat=True))
        assert roles == set(IntroducerRole.values)
        direct = Offer.objects.filter(introductions__isnull=True).count()
        assert 0.3 < direct / Offer.objects.count() < 0.6

    def test_it_creates_a_user_for_every_role(self):
        users = {u.username: u for u in User.objects.filter(username__in=DEMO_USERNAMES)}
        assert set(users) == set(ROLE_GROUPS)
        for username, groups in ROLE_GROUPS.items():
            assert sorted(users[username].groups.values_list("name", flat=True)) == groups
        assert users["admin"].is_superuser and users["admin"].is_staff
        assert users["caseworker"].check_password("demo-password-2020")

    def test_it_opens_every_case_with_a_created_event(self):
        per_case = Case.objects.annotate(
            created=Count("events", filter=Q(events__kind=EventKind.CREATED))
        )
        assert set(per_case.values_list("created", flat=True)) == {1}
        assert {kinds[0] for kinds in _timelines().values()} == {EventKind.CREATED}

    def test_it_keeps_every_timeline_in_time_order_and_in_the_past(self):
        now = timezone.now()
        stamps: dict[int, list] = {}
        for case_id, at in CaseEvent.objects.order_by("id").values_list("case_id", "created_at"):
            stamps.setdefault(case_id, []).append(at)
        assert all(times == sorted(times) and times[-1] < now for times in stamps.values())
        spread = CaseEvent.objects.exclude(kind=EventKind.CREATED).aggregate(
            first=Min("created_at"), last=Max("created_at")
        )
        assert (spread["last"] - spread["first"]).days >= 14
        for model in (Handover, MPEnquiry):  # rows the services stamp by field default
            # Stamped by the real clock they would all fall within the seeding's seconds;
            # how many days the simulation spreads them over depends on the hour it runs.
            spread = model.objects.aggregate(first=Min("created_at"), last=Max("created_at"))
            assert (spread["last"] - spread["first"]).days >= 1

    def test_it_works_cases_through_the_services(self):
        kinds = set(CaseEvent.objects.values_list("kind", flat=True))
        assert {
            EventKind.DECLARATION,
            EventKind.CLAIMED,
            EventKind.ASSIGNED,
            EventKind.STATUS_CHANGED,
            EventKind.NOTE,
            EventKind.CHASER,
            EventKind.ENQUIRY,
            EventKind.REPLY,
            EventKind.HANDED_OVER,
            EventKind.CLOSED,
        } <= kinds
        assert CaseEvent.objects.filter(kind=EventKind.NOTE, restricted=True).exists()
        assert Case.objects.filter(outcome=Outcome.CONTRACT_AWARDED).exists()
        assert Case.objects.filter(outcome=Outcome.REJECTED).exists()
        assert MPEnquiry.objects.exists()
        owned = Case.objects.exclude(status=Status.CLOSED).exclude(owner=None)
        assert owned.values("owner").distinct().count() >= 4
        decisions = CaseEvent.objects.filter(kind=EventKind.CLOSED).exclude(actor=None)
        assert decisions.exists() and not decisions.filter(rationale="").exists()

    def test_it_prints_a_summary_and_the_logins(self, demo_output):
        assert "Cases by queue and status:" in demo_output
        assert "demo-password-2020" in demo_output
        assert "Open http://127.0.0.1:8000/ and sign in" in demo_output

    def test_it_refuses_to_seed_again_and_creates_nothing(self):
        before = counts()

        with pytest.raises(CommandError, match="already has") as refused:
            seed()

        assert refused.value.returncode == 1
        assert counts() == before

    def test_it_skips_seeding_if_not_empty(self):
        before = counts()

        output = seed("--if-empty")

        assert f"Database already has {before['Offer']} offers; not seeding." in output
        assert "cw.amara" in output
        assert counts() == before

    def test_it_adds_with_force_without_deleting_anything(self):
        offers = set(Offer.objects.values_list("pk", flat=True))
        events = set(CaseEvent.objects.values_list("pk", flat=True))

        seed("--force", "--cases", "50", "--no-triage")

        assert offers < set(Offer.objects.values_list("pk", flat=True))
        assert events < set(CaseEvent.objects.values_list("pk", flat=True))
        assert Offer.objects.count() == len(offers) + 50


def _timelines() -> dict[int, list[str]]:
    timelines: dict[int, list[str]] = {}
    for case_id, kind in CaseEvent.objects.order_by("created_at", "id").values_list(
        "case_id", "kind"
    ):
        timelines.setdefault(case_id, []).append(kind)
    return timelines
