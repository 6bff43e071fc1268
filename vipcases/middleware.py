"""Turn a lost database connection into a 503 page instead of a 500.

The middleware catches the views' errors; `server_error` (the project's handler500)
catches the rest, such as a middleware failing to save the session on the way out while
the database is down.
"""

import logging
import sys

from django.db import OperationalError, connections
from django.http import HttpResponse
from django.template import loader
from django.views import defaults

logger = logging.getLogger(__name__)


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, OperationalError):
            return None
        logger.error("database unavailable: %s", exception)
        return unavailable()


def unavailable() -> HttpResponse:
    # Drop the broken connection so the next request reconnects by itself.
    for conn in connections.all(initialized_only=True):
        conn.close_if_unusable_or_obsolete()
    # 503.html is standalone: it needs no database and no context processors.
    body = loader.get_template("503.html").render({})
    return HttpResponse(body, status=503, headers={"Retry-After": "30"})


def server_error(request):
    """handler500: a database error raised outside any view (by a middleware) is a 503."""
    if isinstance(sys.exception(), OperationalError):
        return unavailable()
    return defaults.server_error(request)
