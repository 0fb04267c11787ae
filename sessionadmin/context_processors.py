"""Template context: the session's deadlines, for the timeout warning script."""

from __future__ import annotations

from django.http import HttpRequest
from django.shortcuts import resolve_url

from sessionadmin.backends.redis import SessionStore
from sessionadmin.conf import get_settings
from sessionadmin.timeouts import session_deadlines as deadlines


def session_deadlines(request: HttpRequest) -> dict:
    """Return the signed-in session's idle and absolute deadlines (ms since the epoch).

    Read from the session already loaded for this request: no extra Redis round trip,
    and no request that would count as activity.
    """
    session = getattr(request, "session", None)
    if not isinstance(session, SessionStore) or not session.loaded_user_id():
        return {}
    idle, absolute = deadlines(session)
    conf = get_settings()
    return {
        "session_timeout": {
            "idle": int(idle.timestamp() * 1000) if idle else "",
            "absolute": int(absolute.timestamp() * 1000) if absolute else "",
            "warning_before": conf.warning_before,
            "login_url": resolve_url(conf.login_url),
        }
    }
