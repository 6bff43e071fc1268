"""`python manage.py housekeeping [--dry-run]`: remove what is past its retention now.

The same as the daily `housekeeping` schedule (vipcases/housekeeping.py); prints how
many rows each step removed, or with --dry-run how many it would remove, removing none.
"""

from django.core.management.base import BaseCommand

from vipcases.housekeeping import housekeeping_run

LABELS = {
    "idempotency_records": "intake API idempotency records",
    "expired_sessions": "expired sessions",
    "sign_in_failures": "sign-in failures past the cool-off",
    "sign_in_records": "sign-in records",
    "import_files_cleared": "imported files' content cleared",
    "import_uploads_unconfirmed": "uploads never confirmed",
}


class Command(BaseCommand):
    help = "Remove rows past their retention (idempotency keys, sessions, sign-ins, imports)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="report what would go; remove nothing"
        )

    def handle(self, *args, **options):
        dry_run = options["dry_run"]
        counts = housekeeping_run(dry_run=dry_run, trigger="command")
        for name, count in counts.items():
            self.stdout.write(f"{LABELS.get(name, name)}: {count:,}")
        total = sum(counts.values())
        if dry_run:
            self.stdout.write(f"Dry run: {total:,} would go; nothing was removed.")
        else:
            self.stdout.write(self.style.SUCCESS(f"Removed {total:,}."))
