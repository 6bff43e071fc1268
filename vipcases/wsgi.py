"""The WSGI application: /api/ through settings.API_MIDDLEWARE, the rest through MIDDLEWARE.

The intake API authenticates every request by its bearer token and never uses a
session, so it is served without the browser middleware (settings.py, "Cache, intake
API and import", says which). What it keeps (SecurityMiddleware's redirect to https,
HSTS and nosniff; the Content Security Policy; X-Frame-Options; the 503 answer when the
database is away) behaves as under the full stack that Django's test Client uses;
tests/vipcases/test_wsgi_api.py compares the two.
"""

import os

from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vipcases.settings")


class ApiWSGIHandler(WSGIHandler):
    """A WSGIHandler whose middleware is settings.API_MIDDLEWARE."""

    def load_middleware(self, is_async=False):
        from django.conf import settings

        # BaseHandler.load_middleware reads settings.MIDDLEWARE; it runs once, at start-up,
        # before any request, so swapping the list for its duration affects nothing else.
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.API_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


class PathDispatcher:
    """Sends requests under settings.API_PATH_PREFIX to `api`, the others to `site`."""

    def __init__(self, *, site, api, prefix: str):
        self.site = site
        self.api = api
        self.prefix = prefix

    def __call__(self, environ, start_response):
        # SCRIPT_NAME is left out, as URL resolution does: paths are relative to the mount.
        handler = self.api if environ.get("PATH_INFO", "").startswith(self.prefix) else self.site
        return handler(environ, start_response)


def application_build() -> PathDispatcher:
    from django.conf import settings

    site = get_wsgi_application()  # sets Django up
    return PathDispatcher(site=site, api=ApiWSGIHandler(), prefix=settings.API_PATH_PREFIX)


application = application_build()
