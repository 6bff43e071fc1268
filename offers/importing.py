"""Reading offers from a spreadsheet (CSV or XLSX): one row per offer line, the rows of
one offer sharing its `external_ref`.

Every row is read and validated before anything is written: `import_parse` returns the
offers, in the order of the file, or every error with its row number (as a spreadsheet
shows it: the header is row 1) and column. Each offer is validated by the same
offers/intake.py as the JSON API, so a row is refused for the same reasons a request
is. Writing is the caller's (offers.services.offers_import_bulk).
"""

import csv
import gc
import io
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import NamedTuple

from offers.intake import OfferIntake, intake_validate
from vipcases.codes import Channel


class Column(NamedTuple):
    name: str
    required: bool
    level: str  # "offer": the same on every row of an external_ref; "line": per row
    meaning: str


# The columns, in the order of the example file (docs/examples/offers.csv). The README's
# table is made from this list (see tests/offers/test_import_offers.py).
COLUMNS = [
    Column("external_ref", True, "offer", "your reference for the offer; rows with the same reference are the lines of one offer; unique: an offer already imported is skipped"),
    Column("channel", False, "offer", "how the offer arrived: referral, mp_enquiry, webform, email or import (the default)"),
    Column("received_at", True, "offer", "when the offer reached government: ISO 8601 with its UTC offset, e.g. 2020-04-23T10:20:58+01:00"),
    Column("supplier_name", True, "offer", "the supplier's legal name"),
    Column("supplier_company_number", False, "offer", "Companies House number (keep leading zeros: format the column as text); the supplier is matched on it, else on the exact name and country"),
    Column("supplier_overseas_registration", False, "offer", "register and number, for a company registered outside the UK"),
    Column("supplier_country", False, "offer", "ISO 3166 two-letter code; GB when blank"),
    Column("supplier_incorporated_on", False, "offer", "date of incorporation, e.g. 2009-06-01"),
    Column("supplier_ppe_trading_history", False, "offer", "yes or no: has traded PPE or medical goods before (no when blank)"),
    Column("supplier_contact_name", False, "offer", "contact's name"),
    Column("supplier_contact_email", False, "offer", "contact's email address"),
    Column("supplier_contact_phone", False, "offer", "contact's phone number"),
    Column("introducer_name", False, "offer", "who introduced the offer, if anyone (recorded for transparency; never scored)"),
    Column("introducer_role", False, "offer", "minister, mp, peer, senior_official or other (required with introducer_name)"),
    Column("introducer_office", False, "offer", "e.g. Member for Somewhere"),
    Column("introducer_relationship", False, "offer", "declared relationship to the supplier"),
    Column("introducer_conflict_of_interest_notes", False, "offer", "conflict-of-interest notes"),
    Column("introduced_at", False, "offer", "when the introduction was made (ISO 8601 with offset); received_at when blank"),
    Column("summary", False, "offer", "anything else about the offer"),
    Column("category", True, "line", "ffp3_respirator, ffp2_respirator, iir_mask, gown, gloves, apron, eye_protection, hand_sanitiser, body_bag or other"),
    Column("description", True, "line", "the product as offered"),
    Column("quantity", True, "line", "units offered: a whole number, at least 1"),
    Column("unit_price", False, "line", "price per unit, at least 0, up to 4 decimal places, e.g. 1.85; blank when not given"),
    Column("currency", False, "line", "GBP (the default), EUR, USD, CNY, HKD or TRY"),
    Column("standards", False, "line", "standards claimed, separated by semicolons, e.g. EN 149:2001+A1:2009 FFP3"),
    Column("certificate", False, "line", "certificate or notified-body number, e.g. CE 2797"),
    Column("strap_type", False, "line", "respirators: head or ear_loop"),
    Column("sterile", False, "line", "yes or no (no when blank)"),
    Column("sterilisation_validation", False, "line", "the validated process behind a sterile claim, e.g. ISO 11137-2 dose audit"),
    Column("stock_location", True, "line", "uk, in_transit, overseas or not_yet_manufactured"),
    Column("lead_time_days", True, "line", "days to delivery: a whole number, 0 or more"),
]  # fmt: skip
COLUMN_NAMES = [c.name for c in COLUMNS]
REQUIRED_COLUMNS = [c.name for c in COLUMNS if c.required]
OFFER_COLUMNS = [c.name for c in COLUMNS if c.level == "offer"]
SUPPLIER_PREFIX = "supplier_"
INTRODUCER_COLUMNS = {
    "introducer_name": "name",
    "introducer_role": "role",
    "introducer_office": "office",
    "introducer_relationship": "relationship",
    "introducer_conflict_of_interest_notes": "conflict_of_interest_notes",
    "introduced_at": "introduced_at",
}
LINE_COLUMNS = [c.name for c in COLUMNS if c.level == "line"]
WHOLE_NUMBER_COLUMNS = {"quantity", "lead_time_days"}
YES_NO_COLUMNS = {"sterile", "supplier_ppe_trading_history"}
MOMENT_COLUMNS = {"received_at", "introduced_at"}
YES = {"yes", "y", "true", "1"}
NO = {"no", "n", "false", "0"}
WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")
SUFFIXES = (".csv", ".xlsx")


class RowError(NamedTuple):
    row: int  # as a spreadsheet numbers it: the header is row 1
    column: str  # "" when the error is about the whole row or file
    message: str

    def __str__(self) -> str:
        where = f"row {self.row}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


class ImportFileError(Exception):
    """The file cannot be read at all (not CSV or XLSX, not UTF-8, corrupt)."""


@dataclass
class ParsedImport:
    rows: int = 0
    offers: list[OfferIntake] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def is_valid(self) -> bool:
        return not self.errors


# --- reading the file ---------------------------------------------------------------------


def _csv_rows(content: bytes) -> Iterator[list]:
    text = io.TextIOWrapper(io.BytesIO(content), encoding="utf-8-sig", newline="")
    try:
        yield from csv.reader(text)
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            "The file is not UTF-8 text. Save it as “CSV UTF-8” and upload it again."
        ) from exc
    except csv.Error as exc:
        raise ImportFileError(f"The file is not valid CSV: {exc}.") from exc


def _xlsx_rows(content: bytes) -> Iterator[tuple]:
    import zipfile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise ImportFileError("The file is not a readable XLSX workbook.") from exc
    try:
        sheet = workbook.worksheets[0]
        yield from sheet.iter_rows(values_only=True)
    finally:
        workbook.close()


def file_rows(content: bytes, filename: str) -> Iterator[tuple[int, list]]:
    """(row number, cells) for every row of the file's first sheet, header included."""
    name = filename.lower()
    if name.endswith(".csv"):
        rows = _csv_rows(content)
    elif name.endswith(".xlsx"):
        rows = _xlsx_rows(content)
    else:
        raise ImportFileError("Import a .csv or .xlsx file.")
    yield from enumerate(rows, start=1)


# --- cells to the values the validator takes -----------------------------------------------


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _cell(column: str, value):
    """A cell as intake_validate takes it. Values that cannot be converted are passed on
    unchanged, so the validator reports them with its usual message."""
    if isinstance(value, str):
        value = value.strip()
    if column in WHOLE_NUMBER_COLUMNS:
        if isinstance(value, str) and WHOLE_NUMBER.fullmatch(value):
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value
    if column in YES_NO_COLUMNS:
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.lower() in YES | NO:
            return value.lower() in YES
        return value
    if column == "standards":
        return [part.strip() for part in str(value).split(";") if part.strip()]
    if column == "unit_price":
        return value
    if column == "supplier_incorporated_on" and isinstance(value, datetime | date):
        return (value.date() if isinstance(value, datetime) else value).isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # e.g. a company number typed as a number
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


# --- grouping rows into offers ---------------------------------------------------------------


@dataclass
class _Group:
    first_row: int
    offer: dict  # column -> value, from the first row
    lines: list[tuple[int, dict]] = field(default_factory=list)


def _offer_data(group: _Group) -> dict:
    data: dict = {}
    supplier: dict = {}
    introducer: dict = {}
    for column, value in group.offer.items():
        if column in INTRODUCER_COLUMNS:
            introducer[INTRODUCER_COLUMNS[column]] = value
        elif column.startswith(SUPPLIER_PREFIX):
            supplier[column.removeprefix(SUPPLIER_PREFIX)] = value
        else:
            data[column] = value
    data["supplier"] = supplier
    if introducer:
        data["introducer"] = introducer
    data["lines"] = [line for _, line in group.lines]
    return data


def _error_place(path: str, group: _Group) -> tuple[int, str]:
    """The row and column of a validator path such as `lines[2].quantity`."""
    if path.startswith("lines["):
        index, _, rest = path[len("lines[") :].partition("]")
        row = group.lines[int(index)][0]
        column = rest.lstrip(".").split("[")[0] or "category"
        return row, column
    if path == "lines":
        return group.first_row, "external_ref"
    if path.startswith("supplier"):
        name = path.removeprefix("supplier").lstrip(".") or "name"
        return group.first_row, SUPPLIER_PREFIX + name
    if path.startswith("introducer"):
        name = path.removeprefix("introducer").lstrip(".") or "name"
        columns = {v: k for k, v in INTRODUCER_COLUMNS.items()}
        return group.first_row, columns.get(name, "introducer_name")
    return group.first_row, path


def _header(cells: list, errors: list[RowError]) -> list[str | None]:
    names: list[str | None] = []
    seen = set()
    for cell in cells:
        name = str(cell).strip().lower() if not _blank(cell) else None
        if name is not None and name not in COLUMN_NAMES:
            errors.append(RowError(1, name, "Unknown column."))
            name = None
        elif name is not None and name in seen:
            errors.append(RowError(1, name, "The column appears twice."))
            name = None
        if name:
            seen.add(name)
        names.append(name)
    for required in REQUIRED_COLUMNS:
        if required not in seen:
            errors.append(RowError(1, required, "Missing column."))
    return names


_gc_lock = threading.Lock()
_gc_pauses = 0
_gc_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection in the block (nor in any other thread meanwhile).

    Reading a large file makes millions of small objects that live on, and each of the
    collector's passes over them found nothing to free: at 100,000 rows they cost as
    much time as the reading itself. Nothing is lost: cycles made meanwhile are collected
    after the block. Nested and concurrent blocks are counted: the last to end restores
    the collector as the first found it."""
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()


def import_parse(
    content: bytes,
    *,
    filename: str,
    now: datetime,
    progress: Callable[[int], None] | None = None,
) -> ParsedImport:
    """Read and validate the whole file. Never writes; raises ImportFileError only when
    the file cannot be read at all. `progress(n)` is told of every n rows read."""
    with gc_paused():
        return _parse(content, filename=filename, now=now, progress=progress)


def _parse(content: bytes, *, filename: str, now: datetime, progress) -> ParsedImport:
    result = ParsedImport()
    groups: dict[str, _Group] = {}
    header: list[str | None] | None = None
    for number, cells in file_rows(content, filename):
        if header is None:
            header = _header(list(cells), result.errors)
            if result.errors:
                return result
            continue
        row = _row(number, header, cells, result.errors)
        if row is None:
            continue  # a blank row
        result.rows += 1
        if progress is not None and result.rows % 1000 == 0:
            progress(1000)
        ref = row.pop("external_ref", None)
        if not isinstance(ref, str) or not ref:
            result.errors.append(RowError(number, "external_ref", "This field is required."))
            continue
        offer = {c: row.pop(c) for c in OFFER_COLUMNS if c in row}
        group = groups.get(ref)
        if group is None:
            group = groups[ref] = _Group(first_row=number, offer={"external_ref": ref, **offer})
        else:
            for column, value in offer.items():
                if group.offer.get(column) != value:
                    result.errors.append(
                        RowError(
                            number,
                            column,
                            f"Differs from row {group.first_row}, the first row of "
                            f"offer {ref}: give the same value or leave it blank.",
                        )
                    )
        group.lines.append((number, row))
    if progress is not None:
        progress(result.rows % 1000)
    if header is None:
        result.errors.append(RowError(1, "", "The file is empty: it needs a header row."))
        return result
    # A cell refused while reading (a date cell for a time) is not reported again as missing.
    reported = {(error.row, error.column) for error in result.errors}
    for group in groups.values():
        intake, errors = intake_validate(
            _offer_data(group), now=now, default_channel=Channel.IMPORT
        )
        for path, message in errors:
            row, column = _error_place(path, group)
            if (row, column) not in reported:
                result.errors.append(RowError(row, column, message))
        if intake is not None:
            result.offers.append(intake)
    result.errors.sort(key=lambda e: (e.row, _column_order(e.column)))
    if result.errors:
        result.offers = []
    elif not result.offers:
        result.errors.append(RowError(2, "", "The file has a header but no rows."))
    return result


def _column_order(column: str) -> int:
    return COLUMN_NAMES.index(column) if column in COLUMN_NAMES else -1


def _whole_number_text(value: str):
    return int(value) if WHOLE_NUMBER.fullmatch(value) else value


def _yes_no_text(value: str):
    lowered = value.lower()
    if lowered in YES:
        return True
    return False if lowered in NO else value


def _standards_text(value: str) -> list[str]:
    return [part.strip() for part in value.split(";") if part.strip()]


# What _cell makes of a text cell, already stripped and not blank, by column: the text
# itself unless named here. (Text is what every CSV cell is, and most XLSX cells.)
TEXT_CELL = {
    **dict.fromkeys(WHOLE_NUMBER_COLUMNS, _whole_number_text),
    **dict.fromkeys(YES_NO_COLUMNS, _yes_no_text),
    "standards": _standards_text,
}


def _heading(header: list, width: int, index: int, number: int, errors: list[RowError]):
    """The column of the value in cell `index`, or None, reported, if it has no heading."""
    column = header[index] if index < width else None
    if column is None:
        errors.append(RowError(number, "", f"A value in column {index + 1}, which has no heading."))
    return column


def _row(number: int, header: list, cells, errors: list[RowError]) -> dict | None:
    """column -> value for the non-blank cells of a row, None when every cell is blank. A
    cell that cannot be read is reported here and left out."""
    row = {}
    blank = True
    width = len(header)
    for index, value in enumerate(cells):
        if type(value) is str:
            value = value.strip()
            if not value:
                continue
            blank = False
            column = _heading(header, width, index, number, errors)
            if column is None:
                continue
            convert = TEXT_CELL.get(column)
            row[column] = value if convert is None else convert(value)
            continue
        if _blank(value):
            continue
        blank = False
        column = _heading(header, width, index, number, errors)
        if column is None:
            continue
        if column in MOMENT_COLUMNS and isinstance(value, datetime | date | time):
            errors.append(
                RowError(
                    number,
                    column,
                    "A spreadsheet date cell has no UTC offset: write the time as text, "
                    "e.g. 2020-04-23T10:20:58+01:00.",
                )
            )
            continue
        row[column] = _cell(column, value)
    return None if blank else row
