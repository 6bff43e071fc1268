"""Suppliers, their offers and offer lines, and who introduced them.

Introductions are recorded for transparency only: nothing in triage or routing
order reads them (see triage/scoring.py and tests/triage/test_introducer_blind.py).
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models

from vipcases.codes import Category, Channel, DueDiligence, IntroducerRole, StockLocation, StrapType


class Supplier(models.Model):
    name = models.CharField("legal name", max_length=200)
    company_number = models.CharField(
        "Companies House number", max_length=20, blank=True, db_index=True
    )
    overseas_registration = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, default="GB", help_text="ISO 3166 alpha-2 code")
    contact_name = models.CharField(max_length=200, blank=True)
    contact_email = models.EmailField(blank=True)
    contact_phone = models.CharField(max_length=40, blank=True)
    incorporated_on = models.DateField(null=True, blank=True)
    ppe_trading_history = models.BooleanField(
        "has traded PPE or medical goods before", default=False
    )
    trading_history_notes = models.TextField(blank=True)
    due_diligence_status = models.CharField(
        max_length=20, choices=DueDiligence.choices, default=DueDiligence.NOT_STARTED
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["name"], name="supplier_name_idx")]

    def __str__(self) -> str:
        return self.name


class Introducer(models.Model):
    name = models.CharField(max_length=200)
    role = models.CharField(max_length=20, choices=IntroducerRole.choices, db_index=True)
    office = models.CharField(max_length=200, blank=True, help_text="e.g. Member for Somewhere")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.get_role_display()})"


class Offer(models.Model):
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="offers")
    channel = models.CharField(max_length=20, choices=Channel.choices)
    received_at = models.DateTimeField(db_index=True)
    external_ref = models.CharField(max_length=100, unique=True, null=True, blank=True)
    summary = models.TextField(blank=True)
    # Sum of quantity × unit price in GBP over the lines, fixed when the offer is created
    # (lines never change afterwards); kept so routing and previews aggregate in SQL.
    value_gbp = models.DecimalField(max_digits=20, decimal_places=2, default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The intake API token that created the offer (None for every other channel); a
    # token may read only the cases of the offers it created.
    api_token = models.ForeignKey(
        "ApiToken", null=True, blank=True, on_delete=models.PROTECT, related_name="offers"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # A supplier's offers from the index alone (supplier, then id): the case list's
        # supplier search goes from the matching suppliers to their offers' ids without
        # reading each offer's row.
        indexes = [models.Index(fields=["supplier", "id"], name="offer_supplier_idx")]

    def __str__(self) -> str:
        return f"Offer {self.pk} from {self.supplier_id}"


class OfferLine(models.Model):
    offer = models.ForeignKey(Offer, on_delete=models.CASCADE, related_name="lines")
    category = models.CharField(max_length=20, choices=Category.choices)
    description = models.CharField(max_length=500)
    quantity = models.PositiveBigIntegerField(validators=[MinValueValidator(1)])
    unit_price = models.DecimalField(
        max_digits=14,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )
    currency = models.CharField(max_length=3, default="GBP")
    standards = models.JSONField(default=list, blank=True, help_text="standards claimed, as text")
    certificate = models.CharField(
        max_length=200, blank=True, help_text="certificate / notified-body number, e.g. CE 2797"
    )
    strap_type = models.CharField(max_length=10, choices=StrapType.choices, blank=True)
    sterile = models.BooleanField(default=False)
    sterilisation_validation = models.CharField(max_length=200, blank=True)
    stock_location = models.CharField(max_length=25, choices=StockLocation.choices)
    lead_time_days = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["category", "offer"], name="offerline_category_idx")]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.description}"


class Introduction(models.Model):
    offer = models.ForeignKey(Offer, on_delete=models.CASCADE, related_name="introductions")
    introducer = models.ForeignKey(
        Introducer, on_delete=models.PROTECT, related_name="introductions"
    )
    introduced_at = models.DateTimeField()
    relationship = models.CharField(
        "declared relationship to the supplier", max_length=300, blank=True
    )
    conflict_of_interest_notes = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["introducer", "offer"], name="introduction_introducer_idx")]

    def __str__(self) -> str:
        return f"{self.introducer} introduced offer {self.offer_id}"


class ApiToken(models.Model):
    """One integration's credential for the intake API (offers/api.py).

    Only a SHA-256 of the token is stored: the token itself is printed once by
    `create_api_token` and cannot be recovered. `prefix` (the token's first characters,
    not secret) finds the row; the hash is then compared in constant time. Written only
    by offers/tokens.py; admins revoke tokens in the admin, never edit or delete them.
    """

    name = models.CharField(max_length=100, help_text="the integration, e.g. public webform")
    prefix = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField("SHA-256 of the token", max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class IdempotencyRecord(models.Model):
    """The answer to an intake request sent with an `Idempotency-Key`, so that a retry
    with the same key and body gets the same answer and never a second offer."""

    api_token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField("SHA-256 of the canonical request body", max_length=64)
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["api_token", "key"], name="idempotency_token_key_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.response_status})"


class ImportUpload(models.Model):
    """A spreadsheet a manager uploaded at /offers/import/, kept in the database so
    that a worker on any machine can import it once the manager confirms."""

    filename = models.CharField(max_length=255)
    content = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    rows = models.PositiveIntegerField(default=0)
    offers = models.PositiveIntegerField(default=0)
    already_imported = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="[row, column, message], …")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)
    job = models.OneToOneField(
        "vipcases.BackgroundJob",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="import_upload",
    )

    def __str__(self) -> str:
        return self.filename

    @property
    def is_valid(self) -> bool:
        return not self.errors
