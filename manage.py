#!/usr/bin/env python
"""Django's command-line utility for vipcases."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vipcases.settings")
    from django.core.management import execute_from_command_line
    from django.db.utils import OperationalError

    try:
        execute_from_command_line(sys.argv)
    except OperationalError as exc:
        # An unreachable database is a configuration problem, not a crash: one line.
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        sys.stderr.write(f"vipcases: cannot use the database named by DATABASE_URL: {first_line}\n")
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
