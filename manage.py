#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sessionsite.settings")
    # The development settings `make run` wrote (DEBUG=1): every manage.py command of this
    # checkout works without exports. A real environment variable still wins; gunicorn
    # (sessionsite.wsgi) reads no .env unless SESSIONSITE_DOTENV names one.
    os.environ.setdefault("SESSIONSITE_DOTENV", os.path.join(os.path.dirname(__file__), ".env"))
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
