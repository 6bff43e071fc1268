"""`python manage.py verify_events [--case ID]`: check that case timelines are intact.

Recomputes every case's chain of event hashes (vipcases/events.py), streaming the events
in chain order, and reports each break: the case, the event, and the hash expected
against the one found. Also checks that the triggers keeping events append-only are in
place. Exit status 0 when everything is intact, 1 when not.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from vipcases.events import ChainCheck, append_only_triggers_missing, event_rows
from vipcases.models import CaseEvent

CHUNK_SIZE = 5_000


class Command(BaseCommand):
    help = "Recompute the hash chain of every case's events and report any break."

    def add_arguments(self, parser):
        parser.add_argument("--case", type=int, metavar="ID", help="check this case only")

    def handle(self, *args, **options):
        case_id = options["case"]
        check = ChainCheck()
        bar = self._progress_bar(case_id)
        write = bar.write if bar is not None else self.stdout.write
        try:
            for row in event_rows(case_id=case_id, chunk_size=CHUNK_SIZE):
                for found in check.feed(row):
                    write(self.style.ERROR(f"BREAK {found}"))
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
        heads = check.finish()
        missing = append_only_triggers_missing(connection)

        cases = "case" if check.cases == 1 else "cases"
        self.stdout.write(f"Checked {check.events:,} events of {check.cases:,} {cases}.")
        self.stdout.write(f"Digest of the chain heads: {heads}")
        for name in missing:
            self.stdout.write(
                self.style.ERROR(
                    f"The trigger {name} is missing or disabled: case events can be changed."
                )
            )
        if check.breaks or missing:
            problems = []
            if check.breaks:
                problems.append(f"{check.breaks:,} break{'s' if check.breaks != 1 else ''}")
            if missing:
                problems.append("append-only trigger missing or disabled")
            raise CommandError(f"Case events are NOT intact: {'; '.join(problems)}.", returncode=1)
        self.stdout.write(self.style.SUCCESS("Every chain is intact."))

    def _progress_bar(self, case_id):
        if not self.stdout.isatty():
            return None
        from tqdm import tqdm

        rows = CaseEvent.objects.all()
        if case_id is not None:
            rows = rows.filter(case_id=case_id)
        return tqdm(total=rows.count(), unit="event", unit_scale=True, desc="verify_events")
