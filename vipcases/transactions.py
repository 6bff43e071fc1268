"""Transaction settings for work that the system can always redo."""

from django.db import connection


def commit_asynchronously() -> None:
    """Let this transaction's COMMIT return before its WAL reaches the disk (PostgreSQL).

    Only for idempotent work whose loss is repaired automatically: if the server crashed
    in the next few milliseconds, the change would be lost as a whole (never half-applied)
    and redone, e.g. an unrouted case is routed again by the sweep. It saves the disk
    flush on every routing commit. Call it inside the transaction; no-op on SQLite.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
