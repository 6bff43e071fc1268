"""`python manage.py seed_demo`: invented demo data, or `--cases N` of it for scale.

The data generation lives in vipcases/demo.py; this command checks that seeding is
safe, creates the demo users where that is allowed, and reports.
"""

import random

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from offers.models import Offer
from vipcases import demo

DEFAULT_PASSWORD = "demo-password-2020"  # noqa: S105 - demo accounts, created only with DEBUG or --force
ROLE_LABELS = {
    "caseworker": "caseworker",
    "manager": "manager",
    "mp_inbox": "MP inbox",
    "admin": "admin (superuser)",
}


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = (
        "Fill an empty database with invented demo data: about 300 cases in train and three "
        "weeks of offers, triaged and worked. --cases N writes N cases in bulk for scale tests."
    )

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=2020, help="random seed (default 2020)")
        parser.add_argument(
            "--password",
            default=DEFAULT_PASSWORD,
            help=f"password of new demo users (default {DEFAULT_PASSWORD})",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="add demo data even if there are offers already (nothing is deleted), "
            "and create the demo users even when DEBUG is off",
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="seed only if there are no offers; otherwise do nothing",
        )
        parser.add_argument(
            "--cases",
            type=positive_int,
            metavar="N",
            help="write N cases in bulk instead of the demo",
        )
        parser.add_argument(
            "--no-triage", action="store_true", help="leave the cases in the triage queue"
        )

    def handle(self, *args, **options):
        password = options["password"]
        existing = Offer.objects.count()
        if existing and options["if_empty"]:
            self.stdout.write(f"Database already has {existing} offers; not seeding.")
            self._print_logins(password, created=set())
            return
        if existing and not options["force"]:
            raise CommandError(
                f"The database already has {existing:,} offers; seed_demo fills an empty database only. "
                "Use --force to add demo data anyway (it never deletes anything), or --if-empty to "
                "skip seeding when there is data."
            )

        created: set[str] = set()
        if settings.DEBUG or options["force"]:
            try:
                created = demo.demo_users_ensure(password=password)
            except LookupError as exc:
                raise CommandError(str(exc)) from exc
            if created:
                why = "DEBUG is on" if settings.DEBUG else "--force was given"
                self.stdout.write(
                    f"Created {len(created)} demo users with a known password because {why}; "
                    "without DEBUG or --force they are never created."
                )
        else:
            self.stdout.write(
                "Demo users not created: DEBUG is off, and a known password must never reach a "
                "production system by accident. Use --force to create them anyway."
            )
        users = demo.demo_users_loaded()
        triage = not options["no_triage"]

        rng = random.Random(options["seed"])
        now = timezone.now()
        if options["cases"]:
            self.stdout.write(
                f"Writing {options['cases']:,} cases in bulk (seed {options['seed']})…"
            )
            result = demo.scale_seed(
                rng=rng, now=now, count=options["cases"], triage=triage, log=self.stdout.write
            )
        else:
            self.stdout.write(f"Writing the demo (seed {options['seed']})…")
            result = demo.demo_seed(
                rng=rng, now=now, users=users, triage=triage, log=self.stdout.write
            )
        self.stdout.write(f"Seeded {result.cases:,} cases in {result.seconds:.1f} s.")
        self.stdout.write("")
        for line in demo.summary_lines():
            self.stdout.write(line)
        self.stdout.write("")
        self._print_logins(password, created=created)

    def _print_logins(self, password: str, *, created: set[str]) -> None:
        rows = demo.demo_logins(password=password)
        if not rows:
            self.stdout.write("No demo users exist.")
            return
        self.stdout.write("Demo logins:")
        self.stdout.write(f"  {'username':<12} {'role':<18} password")
        for username, role, shown in rows:
            note = "  (new)" if username in created else ""
            self.stdout.write(f"  {username:<12} {ROLE_LABELS.get(role, role):<18} {shown}{note}")
        self.stdout.write("Open http://127.0.0.1:8000/ and sign in.")
