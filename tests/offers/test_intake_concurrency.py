"""Offers of one supplier recorded at the same moment (offers.services.intake_offer_record,
the intake API's write) take turns, so that the second finds what the first wrote.

Each test holds the first offer's transaction open, uncommitted, while the second offer
is sent from another connection. Without the turn-taking the second cannot see the first
supplier or case: it creates a second supplier and links no duplicate.
"""

import threading

import pytest
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from offers.intake import intake_validate
from offers.models import Supplier
from offers.services import intake_offer_record
from tests.offers.conftest import offer_body
from vipcases.codes import EventKind
from vipcases.models import CaseEvent

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SUPPLIER = {"name": "Osprey Glove Works Ltd", "company_number": "09990001", "country": "GB"}


def _intake(**changes):
    intake, errors = intake_validate(offer_body(**changes), now=timezone.now())
    assert errors == []
    return intake


def _first_held_open_while_second_is_sent(first, second) -> dict:
    """Record `first` and keep its transaction open until `second`, sent from another
    thread, has finished or has waited three seconds; then commit. Returns the two cases and
    whether the second finished before the first committed."""
    first_written, second_done = threading.Event(), threading.Event()
    result, errors = {}, []

    def send_second():
        try:
            first_written.wait(10)
            with transaction.atomic():
                result["second"] = intake_offer_record(acting_user=None, intake=second)
            result["second_before_first_committed"] = not result.get("first_committed", False)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            second_done.set()
            connection.close()

    thread = threading.Thread(target=send_second)
    thread.start()
    with transaction.atomic():
        result["first"] = intake_offer_record(acting_user=None, intake=first)
        first_written.set()
        second_done.wait(3.0)  # long enough for the second to finish, if it need not wait
        result["first_committed"] = True
    thread.join(10)
    assert not errors, errors
    return result


def _duplicates_named(case) -> list[int]:
    event = CaseEvent.objects.filter(case=case, kind=EventKind.DUPLICATE_LINKED).first()
    return event.data["possible_duplicates"] if event else []


def test_two_offers_of_a_new_supplier_make_one_supplier_and_are_linked():
    result = _first_held_open_while_second_is_sent(
        _intake(supplier=SUPPLIER), _intake(supplier=SUPPLIER)
    )

    assert Supplier.objects.filter(company_number=SUPPLIER["company_number"]).count() == 1
    assert result["second"].offer.supplier_id == result["first"].offer.supplier_id
    assert _duplicates_named(result["second"]) == [result["first"].pk]
    assert result["second_before_first_committed"] is False  # it waited its turn


def test_offers_naming_one_introducer_for_different_suppliers_do_not_wait():
    # One MP may introduce many offers at once: only the supplier makes offers take turns.
    result = _first_held_open_while_second_is_sent(
        _intake(supplier=SUPPLIER),
        _intake(supplier={**SUPPLIER, "company_number": "09990002"}),
    )

    assert result["second_before_first_committed"] is True
    assert result["second"].offer.supplier_id != result["first"].offer.supplier_id


def test_offers_of_different_suppliers_do_not_wait_for_each_other():
    result = _first_held_open_while_second_is_sent(
        _intake(supplier=SUPPLIER),
        _intake(supplier={**SUPPLIER, "company_number": "09990003"}, introducer=None),
    )

    assert result["second_before_first_committed"] is True


def test_taking_turns_outside_a_transaction_is_refused():
    # In autocommit the lock would end with its own statement and protect nothing.
    with pytest.raises(TransactionManagementError):
        intake_offer_record(acting_user=None, intake=_intake(supplier=SUPPLIER))
    assert not Supplier.objects.filter(company_number=SUPPLIER["company_number"]).exists()
