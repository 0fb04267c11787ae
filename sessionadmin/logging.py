"""Logging helpers: store outages are logged once by sessionadmin, not per request."""

from __future__ import annotations

import logging

from sessionadmin.exceptions import SessionStoreUnavailable

STORE_DOWN_ATTR = "_sessionadmin_store_down"  # set on a request answered 503 for Redis


class DropStoreUnavailable(logging.Filter):
    """Drop django.request's per-request lines for a Redis outage (already a 503).

    Only those: a 503 for anything else (a database outage on a health check, a view's
    own 503) is still logged.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        if getattr(record, "status_code", None) == 503 and getattr(request, STORE_DOWN_ATTR, 0):
            return False  # Django's "Service Unavailable: /path" line for our 503
        exc = record.exc_info[1] if record.exc_info else None
        while exc is not None:
            if isinstance(exc, SessionStoreUnavailable):
                return False
            exc = exc.__cause__
        return True
