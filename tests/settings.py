"""Settings for the test suite: the app's own, with a throwaway SECRET_KEY when none is set.

pytest-django imports settings before any conftest runs, so this is the place for it.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-only-insecure-key")

from vipcases.settings import *  # noqa: E402, F403

# The suite runs with DEBUG off, as production does, but the test client and the live
# servers of the browser tests speak plain http: redirecting them to https would break
# every request. tests/vipcases/test_security.py checks the production settings, redirect
# included, with `manage.py check --deploy`.
SECURE_SSL_REDIRECT = False
