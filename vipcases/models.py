"""Cases, their append-only timeline, handovers and MP enquiries.

Only the services in vipcases/services.py change these rows; every change writes
a CaseEvent in the same transaction.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Length
from django.db.models.lookups import Exact
from django.urls import reverse
from django.utils import timezone

from offers.models import Offer
from vipcases.codes import EnquiryStatus, EventKind, IntroducerRole, Outcome, Queue, Status


class Case(models.Model):
    offer = models.OneToOneField(Offer, on_delete=models.PROTECT, related_name="case")
    queue = models.CharField(max_length=20, choices=Queue.choices, default=Queue.TRIAGE)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="owned_cases",
    )
    # The effective clinical-need score (an override if there is one, else the
    # automatic score) that orders the work. Set only by triage; never by who
    # introduced the offer. 0 until scored.
    priority = models.PositiveSmallIntegerField(default=0)
    eligible = models.BooleanField(null=True, help_text="from the latest triage; null until scored")
    # Age is counted from when the offer reached government, not when it was keyed in.
    opened_at = models.DateTimeField()
    sla_due_at = models.DateTimeField(null=True, blank=True)
    sla_breached_at = models.DateTimeField(
        null=True, blank=True, help_text="when the SLA breach was flagged and the owner told"
    )
    outcome = models.CharField(max_length=30, choices=Outcome.choices, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="duplicates"
    )
    # Two facts kept on the case when they happen, so the fairness report and the
    # dashboard read one table instead of joining every introduction and routing event:
    # the most senior introducer's role when the case opened ("" if nobody introduced
    # the offer; codes.lead_introducer_role), and the queue the latest routing decision
    # chose ("" until routed). The events and introductions stay the record.
    lead_introducer_role = models.CharField(
        max_length=20, choices=IntroducerRole.choices, blank=True, editable=False
    )
    routed_queue = models.CharField(
        max_length=20, choices=Queue.choices, blank=True, editable=False
    )
    # A copy of the supplier's name for the case list's search, kept by the database
    # (triggers, migration 0010): whatever the application writes here is replaced.
    supplier_name = models.CharField(
        max_length=200,
        blank=True,
        default="",
        editable=False,
        help_text=(
            "the supplier's name, kept by database triggers (migration 0010) for "
            "the case list's search; never written by the application"
        ),
    )
    # Optimistic concurrency: every service update bumps it and refuses a stale one.
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        permissions = [
            ("work_case", "Can claim and work cases"),
            ("manage_cases", "Can assign, bulk move and see dashboards"),
            ("view_restricted_notes", "Can see notes marked restricted"),
            ("use_mp_inbox", "Can work the MP inbox"),
        ]
        indexes = [
            # Work order inside a queue: score, then age.
            models.Index(
                fields=["queue", "status", "-priority", "opened_at"], name="case_queue_work_idx"
            ),
            models.Index(fields=["queue", "-priority", "opened_at"], name="case_queue_order_idx"),
            models.Index(
                fields=["owner", "status", "-priority", "opened_at"], name="case_owner_work_idx"
            ),
            models.Index(
                fields=["queue", "-priority", "opened_at"],
                condition=Q(owner__isnull=True),
                name="case_unassigned_idx",
            ),
            models.Index(fields=["status", "opened_at"], name="case_status_age_idx"),
            models.Index(fields=["sla_due_at"], name="case_sla_idx"),
            models.Index(fields=["closed_at"], name="case_closed_idx"),
            models.Index(fields=["priority"], name="case_priority_idx"),
            models.Index(fields=["opened_at"], name="case_opened_idx"),
            # The case list's open cases (most cases, once closed, are not): its default
            # order, oldest first and SLA due first, each a short index scan at any size.
            models.Index(
                fields=["-priority", "opened_at", "id"],
                condition=~Q(status=Status.CLOSED),
                name="case_open_work_idx",
            ),
            models.Index(
                fields=["opened_at", "id"],
                condition=~Q(status=Status.CLOSED),
                name="case_open_age_idx",
            ),
            models.Index(
                fields=["sla_due_at", "id"],
                condition=~Q(status=Status.CLOSED),
                name="case_open_sla_idx",
            ),
            # The backlog dashboard's figures over open cases (by queue, status, owner, age
            # and SLA), each read from this index alone on PostgreSQL (index-only scan).
            models.Index(
                fields=["queue", "status", "owner", "opened_at", "sla_due_at", "id"],
                condition=~Q(status=Status.CLOSED),
                name="case_open_dashboard_idx",
            ),
            # Open cases by their offer, with the columns the list's filters read: the
            # supplier search reaches open cases from the matching suppliers' offers
            # without visiting the closed ones, and the product category filter merges
            # the open cases in a score band, in offer order, with the category's lines,
            # from this index alone (on PostgreSQL an index-only scan: the caseworkers'
            # `queue IN (…)` needs no table row).
            models.Index(
                fields=["offer", "queue", "priority"],
                condition=~Q(status=Status.CLOSED),
                name="case_open_offer_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        return f"PPE-{self.pk:06d}" if self.pk else "PPE-new"

    @property
    def is_open(self) -> bool:
        return self.status != Status.CLOSED


class CaseEvent(models.Model):
    """One entry of a case's append-only timeline: who, when, what and why.

    Written only by vipcases.events.events_append, which chains it to the case's previous
    event by hash; database triggers refuse any UPDATE or DELETE (migration 0006)."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="empty for the system (triage, routing, schedules)",
    )
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    created_at = models.DateTimeField(default=timezone.now)
    from_value = models.CharField(max_length=100, blank=True)
    to_value = models.CharField(max_length=100, blank=True)
    rationale = models.TextField(blank=True)
    restricted = models.BooleanField(
        default=False, help_text="commercial note hidden from the MP-inbox team"
    )
    data = models.JSONField(default=dict, blank=True)
    # The case's chain (vipcases/events.py): set by events_append, never by hand.
    prev_hash = models.CharField(
        max_length=64,
        blank=True,
        default="",
        editable=False,
        help_text="hash of the event before this one on the same case; empty for the first",
    )
    hash = models.CharField(
        max_length=64,
        editable=False,
        help_text="SHA-256 of this event's content and prev_hash",
    )

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["case", "created_at"], name="caseevent_case_idx"),
            models.Index(fields=["kind", "created_at"], name="caseevent_kind_idx"),
            # The order of each case's chain: events_append finds a case's last event here.
            models.Index(fields=["case", "id"], name="caseevent_chain_order_idx"),
        ]
        constraints = [
            # One successor per event (and one first event per case): a forked chain is
            # refused by the database, not stored.
            models.UniqueConstraint(fields=["case", "prev_hash"], name="caseevent_chain_unique"),
            # Every event is written through vipcases.events.events_append, with its hash.
            models.CheckConstraint(
                condition=Exact(Length("hash"), 64), name="caseevent_hash_present"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on case {self.case_id}"


class Handover(models.Model):
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="handovers")
    from_queue = models.CharField(max_length=20, choices=Queue.choices)
    to_queue = models.CharField(max_length=20, choices=Queue.choices)
    reason = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"Case {self.case_id}: {self.from_queue} → {self.to_queue}"


class MPEnquiry(models.Model):
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="enquiries")
    mp_name = models.CharField("MP", max_length=200)
    constituency = models.CharField(max_length=200, blank=True)
    received_at = models.DateTimeField()
    question = models.TextField()
    status = models.CharField(
        max_length=10, choices=EnquiryStatus.choices, default=EnquiryStatus.OPEN, db_index=True
    )
    reply = models.TextField(blank=True)
    replied_at = models.DateTimeField(null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "MP enquiry"
        verbose_name_plural = "MP enquiries"
        indexes = [models.Index(fields=["status", "received_at"], name="mpenquiry_status_idx")]

    def __str__(self) -> str:
        return f"{self.mp_name} on case {self.case_id}"


class BackgroundJob(models.Model):
    """Long work done by workers in batches (re-scoring, policy transitions, imports),
    with progress a page can show. Batches record what they finished, so a job that
    lost its worker resumes where it stopped instead of starting again."""

    class Kind(models.TextChoices):
        RESCORE = "rescore", "Re-score open cases"
        TRANSITION = "transition", "Apply a routing policy"
        IMPORT = "import", "Import offers"

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        RUNNING = "running", "Running"
        DONE = "done", "Finished"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    description = models.CharField(max_length=300)
    params = models.JSONField(default=dict, blank=True)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # Bumped with every committed batch: a running job that has not moved for a while
    # lost its worker, and the schedule starts it again (vipcases.tasks.jobs_resume_task).
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["kind", "-created_at"], name="job_kind_idx"),
            models.Index(fields=["state", "updated_at"], name="job_state_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_state_display()})"

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, (100 * self.done) // self.total)


class SavedFilter(models.Model):
    """A manager's named case-list filter: the list's URL parameters (tab, filters,
    sort), kept so the same list is one click away. Written by
    vipcases.services.saved_filter_create / saved_filter_delete."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_case_filters"
    )
    name = models.CharField(max_length=100)
    query = models.CharField(
        max_length=2000, blank=True, help_text='URL parameters, e.g. "tab=vip&status=new"'
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="savedfilter_owner_name_unique")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def url(self) -> str:
        return reverse("case_list") + ("?" + self.query if self.query else "")


class ExportRecord(models.Model):
    """Who exported which list, when, with which filter and how many rows: one row per
    list-level export (the case list as CSV or XLSX, the transparency register, the
    awarded contracts as OCDS). Append-only; written only by
    vipcases.services.export_record, before the file is sent.

    List exports are audited here rather than on each case's timeline: a 100,000-row
    export would otherwise write 100,000 events and bury every timeline under them. An
    export about one case (its disclosure pack) writes an `exported` CaseEvent on that
    case instead (vipcases.services.case_export_record)."""

    class Kind(models.TextChoices):
        CASE_LIST_CSV = "case_list_csv", "Case list (CSV)"
        CASE_LIST_XLSX = "case_list_xlsx", "Case list (XLSX)"
        TRANSPARENCY_REGISTER = "register_csv", "Transparency register (CSV)"
        OCDS_AWARDS = "ocds_json", "Awarded contracts (OCDS JSON)"

    exported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    exported_at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    query = models.CharField(
        max_length=2000, blank=True, help_text="the filter that chose the rows, as URL parameters"
    )
    row_count = models.PositiveIntegerField()

    class Meta:
        ordering = ["-exported_at", "-id"]
        indexes = [models.Index(fields=["-exported_at"], name="exportrecord_recent_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.exported_by_id} at {self.exported_at:%Y-%m-%d %H:%M}"
