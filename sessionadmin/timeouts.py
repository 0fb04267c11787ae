"""The one place deadlines are computed: idle, absolute, and when activity is written back.

All are judged on the server from the session's stored timestamps (ms since the epoch),
never from anything the client sends.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.sessions.backends.base import SessionBase

from sessionadmin.backends.redis import SessionStore
from sessionadmin.conf import get_settings
from sessionadmin.errors import log_store_outage
from sessionadmin.exceptions import SessionStoreUnavailable
from sessionadmin.index.actions import forget
from sessionadmin.index.records import at
from sessionadmin.store.client import now_ms
from sessionadmin.store.codec import AUTH_USER_KEY


def timeout_reason(session: SessionStore, now: int | None = None) -> str | None:
    """Return "idle" or "absolute" if a signed-in session has passed that deadline."""
    meta = session.meta
    if meta is None:
        return session.ended_by
    if not meta.user_id:
        return None
    idle, absolute = get_settings().timeouts(meta.kind)
    now = now_ms() if now is None else now
    if meta.login is not None and now - meta.login >= absolute * 1000:
        return "absolute"
    if now - meta.last_activity >= idle * 1000:
        return "idle"
    return None


def end_timed_out(session: SessionStore, sid: str, reason: str) -> None:
    """End a session found past its deadline (public id ``sid``), saying why.

    Still stored: deleted with its index entries. Already gone by its TTL: only its index
    entries go, so the reason is told once only. Either way a signed-in session is
    reported ended with ``reason`` (``signals.session_ended``), unless already reported.
    """
    if session.meta is not None:
        session.end_reason = reason
        try:
            session.flush()
        finally:
            session.end_reason = None
    else:
        forget([sid])


def touch_due(session: SessionStore, now: int | None = None) -> bool:
    """Return whether this request should write the activity record back."""
    meta = session.meta
    if meta is None or session.modified or session.session_key is None:
        return False
    now = now_ms() if now is None else now
    return now - meta.last_activity >= get_settings().touch_interval * 1000


def session_deadlines(session: SessionBase) -> tuple[datetime | None, datetime | None]:
    """Return (idle deadline, absolute deadline) of a loaded session, or Nones."""
    meta = getattr(session, "meta", None)
    if meta is None:
        return None, None
    idle_timeout, absolute_timeout = get_settings().timeouts(meta.kind)
    idle = at(meta.last_activity) + timedelta(seconds=idle_timeout)
    absolute = None
    if meta.login is not None and session.get(AUTH_USER_KEY):
        absolute = at(meta.login) + timedelta(seconds=absolute_timeout)
    return idle, absolute


def touch_if_due(session: SessionStore) -> None:
    """Write the activity record back if due; never fail the finished response for it.

    Only bookkeeping: the view's work is done (an order may be committed), so a store
    error here is logged and the response kept. Real saves still fail the request.
    """
    if not touch_due(session):
        return
    try:
        session.touch()
    except SessionStoreUnavailable as exc:
        log_store_outage(exc)
