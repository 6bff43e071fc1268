"""Case events: appended, chained by hash, never changed.

Guarantees:
- append-only: database triggers (migration 0006_event_chain) refuse every UPDATE and
  DELETE of a case event, through the ORM or raw SQL, on PostgreSQL and SQLite;
- tamper-evident: each event stores `prev_hash`, the `hash` of the event before it on
  the same case ("" for a case's first event), and its own `hash`, the SHA-256 of a
  canonical JSON of its content and `prev_hash` (`event_hash`). Changing, removing or
  inserting an event breaks the chain, and `manage.py verify_events` says where;
- one writer: `events_append` (and `event_append` for one) is the only code that creates
  events; a check constraint refuses an event saved without its hash;
- no forks: a case's events form one chain in id order. Callers append while holding
  the case's row lock (select_for_update) or for a case created in the same transaction,
  so appends to one case are serialised. Were two appends ever to race, the unique
  constraint on (case, prev_hash) refuses the second with an IntegrityError rather than
  storing a fork.
"""

import functools
import hashlib
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple

from django.db import connection as default_connection
from django.db import connections, router, transaction
from django.db.models import JSONField, OuterRef, Subquery
from django.utils import timezone

from vipcases.bulk import NEXTVALS, execute_prepared
from vipcases.models import Case, CaseEvent

# Every meaningful column of an event, in the names `.values()` returns. The id is not
# among them: it is given by the database after the hash is computed. A new column that
# matters must be added here, and to the hash, behind a version marker for old events.
HASHED_FIELDS = (
    "case_id",
    "kind",
    "actor_id",
    "created_at",
    "from_value",
    "to_value",
    "rationale",
    "restricted",
    "data",
)

# The triggers migration 0006_event_chain installs, by database vendor.
APPEND_ONLY_TRIGGERS = {
    "postgresql": ("caseevent_append_only",),
    "sqlite": ("caseevent_no_update", "caseevent_no_delete"),
}

# Case ids per query when looking up the last hash of each case.
LOOKUP_CHUNK = 5_000


# --- the hash -----------------------------------------------------------------------------


def _canonical(value):
    """The JSON value as it reads back from the database: PostgreSQL's jsonb writes a
    float like 1e16 as the integer 10000000000000000, so integral floats hash as integers."""
    if isinstance(value, dict):
        return {str(key): _canonical(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _utc_iso(moment: datetime) -> str:
    if timezone.is_naive(moment):
        raise ValueError(f"a case event needs an aware datetime, not {moment!r}")
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def event_hash(
    *,
    case_id: int,
    kind: str,
    actor_id: int | None,
    created_at: datetime,
    from_value: str,
    to_value: str,
    rationale: str,
    restricted: bool,
    data: dict,
    prev_hash: str,
) -> str:
    """SHA-256 (hex) of the event's content and the hash of the event before it."""
    return _digest(
        case_id,
        kind,
        actor_id,
        _utc_iso(created_at),
        from_value,
        to_value,
        rationale,
        restricted,
        data,
        prev_hash,
    )


# json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True), without
# making an encoder for every event.
_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode


def _digest(
    case_id, kind, actor_id, created_iso, from_value, to_value, rationale, restricted, data, prev
) -> str:
    """The hash itself, with `created_at` already written as _utc_iso writes it."""
    document = {
        "case": case_id,
        "kind": str(kind),
        "actor": actor_id,
        "created_at": created_iso,
        "from": from_value,
        "to": to_value,
        "rationale": rationale,
        "restricted": bool(restricted),
        "data": _canonical(data),
        "prev": prev,
    }
    return hashlib.sha256(_ENCODE(document).encode("ascii")).hexdigest()


# --- appending ------------------------------------------------------------------------------


def _normalise(event: CaseEvent) -> None:
    """Give the event the values it will read back with, so that the hash covers what is
    saved: strings as strings, the payload as it round-trips through JSON."""
    if event.case_id is None:
        raise ValueError("a case event needs a saved case")
    event.kind = str(event.kind)
    event.from_value = "" if event.from_value is None else str(event.from_value)
    event.to_value = "" if event.to_value is None else str(event.to_value)
    event.rationale = "" if event.rationale is None else str(event.rationale)
    event.restricted = bool(event.restricted)
    event.data = json.loads(json.dumps(event.data or {}))
    if event.created_at is None:
        event.created_at = timezone.now()


def latest_hashes(case_ids: Iterable[int]) -> dict[int, str]:
    """The hash of the last event (highest id) of each case that has one: one query per
    LOOKUP_CHUNK cases, reading one event per case (the index on (case, id), migration
    0009, gives each case's last event directly)."""
    ids = sorted(set(case_ids))
    found: dict[int, str] = {}
    last = CaseEvent.objects.filter(case_id=OuterRef("pk")).order_by("-id").values("hash")[:1]
    for start in range(0, len(ids), LOOKUP_CHUNK):
        chunk = ids[start : start + LOOKUP_CHUNK]
        rows = (
            Case.objects.filter(pk__in=chunk)
            .order_by()
            .annotate(last=Subquery(last))
            .values_list("pk", "last")
        )
        found.update((case_id, digest) for case_id, digest in rows if digest is not None)
    return found


def events_append(
    events: list[CaseEvent], *, new_cases: bool = False, batch_size: int | None = None
) -> list[CaseEvent]:
    """Chain and save the events, in list order (several events of one case chain to
    each other), with one query for the cases' last hashes and bulk inserts.

    Call it inside the transaction that holds the cases' row locks. `new_cases=True`
    says the cases were created in this transaction and have no events yet, which saves
    the look-up; if that is wrong, the database refuses the second first event.
    Returns the events, saved, with their ids."""
    if not events:
        return events
    written: dict[datetime, str] = {}  # created_at as hashed: a batch shares one moment
    for event in events:
        _normalise(event)
        if event.created_at not in written:
            written[event.created_at] = _utc_iso(event.created_at)  # refuses a naive one
    tips = {} if new_cases else latest_hashes(event.case_id for event in events)
    for event in events:
        event.prev_hash = tips.get(event.case_id, "")
        event.hash = tips[event.case_id] = _digest(
            event.case_id,
            event.kind,
            event.actor_id,
            written[event.created_at],
            event.from_value,
            event.to_value,
            event.rationale,
            event.restricted,
            event.data,
            event.prev_hash,
        )
    return _insert(events, batch_size)


class EventValues(NamedTuple):
    """A case event to append, as the values its hash covers (HASHED_FIELDS, in order):
    what events_append_values takes instead of a CaseEvent."""

    case_id: int
    kind: str
    actor_id: int | None
    created_at: datetime | None
    from_value: str = ""
    to_value: str = ""
    rationale: str = ""
    restricted: bool = False
    data: dict | None = None


def events_append_values(
    events: list[EventValues], *, new_cases: bool = False, batch_size: int | None = None
) -> list[int]:
    """events_append for events given as EventValues rather than CaseEvent instances:
    the same chains, hashes and rows, for imports of tens of thousands of events, where
    making a model instance of each cost more than chaining and saving it. Returns the
    events' ids, in order."""
    if not events:
        return []
    if connections[router.db_for_write(CaseEvent)].vendor != "postgresql":
        saved = events_append(
            [CaseEvent(**event._asdict()) for event in events],
            new_cases=new_cases,
            batch_size=batch_size,
        )
        return [event.pk for event in saved]
    written: dict[datetime, str] = {}
    rows = []
    for event in events:  # the values _normalise gives an event, in HASHED_FIELDS order
        if event.case_id is None:
            raise ValueError("a case event needs a saved case")
        created_at = event.created_at or timezone.now()
        if created_at not in written:
            written[created_at] = _utc_iso(created_at)  # refuses a naive one
        rows.append(
            (
                event.case_id,
                str(event.kind),
                event.actor_id,
                created_at,
                "" if event.from_value is None else str(event.from_value),
                "" if event.to_value is None else str(event.to_value),
                "" if event.rationale is None else str(event.rationale),
                bool(event.restricted),
                json.loads(_JSON_TEXT(event.data or {})),
            )
        )
    tips = {} if new_cases else latest_hashes(row[0] for row in rows)
    chained = []
    for row in rows:
        case_id, created_at, prev_hash = row[0], row[3], tips.get(row[0], "")
        tips[case_id] = digest = _digest(*row[:3], written[created_at], *row[4:], prev_hash)
        chained.append((*row, prev_hash, digest))
    columns = zip(*chained, strict=True)  # one tuple per column
    names = (*HASHED_FIELDS, "prev_hash", "hash")
    return _insert_columns(dict(zip(names, map(list, columns), strict=True)), batch_size)


# Columns whose Python value PostgreSQL takes as it is; any other goes through its field's
# get_db_prep_save (the JSON payload, and whatever a later column needs).
_PLAIN_COLUMNS = {
    "BigIntegerField",
    "BooleanField",
    "CharField",
    "DateTimeField",
    "ForeignKey",
    "IntegerField",
    "TextField",
}


# JSON as the JSONField's own adaptation writes it (json.dumps, without an encoder).
_JSON_TEXT = json.JSONEncoder().encode

# From this many events, _insert writes with COPY (ids taken from the sequence first):
# a round trip more than one INSERT, but no per-value array encoding.
COPY_FROM = 200


def _insert(events: list[CaseEvent], batch_size: int | None) -> list[CaseEvent]:
    """Save chained events and give them their ids (see _insert_columns); elsewhere
    than on PostgreSQL, bulk_create."""
    alias = router.db_for_write(CaseEvent)
    if connections[alias].vendor != "postgresql":
        return CaseEvent.objects.bulk_create(events, batch_size=batch_size)
    columns = {
        f.attname: [getattr(event, f.attname) for event in events]
        for f in CaseEvent._meta.concrete_fields
        if not f.primary_key
    }
    pk_name = CaseEvent._meta.pk.attname
    for event, pk in zip(events, _insert_columns(columns, batch_size), strict=True):
        setattr(event, pk_name, pk)
        event._state.adding = False
        event._state.db = alias
    return events


_FIELDS = [f for f in CaseEvent._meta.concrete_fields if not f.primary_key]


@functools.cache
def _statement(alias: str, copying: bool) -> str:
    """_insert_columns' COPY or INSERT statement (made once: db_type is not cheap)."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    table, pk_column = quote(CaseEvent._meta.db_table), quote(CaseEvent._meta.pk.column)
    columns = ", ".join(quote(f.column) for f in _FIELDS)
    if copying:
        return f"COPY {table} ({pk_column}, {columns}) FROM STDIN"
    # varchar[], not varchar(64)[], as bulk_create does: no silent truncation.
    arrays = ", ".join(f"%s::{f.db_type(connection).split('(')[0]}[]" for f in _FIELDS)
    return f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays}) RETURNING {pk_column}"  # noqa: S608 - names from the model, values as parameters


def _insert_columns(columns: dict[str, list], batch_size: int | None) -> list[int]:
    """Save chained events given as one list of values per column (attname; every
    concrete column but the id) on PostgreSQL; return their ids, in list order, so that
    chain order stays id order. A few events: one INSERT … SELECT FROM unnest(one array
    per column) … RETURNING id per batch, the statement bulk_create makes, but without
    its per-value preparation, which cost as much as the hashing; many (COPY_FROM or
    more, an import): their ids from the table's sequence, ascending, then one COPY per
    batch, which spares encoding every value into an array."""
    alias = router.db_for_write(CaseEvent)
    connection = connections[alias]
    fields = _FIELDS
    count = len(columns[fields[0].attname])
    pk_column = CaseEvent._meta.pk.column
    copying = count >= COPY_FROM
    sql = _statement(alias, copying)
    size, ids = batch_size or count, []
    # All batches or none, as bulk_create does.
    with transaction.atomic(using=alias, savepoint=False), connection.cursor() as cursor:
        for start in range(0, count, size):
            batch = []
            for f in fields:
                values = columns[f.attname][start : start + size]
                if copying and isinstance(f, JSONField) and f.encoder is None:
                    values = [_JSON_TEXT(value) for value in values]  # COPY takes JSON text
                elif f.get_internal_type() not in _PLAIN_COLUMNS:
                    values = [f.get_db_prep_save(value, connection) for value in values]
                batch.append(values)
            if copying:
                cursor.execute(NEXTVALS, [CaseEvent._meta.db_table, pk_column, len(batch[0])])
                batch_ids = sorted(pk for (pk,) in cursor.fetchall())
                with connection.wrap_database_errors, cursor.cursor.copy(sql) as copy:
                    for row in zip(batch_ids, *batch, strict=True):
                        copy.write_row(row)
            else:
                # Prepared: the statement is the same for any number of events (one
                # array per column), and planning it cost as much as running it.
                batch_ids = [pk for (pk,) in execute_prepared(connection, sql, batch)]
            ids += batch_ids
    return ids


def event_append(event: CaseEvent, *, new_case: bool = False) -> CaseEvent:
    """Chain and save one event (see events_append)."""
    return events_append([event], new_cases=new_case)[0]


# --- verifying -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainBreak:
    case_id: int
    event_id: int
    problem: str
    expected: str
    found: str

    def __str__(self) -> str:
        return (
            f"case {self.case_id} (PPE-{self.case_id:06d}), event {self.event_id}: "
            f"{self.problem} (expected {self.expected or '(empty)'}, "
            f"found {self.found or '(empty)'})"
        )


CONTENT_CHANGED = "its content does not match its hash: it was changed after it was written"
LINK_BROKEN = (
    "its prev_hash is not the hash of the event before it: an event before it "
    "was removed, inserted or rewritten"
)


def event_rows(*, case_id: int | None = None, chunk_size: int = 2_000) -> Iterator[dict]:
    """Every event (or one case's), as the values the hash covers, in chain order
    (case, then id), streamed."""
    rows = CaseEvent.objects.order_by("case_id", "id")
    if case_id is not None:
        rows = rows.filter(case_id=case_id)
    return rows.values("id", "prev_hash", "hash", *HASHED_FIELDS).iterator(chunk_size=chunk_size)


@dataclass
class ChainCheck:
    """Recomputes chains from rows in chain order (event_rows): feed each row, collect
    the breaks it returns, then call finish()."""

    cases: int = 0
    events: int = 0
    breaks: int = 0
    _case_id: int | None = None
    _last_hash: str = ""
    _heads: object = field(default_factory=hashlib.sha256, repr=False)

    def feed(self, row: dict) -> list[ChainBreak]:
        if row["case_id"] != self._case_id:
            self._close_case()
            self._case_id, self._last_hash = row["case_id"], ""
            self.cases += 1
        self.events += 1
        found = []
        if row["prev_hash"] != self._last_hash:
            found.append(
                ChainBreak(
                    row["case_id"], row["id"], LINK_BROKEN, self._last_hash, row["prev_hash"]
                )
            )
        expected = event_hash(
            **{name: row[name] for name in HASHED_FIELDS}, prev_hash=row["prev_hash"]
        )
        if row["hash"] != expected:
            found.append(
                ChainBreak(row["case_id"], row["id"], CONTENT_CHANGED, expected, row["hash"])
            )
        self._last_hash = row["hash"]
        self.breaks += len(found)
        return found

    def _close_case(self) -> None:
        if self._case_id is not None:
            self._heads.update(f"{self._case_id}:{self._last_hash}\n".encode("ascii"))

    def finish(self) -> str:
        """The digest of every chain's head (case id and last hash). Recorded outside the
        database, it shows later whether the ends of the chains were cut or rewritten,
        which a chain alone cannot show."""
        self._close_case()
        self._case_id = None
        return self._heads.hexdigest()


# --- the triggers ----------------------------------------------------------------------------


def append_only_triggers_missing(connection=default_connection) -> list[str]:
    """The append-only triggers that are missing or disabled on this database."""
    wanted = APPEND_ONLY_TRIGGERS.get(connection.vendor, ())
    table = CaseEvent._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass "
                "AND NOT tgisinternal AND tgenabled <> 'D'",
                [table],
            )
        elif connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [table]
            )
        else:
            return []
        present = {name for (name,) in cursor.fetchall()}
    return [name for name in wanted if name not in present]


@contextmanager
def sqlite_triggers_lifted(connection) -> Iterator[None]:
    """Drop the case-event triggers for the block and put them back after it (SQLite).

    For `manage.py flush` only: on SQLite it empties tables with DELETE, which the
    triggers refuse, where PostgreSQL uses TRUNCATE, which row triggers do not see."""
    table = CaseEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s",
            [table],
        )
        triggers = cursor.fetchall()
        for name, _ in triggers:
            cursor.execute(f'DROP TRIGGER "{name}"')
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for _, sql in triggers:
                cursor.execute(sql)
