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
    created_at = models.DateTimeField(auto_now_add=True)

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
