"""PostgreSQL advisory locks.

- `advisory_lock`: held by one process at a time, so that only one worker runs a
  periodic job at once (tried, not waited for).
- `transaction_locks`: waited for and held until the transaction ends, so that writers
  of the same thing take turns (the intake of offers from one supplier).

On SQLite (the embedded demo, one process) there is nothing to coordinate with, so the
locks are always granted at once.
"""

import hashlib
import zlib
from contextlib import contextmanager

from django.db import connection
from django.db.transaction import TransactionManagementError


@contextmanager
def advisory_lock(name: str):
    if connection.vendor != "postgresql":
        yield True
        return
    key = zlib.crc32(name.encode())
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


def _key64(name: str) -> int:
    """A signed 64-bit key for `name` (a clash only makes two writers take turns)."""
    return int.from_bytes(
        hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True
    )


def transaction_locks(names) -> None:
    """Wait for, then hold until the current transaction ends, an exclusive advisory lock
    for each of `names`. They are taken in one order whatever the caller's, so two
    writers each locking several names cannot deadlock. Refused outside a transaction
    (atomic), where the lock would end with its own statement and protect nothing."""
    if not connection.in_atomic_block:
        raise TransactionManagementError("transaction_locks needs a transaction (atomic).")
    if connection.vendor != "postgresql" or not names:
        return
    keys = sorted({_key64(name) for name in names})
    with connection.cursor() as cursor:
        # In the sorted order: unnest keeps the array's order, and ORDER BY is applied
        # before the select list's volatile functions are evaluated.
        cursor.execute(
            "SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k ORDER BY k", [keys]
        )
