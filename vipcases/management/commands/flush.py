"""Django's `flush`, able to empty the append-only case events on SQLite.

On PostgreSQL flush empties tables with TRUNCATE, which the row triggers that keep case
events append-only do not see (and which needs the table's owner). On SQLite it uses
DELETE, which they refuse; so there the triggers are lifted for the flush and put back
after it. The test framework flushes after every transactional test.
"""

from django.core.management.commands import flush
from django.db import connections

from vipcases.events import sqlite_triggers_lifted


class Command(flush.Command):
    def handle(self, **options):
        connection = connections[options["database"]]
        if connection.vendor != "sqlite":
            return super().handle(**options)
        with sqlite_triggers_lifted(connection):
            return super().handle(**options)
