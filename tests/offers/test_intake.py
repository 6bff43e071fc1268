"""offers/intake.py: the one validator behind the API and the import. No database."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from offers.intake import intake_validate, parse_price
from tests.offers.conftest import offer_body

NOW = datetime(2020, 5, 1, 12, 0, tzinfo=UTC)


def _valid(**changes):
    intake, errors = intake_validate(offer_body(**changes), now=NOW)
    assert errors == []
    return intake


def test_it_turns_the_contract_example_into_service_inputs():
    intake = _valid(external_ref="WF-2020-04-0113")
    assert intake.external_ref == "WF-2020-04-0113"
    assert intake.received_at == datetime(2020, 4, 23, 9, 20, 58, tzinfo=UTC)
    assert intake.supplier.company_number == "01234567"
    assert intake.supplier.incorporated_on == date(2009, 6, 1)
    assert intake.supplier.ppe_trading_history is True
    line = intake.lines[0]
    assert (line.quantity, line.unit_price, line.currency) == (2_000_000, Decimal("1.85"), "GBP")
    assert line.sterilisation_validation == ""
    assert line.standards == ["EN 149:2001+A1:2009 FFP3"]
    (introduction,) = intake.introductions
    assert (introduction.name, introduction.role) == ("A. Example", "mp")


def test_optional_fields_take_their_defaults():
    body = {
        "channel": "email",
        "received_at": "2020-04-23T10:20:58Z",
        "supplier": {"name": " Trim Me Ltd "},
        "lines": [
            {
                "category": "gloves",
                "description": "Gloves",
                "quantity": 1000,
                "stock_location": "uk",
                "lead_time_days": 0,
            }
        ],
    }
    intake, errors = intake_validate(body, now=NOW)
    assert errors == []
    assert intake.external_ref is None and intake.introductions == []
    assert (intake.supplier.name, intake.supplier.country) == ("Trim Me Ltd", "GB")
    line = intake.lines[0]
    assert (line.unit_price, line.currency, line.standards, line.sterile) == (
        None,
        "GBP",
        [],
        False,
    )


def test_channel_is_required_unless_the_caller_gives_a_default():
    body = offer_body()
    del body["channel"]
    assert intake_validate(body, now=NOW)[1] == [("channel", "This field is required.")]
    intake, errors = intake_validate(body, now=NOW, default_channel="import")
    assert errors == [] and intake.channel == "import"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1.85", Decimal("1.8500")),
        ("0", Decimal("0.0000")),
        (" 12.5 ", Decimal("12.5000")),
        (3, Decimal("3.0000")),
        (Decimal("1.8500"), Decimal("1.8500")),
        (0.1, Decimal("0.1000")),
        (None, None),
    ],
)
def test_it_reads_prices(value, expected):
    assert parse_price(value) == expected


@pytest.mark.parametrize(
    "value",
    ["-1", "1.23456", "1e3", "NaN", "Infinity", "", "1,85", "١٢", True, [], Decimal("NaN"), -0.5],
)
def test_it_refuses_prices(value):
    assert not isinstance(parse_price(value), Decimal | type(None))


@pytest.mark.parametrize(
    "moment",
    ["2020-04-23T10:20:58+01:00", "2020-04-23T09:20:58Z", "2020-04-23 09:20:58.123456+00:00"],
)
def test_it_accepts_times_with_an_offset(moment):
    _valid(received_at=moment)


@pytest.mark.parametrize(
    ("moment", "message"),
    [
        ("2020-04-23T10:20:58", "Give the UTC offset"),
        ("2020-04-23", "Give the UTC offset"),
        ("23/04/2020 10:20", "Must be a date and time"),
        ("1999-12-31T23:59:59Z", "on or after 1 January 2000"),
        ("0001-01-01T00:00:00+14:00", "Out of range"),
        ((NOW + timedelta(hours=1)).isoformat(), "in the future"),
        (1587633658, "Must be a date and time"),
    ],
)
def test_it_refuses_times_without_offset_or_out_of_range(moment, message):
    _, errors = intake_validate(offer_body(received_at=moment), now=NOW)
    assert [path for path, _ in errors] == ["received_at"]
    assert message in errors[0][1]


def test_it_refuses_an_offer_worth_more_than_can_be_recorded():
    line = dict(offer_body()["lines"][0], quantity=10_000_000_000, unit_price="9999999999")
    _, errors = intake_validate(offer_body(lines=[line]), now=NOW)
    assert errors == [("lines", "The offer's total value is too large to record.")]


def test_it_refuses_too_many_lines_and_standards():
    line = offer_body()["lines"][0]
    _, errors = intake_validate(offer_body(lines=[line] * 101), now=NOW)
    assert errors == [("lines", "An offer may have at most 100 lines.")]
    _, errors = intake_validate(offer_body(lines=[dict(line, standards=["EN"] * 21)]), now=NOW)
    assert [p for p, _ in errors] == ["lines[0].standards"]


def test_a_body_that_is_not_an_object_is_one_error():
    assert intake_validate([], now=NOW) == (None, [("", "The body must be a JSON object.")])
