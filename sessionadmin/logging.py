"""Logging helpers: store outages are logged once by sessionadmin, not per request."""

from __future__ import annotations

import logging

from sessionadmin.exceptions import SessionStoreUnavailable


class DropStoreUnavailable(logging.Filter):
    """Drop django.request's per-request tracebacks for a Redis outage (already a 503)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 503 and not record.exc_info:
            return False  # Django's "Service Unavailable: /path" line for each 503 we answer
        exc = record.exc_info[1] if record.exc_info else None
        while exc is not None:
            if isinstance(exc, SessionStoreUnavailable):
                return False
            exc = exc.__cause__
        return True
