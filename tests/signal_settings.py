"""The project's settings plus a receiver of sessionadmin's signals (tests.signal_log), for
the server processes of tests/sessionadmin/test_events_live.py."""

from sessionsite.settings import *  # noqa: F403
from sessionsite.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.signal_log"]
