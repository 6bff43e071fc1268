"""A PostgreSQL advisory lock so that only one worker runs a periodic job at a time.

On SQLite (the embedded demo, one process) there is nothing to coordinate with, so the
lock is always granted.
"""

import zlib
from contextlib import contextmanager

from django.db import connection


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
