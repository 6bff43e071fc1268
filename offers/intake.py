"""One validation path for every offer that arrives in bulk: the JSON intake API and the
spreadsheet import.

`intake_validate` takes a plain dict shaped like the API body (DESIGN.md, "The intake API
contract"; the importer builds the same dict from the rows of one external reference)
and returns either an `OfferIntake` ready for offers.services or a list of field errors
`(path, message)`, with paths such as `supplier.name` or `lines[0].quantity`.

It reads no database and no clock (the caller passes `now`); it knows the codes of
vipcases/codes.py and the column sizes of offers/models.py, so that whatever it accepts
the database can store: no NUL characters or lone surrogates in text (PostgreSQL refuses
both), no number too large for its column.
"""

import functools
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from offers.models import Introducer, Introduction, Offer, OfferLine, Supplier
from offers.services import IntroductionInput, LineInput
from vipcases.codes import GBP_RATES, Category, Channel, IntroducerRole, StockLocation, StrapType

FieldError = tuple[str, str]

MAX_LINES = 100
MAX_STANDARDS = 20
MAX_SUMMARY = 10_000
MAX_QUANTITY = 10_000_000_000
MAX_LEAD_TIME_DAYS = 3650
# unit_price is DECIMAL(14, 4): ten digits before the point, four after.
MAX_UNIT_PRICE = Decimal("9999999999.9999")
PRICE_PLACES = 4
# value_gbp is DECIMAL(20, 2).
MAX_OFFER_VALUE_GBP = Decimal("1e18")
EARLIEST_RECEIVED = datetime(2000, 1, 1, tzinfo=UTC)
# Clocks disagree a little; an offer "received" further ahead than this is a mistake.
FUTURE_TOLERANCE = timedelta(minutes=5)
EARLIEST_INCORPORATION = date(1800, 1, 1)

DECIMAL_TEXT = re.compile(r"[0-9]{1,10}(\.[0-9]{1,4})?")
COUNTRY_CODE = re.compile(r"[A-Z]{2}")

TOP_LEVEL_FIELDS = frozenset(
    {"external_ref", "channel", "received_at", "supplier", "introducer", "lines", "summary"}
)
SUPPLIER_FIELDS = frozenset(
    {
        "name",
        "company_number",
        "overseas_registration",
        "country",
        "incorporated_on",
        "ppe_trading_history",
        "contact_name",
        "contact_email",
        "contact_phone",
    }
)
INTRODUCER_FIELDS = frozenset(
    {"name", "role", "office", "relationship", "conflict_of_interest_notes", "introduced_at"}
)
LINE_FIELDS = frozenset(
    {
        "category",
        "description",
        "quantity",
        "unit_price",
        "currency",
        "standards",
        "certificate",
        "strap_type",
        "sterile",
        "sterilisation_validation",
        "stock_location",
        "lead_time_days",
    }
)


def _max_length(model, name: str) -> int:
    return model._meta.get_field(name).max_length


LENGTHS = {
    "external_ref": _max_length(Offer, "external_ref"),
    "supplier.name": _max_length(Supplier, "name"),
    "supplier.company_number": _max_length(Supplier, "company_number"),
    "supplier.overseas_registration": _max_length(Supplier, "overseas_registration"),
    "supplier.contact_name": _max_length(Supplier, "contact_name"),
    "supplier.contact_email": _max_length(Supplier, "contact_email"),
    "supplier.contact_phone": _max_length(Supplier, "contact_phone"),
    "introducer.name": _max_length(Introducer, "name"),
    "introducer.office": _max_length(Introducer, "office"),
    "introducer.relationship": _max_length(Introduction, "relationship"),
    "introducer.conflict_of_interest_notes": MAX_SUMMARY,
    "line.description": _max_length(OfferLine, "description"),
    "line.certificate": _max_length(OfferLine, "certificate"),
    "line.sterilisation_validation": _max_length(OfferLine, "sterilisation_validation"),
    "line.standard": 200,
}


@dataclass
class SupplierInput:
    """The supplier as intake describes it; offers.services finds or creates it."""

    name: str
    company_number: str = ""
    overseas_registration: str = ""
    country: str = "GB"
    incorporated_on: date | None = None
    ppe_trading_history: bool = False
    contact_name: str = ""
    contact_email: str = ""
    contact_phone: str = ""


@dataclass
class OfferIntake:
    """A validated offer, in the terms offers.services.offer_create takes."""

    external_ref: str | None
    channel: str
    received_at: datetime
    supplier: SupplierInput
    lines: list[LineInput]
    introductions: list[IntroductionInput] = field(default_factory=list)
    summary: str = ""


class _Reader:
    """Reads typed values out of one JSON object, collecting errors under `prefix`."""

    def __init__(self, data: dict, prefix: str, errors: list[FieldError], allowed: frozenset):
        self.data = data
        self.prefix = prefix
        self.errors = errors
        for key in data:
            if key not in allowed:
                self.error(str(key), "Unknown field.")

    def path(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def error(self, name: str, message: str) -> None:
        self.errors.append((self.path(name), message))

    def missing(self, name: str) -> bool:
        return self.data.get(name) is None

    def text(self, name: str, *, max_length: int, required: bool = False) -> str:
        value = self.data.get(name)
        if value is None:
            if required:
                self.error(name, "This field is required.")
            return ""
        cleaned = text_problem(value, max_length)
        if isinstance(cleaned, _Problem):
            self.error(name, cleaned.message)
            return ""
        if required and not cleaned:
            self.error(name, "This field is required.")
        return cleaned

    def code(self, name: str, choices, *, required: bool = True, default: str = "") -> str:
        value = self.data.get(name)
        if value is None or value == "":
            if required:
                self.error(name, "This field is required.")
            return default
        allowed = _codes(choices)
        if not isinstance(value, str) or value not in allowed:
            self.error(name, f"Must be one of: {', '.join(allowed)}.")
            return default
        return value

    def boolean(self, name: str) -> bool:
        value = self.data.get(name)
        if value is None:
            return False
        if not isinstance(value, bool):
            self.error(name, "Must be true or false.")
            return False
        return value

    def whole_number(self, name: str, *, minimum: int, maximum: int, unit: str = "") -> int:
        value = self.data.get(name)
        if value is None:
            self.error(name, "This field is required.")
            return minimum
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(name, f"Must be a whole number{unit}.")
            return minimum
        if value < minimum:
            self.error(name, f"Must be at least {minimum:,}.")
        elif value > maximum:
            self.error(name, f"Must be at most {maximum:,}.")
        return value

    def moment(self, name: str, *, now: datetime, required: bool) -> datetime | None:
        value = self.data.get(name)
        if value is None:
            if required:
                self.error(name, "This field is required.")
            return None
        if not isinstance(value, str):
            self.error(name, "Must be a date and time in ISO 8601 with a UTC offset.")
            return None
        parsed = _parse_moment(value.strip())
        if isinstance(parsed, _Problem):
            self.error(name, parsed.message)
            return None
        if parsed < EARLIEST_RECEIVED:
            self.error(name, "Must be on or after 1 January 2000.")
        elif parsed > now + FUTURE_TOLERANCE:
            self.error(name, "Must not be in the future.")
        return parsed


@functools.cache
def _codes(choices) -> dict[str, None]:
    """The codes of a TextChoices, in order (a dict: ordered, and quick to look up)."""
    return dict.fromkeys(str(value) for value in choices.values)


@dataclass
class _Problem:
    message: str


def text_problem(value: Any, max_length: int) -> "str | _Problem":
    """The value stripped, or the reason it cannot be stored as text."""
    if not isinstance(value, str):
        return _Problem("Must be text.")
    if "\x00" in value:
        return _Problem("Must not contain NUL characters.")
    if not value.isascii():  # ASCII text has no lone surrogates: no need to encode it
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return _Problem("Must be valid Unicode text.")
    value = value.strip()
    if len(value) > max_length:
        return _Problem(f"Must be at most {max_length:,} characters.")
    return value


def _parse_moment(value: str) -> "datetime | _Problem":
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return _Problem(
            "Must be a date and time in ISO 8601 with a UTC offset, e.g. 2020-04-23T10:20:58+01:00."
        )
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        return _Problem(
            "Give the UTC offset (e.g. 2020-04-23T10:20:58+01:00 or …Z): "
            "a time without one is ambiguous."
        )
    try:
        parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return _Problem("Out of range.")
    return parsed


def parse_price(value: Any) -> "Decimal | None | _Problem":
    """A unit price: a decimal string or a number, at least 0, at most 4 decimal places."""
    if value is None:
        return None
    message = 'Must be a decimal number of at least 0 with at most 4 decimal places, e.g. "1.85".'
    if isinstance(value, bool):
        return _Problem(message)
    if isinstance(value, str):
        value = value.strip()
        if not DECIMAL_TEXT.fullmatch(value):
            return _Problem(message)
        price = Decimal(value)
    elif isinstance(value, int):
        price = Decimal(value)
    elif isinstance(value, (Decimal, float)):
        try:
            price = Decimal(repr(value)) if isinstance(value, float) else value
        except InvalidOperation:
            return _Problem(message)
        if not price.is_finite():
            return _Problem(message)
    else:
        return _Problem(message)
    if price < 0:
        return _Problem(message)
    if price > MAX_UNIT_PRICE:
        return _Problem(f"Must be at most {MAX_UNIT_PRICE:,}.")
    if price != price.quantize(Decimal(1).scaleb(-PRICE_PLACES)):
        return _Problem(message)
    return price.quantize(Decimal(1).scaleb(-PRICE_PLACES))


def _supplier(data: Any, errors: list[FieldError], today: date) -> SupplierInput | None:
    if data is None:
        errors.append(("supplier", "This field is required."))
        return None
    if not isinstance(data, dict):
        errors.append(("supplier", "Must be an object."))
        return None
    r = _Reader(data, "supplier.", errors, SUPPLIER_FIELDS)
    name = r.text("name", max_length=LENGTHS["supplier.name"], required=True)
    country = "GB"
    if not r.missing("country"):
        value = data["country"]
        if isinstance(value, str) and COUNTRY_CODE.fullmatch(value.strip().upper()):
            country = value.strip().upper()
        else:
            r.error("country", "Must be a two-letter ISO 3166 country code, e.g. GB.")
    incorporated_on = None
    if not r.missing("incorporated_on"):
        value = data["incorporated_on"]
        try:
            incorporated_on = date.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            incorporated_on = None
        if incorporated_on is None:
            r.error("incorporated_on", "Must be a date in ISO 8601, e.g. 2009-06-01.")
        elif not EARLIEST_INCORPORATION <= incorporated_on <= today:
            r.error("incorporated_on", "Must be a date between 1800 and today.")
            incorporated_on = None
    email = r.text("contact_email", max_length=LENGTHS["supplier.contact_email"])
    if email:
        try:
            validate_email(email)
        except ValidationError:
            r.error("contact_email", "Must be an email address.")
    return SupplierInput(
        name=name,
        company_number=r.text("company_number", max_length=LENGTHS["supplier.company_number"]),
        overseas_registration=r.text(
            "overseas_registration", max_length=LENGTHS["supplier.overseas_registration"]
        ),
        country=country,
        incorporated_on=incorporated_on,
        ppe_trading_history=r.boolean("ppe_trading_history"),
        contact_name=r.text("contact_name", max_length=LENGTHS["supplier.contact_name"]),
        contact_email=email,
        contact_phone=r.text("contact_phone", max_length=LENGTHS["supplier.contact_phone"]),
    )


def _introduction(data: Any, errors: list[FieldError], now: datetime) -> IntroductionInput | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        errors.append(("introducer", "Must be an object or null."))
        return None
    r = _Reader(data, "introducer.", errors, INTRODUCER_FIELDS)
    return IntroductionInput(
        name=r.text("name", max_length=LENGTHS["introducer.name"], required=True),
        role=r.code("role", IntroducerRole),
        office=r.text("office", max_length=LENGTHS["introducer.office"]),
        relationship=r.text("relationship", max_length=LENGTHS["introducer.relationship"]),
        conflict_of_interest_notes=r.text(
            "conflict_of_interest_notes",
            max_length=LENGTHS["introducer.conflict_of_interest_notes"],
        ),
        introduced_at=r.moment("introduced_at", now=now, required=False),
    )


def _standards(r: _Reader) -> list[str]:
    value = r.data.get("standards")
    if value is None:
        return []
    if not isinstance(value, list):
        r.error("standards", "Must be a list of text.")
        return []
    if len(value) > MAX_STANDARDS:
        r.error("standards", f"Must have at most {MAX_STANDARDS} items.")
        return []
    standards = []
    for index, item in enumerate(value):
        cleaned = text_problem(item, LENGTHS["line.standard"])
        if isinstance(cleaned, _Problem):
            r.error(f"standards[{index}]", cleaned.message)
        elif cleaned:
            standards.append(cleaned)
    return standards


def _line(data: Any, index: int, errors: list[FieldError]) -> LineInput | None:
    if not isinstance(data, dict):
        errors.append((f"lines[{index}]", "Must be an object."))
        return None
    r = _Reader(data, f"lines[{index}].", errors, LINE_FIELDS)
    price = parse_price(data.get("unit_price"))
    if isinstance(price, _Problem):
        r.error("unit_price", price.message)
        price = None
    currency = "GBP"
    if not r.missing("currency"):
        value = data["currency"]
        if isinstance(value, str) and value.strip().upper() in GBP_RATES:
            currency = value.strip().upper()
        else:
            r.error("currency", f"Must be one of: {', '.join(GBP_RATES)}.")
    return LineInput(
        category=r.code("category", Category),
        description=r.text("description", max_length=LENGTHS["line.description"], required=True),
        quantity=r.whole_number("quantity", minimum=1, maximum=MAX_QUANTITY),
        unit_price=price,
        currency=currency,
        standards=_standards(r),
        certificate=r.text("certificate", max_length=LENGTHS["line.certificate"]),
        strap_type=r.code("strap_type", StrapType, required=False),
        sterile=r.boolean("sterile"),
        sterilisation_validation=r.text(
            "sterilisation_validation", max_length=LENGTHS["line.sterilisation_validation"]
        ),
        stock_location=r.code("stock_location", StockLocation),
        lead_time_days=r.whole_number(
            "lead_time_days", minimum=0, maximum=MAX_LEAD_TIME_DAYS, unit=" of days"
        ),
    )


def _lines(data: Any, errors: list[FieldError]) -> list[LineInput]:
    if data is None:
        errors.append(("lines", "This field is required."))
        return []
    if not isinstance(data, list):
        errors.append(("lines", "Must be a list of offer lines."))
        return []
    if not data:
        errors.append(("lines", "An offer needs at least one line."))
        return []
    if len(data) > MAX_LINES:
        errors.append(("lines", f"An offer may have at most {MAX_LINES} lines."))
        return []
    lines = [_line(item, index, errors) for index, item in enumerate(data)]
    return [line for line in lines if line is not None]


def _value_gbp(lines: list[LineInput]) -> Decimal:
    total = Decimal(0)
    for line in lines:
        if line.unit_price is not None:
            total += line.unit_price * Decimal(GBP_RATES[line.currency]) * line.quantity
    return total


def intake_validate(
    data: Any, *, now: datetime, default_channel: str | None = None
) -> tuple[OfferIntake | None, list[FieldError]]:
    """Validate one offer. Returns (intake, []) or (None, errors); never raises for bad
    input. `default_channel` is used when the data names none (the import's "import");
    without it `channel` is required."""
    errors: list[FieldError] = []
    if not isinstance(data, dict):
        return None, [("", "The body must be a JSON object.")]
    r = _Reader(data, "", errors, TOP_LEVEL_FIELDS)
    external_ref = None
    if not r.missing("external_ref"):
        external_ref = r.text("external_ref", max_length=LENGTHS["external_ref"], required=True)
    if r.missing("channel") and default_channel:
        channel = default_channel
    else:
        channel = r.code("channel", Channel)
    received_at = r.moment("received_at", now=now, required=True)
    supplier = _supplier(data.get("supplier"), errors, now.date())
    introduction = _introduction(data.get("introducer"), errors, now)
    lines = _lines(data.get("lines"), errors)
    summary = r.text("summary", max_length=MAX_SUMMARY)
    if not errors and _value_gbp(lines) >= MAX_OFFER_VALUE_GBP:
        errors.append(("lines", "The offer's total value is too large to record."))
    if errors:
        return None, errors
    return (
        OfferIntake(
            external_ref=external_ref or None,
            channel=channel,
            received_at=received_at,
            supplier=supplier,
            lines=lines,
            introductions=[introduction] if introduction else [],
            summary=summary,
        ),
        [],
    )
