"""What Django's error reports (the DEBUG page, mails to ADMINS) may show of the settings."""

from __future__ import annotations

import re

from django.views.debug import SafeExceptionReporterFilter


class SettingsFilter(SafeExceptionReporterFilter):
    """Django's filter, hiding URLs that carry credentials too.

    Django hides a setting by its name (API, KEY, PASS, SECRET...), which misses
    ``REDIS_URL`` and the caches' ``LOCATION``. Both are ``redis://user:password@…``.
    """

    hidden_settings = re.compile(
        SafeExceptionReporterFilter.hidden_settings.pattern + "|_URL$|^LOCATION$", flags=re.I
    )
