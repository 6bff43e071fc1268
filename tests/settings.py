"""Settings for the test suite: the app's own, with a throwaway SECRET_KEY when none is set.

pytest-django imports settings before any conftest runs, so this is the place for it.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-only-insecure-key")

from vipcases.settings import *  # noqa: E402, F403
