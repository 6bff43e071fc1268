"""Keyset ("seek") pagination: pages found by the sort key of a row, not by an offset.

An offset makes the database read and throw away every row before the page, and a
count of the whole result tells the page numbers; both grow with the table. A keyset
page asks for "the next 50 rows after this one in this order", which an index in the
same order answers by reading about 50 rows wherever the page is.

The cursor in the URL holds the sort key values of the row at the edge of the page,
signed with SECRET_KEY (django.core.signing): a cursor that was changed by hand fails
its signature and is refused (`CursorError`) instead of reaching the query. Every
ordering must end with a unique key (the primary key) so that rows with equal values
are neither repeated nor skipped from one page to the next.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from operator import and_, or_

from django.core import signing
from django.db.models import F, OrderBy, Q, QuerySet

SALT = "vipcases.keyset.cursor"


class CursorError(Exception):
    """The cursor was not made by this application for this ordering."""


@dataclass(frozen=True)
class Key:
    """One column of an ordering.

    `nullable`: the column may be NULL, and NULLs sort after every value (NULLS LAST),
    whichever the direction, so a walk backwards meets them first.
    `kind` says how the value is written in the cursor: "int", "str" or "datetime".
    """

    field: str
    descending: bool = False
    nullable: bool = False
    kind: str = "int"

    def order_by(self, *, backwards: bool) -> OrderBy:
        descending = self.descending != backwards
        expression = F(self.field)
        if not self.nullable:
            return expression.desc() if descending else expression.asc()
        # NULLs stay last walking forwards, so they come first walking backwards.
        nulls = {"nulls_first": True} if backwards else {"nulls_last": True}
        return expression.desc(**nulls) if descending else expression.asc(**nulls)

    def equal(self, value) -> Q:
        if value is None:
            return Q(**{f"{self.field}__isnull": True})
        return Q(**{self.field: value})

    def beyond(self, value, *, backwards: bool) -> Q:
        """Rows that come strictly after `value` in this column, in the walking direction."""
        descending = self.descending != backwards
        lookup = "lt" if descending else "gt"
        if not self.nullable:
            return Q(**{f"{self.field}__{lookup}": value})
        if not backwards:
            # NULLs are last: after a NULL nothing (in this column), after a value the
            # greater values and every NULL.
            if value is None:
                return Q(pk__in=[])
            return Q(**{f"{self.field}__{lookup}": value}) | Q(**{f"{self.field}__isnull": True})
        # Walking backwards the NULLs come first: after a NULL every value, after a
        # value only the values beyond it.
        if value is None:
            return Q(**{f"{self.field}__isnull": False})
        return Q(**{f"{self.field}__{lookup}": value})

    def at_most(self, value, *, backwards: bool) -> Q | None:
        """A redundant bound on the first column (`priority <= 57`) that lets the
        database start its index scan at the cursor instead of filtering up to it."""
        if self.nullable:
            return None
        descending = self.descending != backwards
        return Q(**{f"{self.field}__{'lte' if descending else 'gte'}": value})

    def read(self, row):
        value = row
        for part in self.field.split("__"):
            value = getattr(value, part)
        return value

    def dump(self, value):
        if value is None:
            return None
        if self.kind == "datetime":
            return value.isoformat()
        return value

    def load(self, value):
        if value is None:
            if not self.nullable:
                raise CursorError("a value is missing")
            return None
        try:
            if self.kind == "datetime":
                return datetime.fromisoformat(value)
            if self.kind == "int":
                if isinstance(value, bool) or not isinstance(value, int):
                    raise TypeError(value)
                return value
            if not isinstance(value, str):
                raise TypeError(value)
            return value
        except (TypeError, ValueError) as exc:
            raise CursorError("a value has the wrong type") from exc


@dataclass(frozen=True)
class Ordering:
    """A named ordering ending with a unique key."""

    name: str
    keys: tuple[Key, ...]

    def order_by(self, *, backwards: bool = False) -> list[OrderBy]:
        return [key.order_by(backwards=backwards) for key in self.keys]

    def beyond(self, values: Sequence, *, backwards: bool = False) -> Q:
        """Rows strictly after the row with these key values (before it, backwards):
        (k1 beyond v1) OR (k1 = v1 AND k2 beyond v2) OR ..."""
        branches = []
        for i, key in enumerate(self.keys):
            equal_so_far = [self.keys[j].equal(values[j]) for j in range(i)]
            branches.append(
                reduce(and_, [*equal_so_far, key.beyond(values[i], backwards=backwards)])
            )
        condition = reduce(or_, branches)
        bound = self.keys[0].at_most(values[0], backwards=backwards)
        return condition if bound is None else bound & condition

    def values_of(self, row) -> list:
        return [key.read(row) for key in self.keys]

    def cursor_for(self, row) -> str:
        values = [
            key.dump(value) for key, value in zip(self.keys, self.values_of(row), strict=True)
        ]
        return signing.dumps({"o": self.name, "v": values}, salt=SALT, compress=True)

    def values_from_cursor(self, cursor: str) -> list:
        try:
            payload = signing.loads(cursor, salt=SALT)
        except signing.BadSignature as exc:
            raise CursorError("the cursor's signature does not match") from exc
        if not isinstance(payload, dict) or payload.get("o") != self.name:
            raise CursorError("the cursor belongs to another ordering")
        values = payload.get("v")
        if not isinstance(values, list) or len(values) != len(self.keys):
            raise CursorError("the cursor has the wrong number of values")
        return [key.load(value) for key, value in zip(self.keys, values, strict=True)]


@dataclass
class Page:
    rows: list
    next_cursor: str | None
    previous_cursor: str | None


def page_after(
    queryset: QuerySet,
    ordering: Ordering,
    *,
    size: int,
    after: str | None = None,
    before: str | None = None,
) -> Page:
    """One page of `queryset` in `ordering`: the first page, the page after the row
    named by `after`, or the page before the row named by `before`. One query (two
    when a walk backwards reaches the start, to fill the first page).

    Raises CursorError for a cursor this ordering did not make.
    """
    if after and before:
        raise CursorError("a page is after a row or before one, not both")
    if before:
        values = ordering.values_from_cursor(before)
        rows = list(
            queryset.filter(ordering.beyond(values, backwards=True)).order_by(
                *ordering.order_by(backwards=True)
            )[: size + 1]
        )
        if len(rows) > size:
            rows = rows[:size][::-1]
            return Page(rows, ordering.cursor_for(rows[-1]), ordering.cursor_for(rows[0]))
        # Fewer than a page lies before: that is the first page, shown in full.
        after = None
    elif after:
        values = ordering.values_from_cursor(after)
        queryset = queryset.filter(ordering.beyond(values))
    rows = list(queryset.order_by(*ordering.order_by())[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return Page(
        rows,
        ordering.cursor_for(rows[-1]) if more else None,
        ordering.cursor_for(rows[0]) if after and rows else None,
    )
