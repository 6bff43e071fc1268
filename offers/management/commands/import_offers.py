"""`python manage.py import_offers FILE [--dry-run]`: offers from a CSV or XLSX file.

Every row is validated before anything is written. Any invalid row: every error is
reported with its row and column, nothing is imported, and the exit status is 1. A
valid file is written in one transaction (all of it or none of it), then its new cases
are scored and routed in batches: by the Celery workers when a broker is configured
(REDIS_URL), in this process otherwise. Re-importing a file creates nothing new: offers whose
external_ref is already recorded are skipped, and any of the file's cases still waiting
for triage (say the command was stopped while scoring) are scored and routed.
"""

import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from tqdm import tqdm

from offers.importing import ImportFileError, gc_paused, import_parse
from offers.models import Offer
from offers.services import offers_import_bulk
from triage.services import cases_triage
from triage.tasks import cases_triage_task
from vipcases.codes import Queue, Status
from vipcases.models import Case

WRITE_BATCH = 5000
TRIAGE_BATCH = 500


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Command(BaseCommand):
    help = (
        "Import offers from a CSV or XLSX file (one row per offer line, grouped by "
        "external_ref). Nothing is imported unless every row is valid."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="a .csv (UTF-8) or .xlsx file; columns in the README")
        parser.add_argument(
            "--dry-run", action="store_true", help="validate and report only; write nothing"
        )
        parser.add_argument(
            "--user",
            metavar="USERNAME",
            help="record the offers as created by this user (default: the system)",
        )
        parser.add_argument(
            "--no-triage",
            action="store_true",
            help="leave scoring and routing to the workers' triage sweep",
        )
        parser.add_argument(
            "--no-progress", action="store_true", help="no progress bars (they go to stderr)"
        )

    def handle(self, *args, **options):
        path = Path(options["file"])
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
        acting_user = self._user(options["user"])
        show = not options["no_progress"]

        with self._bar("Checking rows", None, show) as bar:
            try:
                parsed = import_parse(
                    content, filename=path.name, now=timezone.now(), progress=bar.update
                )
            except ImportFileError as exc:
                raise CommandError(f"{path}: {exc}") from exc
        if not parsed.is_valid:
            for error in parsed.errors:
                self.stderr.write(f"{path.name}: {error}")
            raise CommandError(
                f"{len(parsed.errors):,} error{'s' if len(parsed.errors) != 1 else ''} in "
                f"{path.name}: nothing imported.",
                returncode=1,
            )

        refs = [offer.external_ref for offer in parsed.offers]
        recorded = set()
        for chunk in _chunks(refs, 5000):
            recorded.update(
                Offer.objects.filter(external_ref__in=chunk).values_list("external_ref", flat=True)
            )
        fresh = [offer for offer in parsed.offers if offer.external_ref not in recorded]
        summary = (
            f"{parsed.rows:,} rows, {len(parsed.offers):,} offers: {len(fresh):,} new, "
            f"{len(recorded):,} already imported."
        )
        if options["dry_run"]:
            self.stdout.write(f"{summary} Dry run: nothing written.")
            return

        created: list[int] = []
        duplicates = 0
        # The parsed offers are millions of objects: the garbage collector would walk them
        # again and again while they are written, to free nothing.
        with (
            gc_paused(),
            self._bar("Importing offers", len(fresh), show) as bar,
            transaction.atomic(),
        ):
            for batch in _chunks(fresh, WRITE_BATCH):
                outcome = offers_import_bulk(acting_user=acting_user, intakes=batch)
                created += outcome.created_case_ids
                duplicates += outcome.duplicates_linked
                bar.update(len(batch))
        del parsed, fresh  # nor while the cases are scored

        waiting = created + self._waiting_for_triage(recorded)
        triage = ""
        if waiting and options["no_triage"]:
            triage = " Scoring and routing left to the triage sweep."
        elif waiting and not cases_triage_task.app.conf.task_always_eager:
            sent = self._send_to_workers(waiting)
            triage = f" {sent:,} cases sent to the workers to be scored and routed."
        elif waiting:
            with self._bar("Scoring and routing", len(waiting), show) as bar:
                for batch in _chunks(waiting, TRIAGE_BATCH):
                    cases_triage(batch)
                    bar.update(len(batch))
        self.stdout.write(
            f"{summary} Imported {len(created):,} offers; {duplicates:,} linked to a "
            f"possible duplicate; {len(recorded):,} skipped.{triage}"
        )

    def _send_to_workers(self, case_ids: list[int]) -> int:
        """One task per batch. If the broker is down the cases stay in triage, where the
        triage sweep finds them once it is back: nothing is lost."""
        sent = 0
        for batch in _chunks(case_ids, TRIAGE_BATCH):
            try:
                cases_triage_task.delay(batch)
            except Exception as exc:  # noqa: BLE001 - kombu/redis raise many types
                self.stderr.write(
                    f"The broker is unavailable ({exc}); the triage sweep will score the rest."
                )
                break
            sent += len(batch)
        return sent

    def _user(self, username: str | None):
        if not username:
            return None
        try:
            return get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist as exc:
            raise CommandError(f"No user {username!r}.") from exc

    def _waiting_for_triage(self, refs: set[str]) -> list[int]:
        """Cases of offers imported earlier from this file that are still new in triage."""
        waiting = []
        for chunk in _chunks(sorted(refs), 5000):
            waiting += Case.objects.filter(
                offer__external_ref__in=chunk, queue=Queue.TRIAGE, status=Status.NEW
            ).values_list("pk", flat=True)
        return waiting

    def _bar(self, label: str, total: int | None, show: bool):
        return tqdm(
            total=total,
            desc=label,
            unit=" rows" if total is None else " offers",
            file=sys.stderr,
            disable=not show or None,
            leave=True,
        )
