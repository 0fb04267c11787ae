"""Requests that carry ``Authorization: Bearer <token>``: a token session, no cookies.

The middleware hands such a request here instead of reading a cookie: the token's own
session is loaded (one round trip, as for a cookie), its timeouts are enforced, CSRF is
not asked for (no browser sends the header by itself), and the answer never sets a
cookie. An unknown, revoked or malformed token is 401 ``AUTH_REQUIRED``; an expired one
401 ``SESSION_TIMEOUT`` with its reason, as for a browser.
"""

from __future__ import annotations

from django.contrib.sessions.backends.base import UpdateError
from django.http import HttpRequest, HttpResponse

from sessionadmin import hijack
from sessionadmin.backends.redis import ClientInfo, SessionStore
from sessionadmin.errors import (
    AuthRequired,
    SessionInterruptedError,
    SessionTimeout,
    error_response,
    store_unavailable_response,
)
from sessionadmin.exceptions import SessionStoreUnavailable
from sessionadmin.request import client_ip, user_agent
from sessionadmin.store import keys
from sessionadmin.timeouts import end_timed_out, timeout_reason, touch_if_due

BAD_BEARER = "The Authorization header does not hold a valid bearer token."
UNKNOWN_TOKEN = "This token is unknown, expired or revoked."  # noqa: S105 (a message)
RESPONSE_STATE = ("bearer",)  # a bearer's response goes to bearer_response
_ENDED = {
    "idle": "This token was not used for too long; issue a new one.",
    "absolute": "This token reached its maximum age; issue a new one.",
}


def no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    return response


def bearer_request(request: HttpRequest, token: str) -> HttpResponse | None:
    """Make ``request.session`` the token's session; answer 401 if there is none."""
    session = SessionStore(token)
    session.bearer = True
    session.client = ClientInfo(client_ip(request), user_agent(request))
    session.count_request = True
    request.session = session
    request.bearer = True  # (RESPONSE_STATE)
    # CSRF protects cookies a browser sends by itself; nothing sends this header unasked.
    request._dont_enforce_csrf_checks = True
    try:
        session._get_session()  # the request's one round trip
        reason = timeout_reason(session)
        if reason is not None:
            end_timed_out(session, keys.session_id(token), reason)
        elif hijack.check(session):
            return no_store(error_response(AuthRequired(UNKNOWN_TOKEN)))
    except SessionStoreUnavailable as exc:
        return store_unavailable_response(request, exc)
    if reason is not None:
        return no_store(error_response(SessionTimeout(_ENDED[reason], reason=reason)))
    if session.meta is None:
        return no_store(error_response(AuthRequired(UNKNOWN_TOKEN)))
    return None


def bearer_response(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """Save what the view changed, record activity; never a cookie on a bearer answer."""
    session = request.session
    try:
        if session.flushed_key is not None:  # a flush() of Django's, let through: ended now
            session.delete(session.flushed_key)
        if response.status_code < 500:
            touch_if_due(session)
            if session.modified and not session.is_empty():
                session.save()
    except UpdateError:  # revoked while the request ran: never written back
        response = error_response(SessionInterruptedError())
    except SessionStoreUnavailable as exc:
        response = store_unavailable_response(request, exc)
    response.cookies.clear()  # no Set-Cookie, ever (CSRF, messages, the session...)
    return no_store(response)
