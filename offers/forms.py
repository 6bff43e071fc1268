"""The new-referral form: supplier, offer, lines (a formset) and introducer.

The forms check the input's shape and turn it into the arguments of
offers.services.referral_create; the model's own validators run again in the
service, inside its transaction.
"""

import re
from datetime import date, datetime, time

from django import forms
from django.utils import timezone

from offers.models import Supplier
from offers.selectors import SUPPLIER_MATCH_LIMIT, suppliers_matching
from offers.services import IntroductionInput, LineInput
from vipcases.codes import GBP_RATES, Category, Channel, IntroducerRole, StockLocation, StrapType

EXISTING = "existing"
NEW = "new"

TIME_PATTERN = re.compile(r"^\s*([01]?\d|2[0-3])[:.]([0-5]\d)\s*$")
COUNTRY_PATTERN = re.compile(r"^[A-Z]{2}$")


DATE_PARTS = ("day", "month", "year")


def _date_from_parts(data: dict, name: str) -> date | None:
    """The date of the `<name>_day/_month/_year` fields; None if all are empty.
    Raises ValueError when some are missing or they make no real date."""
    parts = [data.get(f"{name}_{part}") for part in DATE_PARTS]
    if all(part is None for part in parts):
        return None
    if any(part is None for part in parts):
        raise ValueError("incomplete")
    day, month, year = parts
    if year < 1800:
        raise ValueError("year")
    return date(year, month, day)


def _date_part(label: str) -> forms.IntegerField:
    """One box of a GOV.UK date input; the three are checked together in clean()."""
    return forms.IntegerField(
        label=label, required=False, error_messages={"invalid": "Enter the date in numbers."}
    )


class ReferralForm(forms.Form):
    """Everything on the page except the lines."""

    # --- supplier ---
    supplier_mode = forms.ChoiceField(
        label="Is the supplier already on the system?",
        choices=[(EXISTING, "Yes, find the supplier"), (NEW, "No, add a new supplier")],
        widget=forms.RadioSelect,
        error_messages={"required": "Say whether the supplier is already on the system."},
    )
    supplier_query = forms.CharField(
        label="Companies House number or name", required=False, max_length=200
    )
    supplier_id = forms.IntegerField(required=False, label="Choose the supplier")
    name = forms.CharField(label="Legal name", required=False, max_length=200)
    company_number = forms.CharField(label="Companies House number", required=False, max_length=20)
    overseas_registration = forms.CharField(
        label="Overseas registration",
        required=False,
        max_length=100,
        help_text="For a company registered outside the UK: the register and number.",
    )
    country = forms.CharField(
        label="Country",
        required=False,
        max_length=2,
        initial="GB",
        help_text="Two-letter code, for example GB, DE or CN.",
    )
    incorporated_day = _date_part("Day")
    incorporated_month = _date_part("Month")
    incorporated_year = _date_part("Year")
    ppe_trading_history = forms.ChoiceField(
        label="Has the supplier traded PPE or medical goods before?",
        choices=[("yes", "Yes"), ("no", "No")],
        widget=forms.RadioSelect,
        required=False,
    )
    contact_name = forms.CharField(label="Contact name", required=False, max_length=200)
    contact_email = forms.EmailField(label="Contact email", required=False)
    contact_phone = forms.CharField(label="Contact phone", required=False, max_length=40)

    # --- offer ---
    channel = forms.ChoiceField(
        label="How did the offer arrive?",
        choices=[(c.value, c.label) for c in Channel if c != Channel.IMPORT],
        initial=Channel.REFERRAL,
    )
    received_day = _date_part("Day")
    received_month = _date_part("Month")
    received_year = _date_part("Year")
    received_time = forms.CharField(
        label="Time received",
        required=False,
        max_length=5,
        help_text="24-hour clock, for example 09:30 or 14:05.",
    )
    summary = forms.CharField(
        label="Anything else about the offer (optional)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    # --- introducer ---
    introducer_name = forms.CharField(label="Introducer's name", required=False, max_length=200)
    introducer_role = forms.ChoiceField(
        label="Introducer's role",
        choices=[("", "Choose a role"), *IntroducerRole.choices],
        required=False,
    )
    introducer_office = forms.CharField(
        label="Office",
        required=False,
        max_length=200,
        help_text="For example, Member for Westford or Minister of State.",
    )
    relationship = forms.CharField(
        label="Declared relationship to the supplier", required=False, max_length=300
    )
    conflict_of_interest_notes = forms.CharField(
        label="Conflict of interest notes",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    # --- possible duplicate ---
    confirm_duplicate = forms.BooleanField(
        label="Save it anyway: it is a different offer", required=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.supplier: Supplier | None = None
        self.supplier_matches: list[Supplier] = []
        self.too_many_matches = False

    # --- cleaning ---

    def clean(self):
        data = super().clean()
        mode = data.get("supplier_mode")
        if mode == EXISTING:
            self._clean_existing_supplier(data)
        elif mode == NEW:
            self._clean_new_supplier(data)
        self._clean_received_at(data)
        self._clean_introducer(data)
        return data

    def _clean_existing_supplier(self, data: dict) -> None:
        query = data.get("supplier_query", "").strip()
        if not query:
            self.add_error("supplier_query", "Enter the supplier's Companies House number or name.")
            return
        matches = suppliers_matching(query)
        self.too_many_matches = len(matches) > SUPPLIER_MATCH_LIMIT
        self.supplier_matches = matches[:SUPPLIER_MATCH_LIMIT]
        if not matches:
            self.add_error(
                "supplier_query",
                "No supplier matches that number or name. Check it, or add a new supplier.",
            )
        elif len(matches) == 1:
            self.supplier = matches[0]
        else:
            chosen = data.get("supplier_id")
            self.supplier = next((s for s in self.supplier_matches if s.pk == chosen), None)
            if self.supplier is None:
                self.add_error(
                    "supplier_id",
                    "More than one supplier matches: choose one, or search with the "
                    "Companies House number."
                    if not self.too_many_matches
                    else f"More than {SUPPLIER_MATCH_LIMIT} suppliers match: search with "
                    "more of the name, or with the Companies House number.",
                )

    def _clean_new_supplier(self, data: dict) -> None:
        if not data.get("name", "").strip():
            self.add_error("name", "Enter the supplier's legal name.")
        number = data.get("company_number", "").replace(" ", "").upper()
        data["company_number"] = number
        if number and Supplier.objects.filter(company_number=number).exists():
            self.add_error(
                "company_number",
                "A supplier with this Companies House number is already on the system: "
                "choose 'Yes, find the supplier' and search for the number.",
            )
        country = data.get("country", "").strip().upper()
        data["country"] = country
        if not COUNTRY_PATTERN.match(country):
            self.add_error("country", "Enter the country as a two-letter code, like GB.")
        if self._date_has_errors("incorporated"):
            incorporated = None
        else:
            try:
                incorporated = _date_from_parts(data, "incorporated")
            except ValueError:
                incorporated = None
                self.add_error("incorporated_day", "The incorporation date must be a real date.")
        if incorporated and incorporated > timezone.localdate():
            self.add_error("incorporated_day", "The incorporation date must be in the past.")
        data["incorporated_on"] = incorporated
        if data.get("ppe_trading_history") not in ("yes", "no"):
            self.add_error(
                "ppe_trading_history",
                "Say whether the supplier has traded PPE or medical goods before.",
            )

    def _date_has_errors(self, name: str) -> bool:
        return any(f"{name}_{part}" in self.errors for part in DATE_PARTS)

    def _clean_received_at(self, data: dict) -> None:
        if self._date_has_errors("received"):
            return
        try:
            received = _date_from_parts(data, "received")
        except ValueError:
            self.add_error("received_day", "The date received must be a real date.")
            return
        if received is None:
            self.add_error("received_day", "Enter the date the offer was received.")
            return
        found = TIME_PATTERN.match(data.get("received_time") or "")
        if not found:
            self.add_error("received_time", "Enter the time received, like 09:30.")
            return
        received_at = timezone.make_aware(
            datetime.combine(received, time(int(found.group(1)), int(found.group(2))))
        )
        if received_at > timezone.now():
            self.add_error("received_day", "The offer cannot have been received in the future.")
            return
        data["received_at"] = received_at

    def _clean_introducer(self, data: dict) -> None:
        given = any(
            (data.get(name) or "").strip()
            for name in (
                "introducer_name",
                "introducer_role",
                "introducer_office",
                "relationship",
                "conflict_of_interest_notes",
            )
        )
        if not given:
            return
        if not data.get("introducer_name", "").strip():
            self.add_error(
                "introducer_name", "Enter the introducer's name, or leave the introducer empty."
            )
        if not data.get("introducer_role"):
            self.add_error("introducer_role", "Choose the introducer's role.")

    # --- the service's arguments ---

    def new_supplier_fields(self) -> dict | None:
        if self.cleaned_data["supplier_mode"] != NEW:
            return None
        data = self.cleaned_data
        return {
            "name": data["name"].strip(),
            "company_number": data["company_number"],
            "overseas_registration": data["overseas_registration"].strip(),
            "country": data["country"],
            "incorporated_on": data.get("incorporated_on"),
            "ppe_trading_history": data["ppe_trading_history"] == "yes",
            "contact_name": data["contact_name"].strip(),
            "contact_email": data["contact_email"],
            "contact_phone": data["contact_phone"].strip(),
        }

    def introductions(self) -> list[IntroductionInput]:
        data = self.cleaned_data
        if not data["introducer_name"].strip():
            return []
        return [
            IntroductionInput(
                name=data["introducer_name"].strip(),
                role=data["introducer_role"],
                office=data["introducer_office"].strip(),
                relationship=data["relationship"].strip(),
                conflict_of_interest_notes=data["conflict_of_interest_notes"].strip(),
            )
        ]


class LineForm(forms.Form):
    category = forms.ChoiceField(
        label="Product category",
        choices=[("", "Choose a category"), *Category.choices],
        error_messages={"required": "Choose the product category."},
    )
    description = forms.CharField(
        label="Description",
        max_length=500,
        error_messages={"required": "Describe the product."},
    )
    quantity = forms.IntegerField(
        label="Quantity (units)",
        min_value=1,
        max_value=10**15,
        error_messages={
            "required": "Enter the quantity.",
            "invalid": "The quantity must be a whole number, like 20000.",
            "min_value": "The quantity must be at least 1.",
        },
    )
    unit_price = forms.DecimalField(
        label="Unit price (optional)",
        required=False,
        min_value=0,
        max_digits=14,
        decimal_places=4,
        error_messages={"invalid": "The unit price must be a number, like 1.85."},
    )
    currency = forms.ChoiceField(
        label="Currency", choices=[(code, code) for code in GBP_RATES], initial="GBP"
    )
    standards = forms.CharField(
        label="Standards claimed (optional)",
        required=False,
        help_text="One per line, or separated by commas.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    certificate = forms.CharField(
        label="Certificate or notified-body number (optional)", required=False, max_length=200
    )
    strap_type = forms.ChoiceField(
        label="Respirator straps",
        choices=[("", "Not a respirator, or not given"), *StrapType.choices],
        required=False,
    )
    sterile = forms.BooleanField(label="Sold as sterile", required=False)
    sterilisation_validation = forms.CharField(
        label="Sterilisation validation (optional)",
        required=False,
        max_length=200,
        help_text="The validated process behind a sterile claim, e.g. ISO 11137-2 dose audit.",
    )
    stock_location = forms.ChoiceField(
        label="Where is the stock?",
        choices=[("", "Choose a location"), *StockLocation.choices],
        error_messages={"required": "Choose where the stock is."},
    )
    lead_time_days = forms.IntegerField(
        label="Lead time (days)",
        min_value=0,
        max_value=3650,
        error_messages={
            "required": "Enter the lead time in days (0 if it is ready now).",
            "invalid": "The lead time must be a whole number of days.",
        },
    )

    def clean_standards(self) -> list[str]:
        text = self.cleaned_data["standards"]
        return [part.strip() for part in re.split(r"[,\n]", text) if part.strip()]

    def line_input(self) -> LineInput:
        data = self.cleaned_data
        return LineInput(
            category=data["category"],
            description=data["description"].strip(),
            quantity=data["quantity"],
            unit_price=data["unit_price"],
            currency=data["currency"],
            standards=data["standards"],
            certificate=data["certificate"].strip(),
            strap_type=data["strap_type"],
            sterile=data["sterile"],
            sterilisation_validation=data["sterilisation_validation"].strip(),
            stock_location=data["stock_location"],
            lead_time_days=data["lead_time_days"],
        )


class BaseLineFormSet(forms.BaseFormSet):
    default_error_messages = {
        **forms.BaseFormSet.default_error_messages,
        "too_few_forms": "Add at least one product line.",
        "too_many_forms": "An offer can have at most %(num)d lines.",
    }

    def add_fields(self, form, index):
        super().add_fields(form, index)
        if "DELETE" in form.fields:
            form.fields["DELETE"].label = "Remove this line"

    def line_inputs(self) -> list[LineInput]:
        """The lines to save: filled in and not removed (blank extra rows are skipped)."""
        return [
            form.line_input()
            for form in self.forms
            if form.has_changed() and not form.cleaned_data.get("DELETE")
        ]

    def categories(self) -> set[str]:
        return {line.category for line in self.line_inputs()}


MAX_LINES = 50
LINES_PREFIX = "lines"

LineFormSet = forms.formset_factory(
    LineForm,
    formset=BaseLineFormSet,
    extra=0,
    min_num=1,
    validate_min=True,
    max_num=MAX_LINES,
    validate_max=True,
    can_delete=True,
)


def data_with_another_line(data):
    """A copy of the posted data with one more (empty) line row: "Add another line"
    without JavaScript. Nothing is validated or saved."""
    data = data.copy()
    key = f"{LINES_PREFIX}-TOTAL_FORMS"
    try:
        total = int(data.get(key, "1"))
    except ValueError:
        total = 1
    data[key] = str(min(max(total, 0) + 1, MAX_LINES))
    return data
