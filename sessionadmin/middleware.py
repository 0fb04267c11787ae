"""Session middleware: Django's, plus activity tracking, timeouts and outage handling.

Use ``sessionadmin.middleware.SessionMiddleware`` in place of Django's. For a request that
carries a session cookie it loads the session up front (one Redis round trip, which also
counts the request), then:

- ends it if its idle or absolute deadline has passed, judged from the stored timestamps
  (API: 401 ``SESSION_TIMEOUT`` with ``reason``; pages: redirect to the login page);
- writes the activity record back at most once per ``SESSION_TOUCH_INTERVAL`` (lazy touch,
  as connect-mongo's ``touchAfter``), unless the request saves the session anyway;
- answers 503 ``SESSION_STORE_UNAVAILABLE`` when Redis does not answer.
"""

from __future__ import annotations

from functools import partial
from urllib.parse import urlencode, urlsplit

from asgiref.sync import sync_to_async
from django.contrib import auth
from django.contrib.auth.middleware import AuthenticationMiddleware as DjangoAuthMiddleware
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.functional import SimpleLazyObject

from sessionadmin import index, keys, usercache
from sessionadmin.backends.redis import ClientInfo, SessionStore, now_ms
from sessionadmin.client import client_ip, user_agent
from sessionadmin.conf import get_settings
from sessionadmin.exceptions import SessionStoreUnavailable
from sessionadmin.http import SessionTimeout, error_response, is_api_request
from sessionadmin.http import store_unavailable_response as _unavailable


def timeout_reason(session: SessionStore, now: int | None = None) -> str | None:
    """Return "idle" or "absolute" if a signed-in session has passed that deadline."""
    meta = session.meta
    if meta is None:
        return session.ended_by
    if not meta.user_id:
        return None
    conf = get_settings()
    now = now_ms() if now is None else now
    if meta.login is not None and now - meta.login >= conf.absolute_timeout * 1000:
        return "absolute"
    if now - meta.last_activity >= conf.idle_timeout * 1000:
        return "idle"
    return None


def touch_due(session: SessionStore, now: int | None = None) -> bool:
    """Return whether this request should write the activity record back."""
    meta = session.meta
    if meta is None or session.modified or session.session_key is None:
        return False
    now = now_ms() if now is None else now
    return now - meta.last_activity >= get_settings().touch_interval * 1000


_MESSAGES = {
    "idle": "You were signed out after a period of inactivity.",
    "absolute": "Your session reached its maximum length; please sign in again.",
}


def timeout_response(request: HttpRequest, reason: str) -> HttpResponse:
    """API: 401 SESSION_TIMEOUT with the reason; pages: to the login page, saying why."""
    if is_api_request(request):
        response = error_response(SessionTimeout(_MESSAGES[reason], reason=reason))
    else:
        query = urlencode({"reason": reason, "next": request.get_full_path()})
        response = HttpResponseRedirect(f"{get_settings().login_url}?{query}")
    response["Cache-Control"] = "no-store"
    return response


class SessionMiddleware(DjangoSessionMiddleware):
    """Django's SessionMiddleware with activity, timeouts and a 503 on store outages."""

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        super().process_request(request)
        session = request.session
        if not isinstance(session, SessionStore):
            return None
        session.client = ClientInfo(client_ip(request), user_agent(request))
        session.count_request = True
        key = session.session_key
        if key is None or request.path.startswith(get_settings().exempt_paths):
            return None
        try:
            session._get_session()  # the request's one round trip
            reason = timeout_reason(session)
            if reason is None:
                return None
            if session.meta is not None:
                session.flush()  # deletes it with its index entries
            else:
                index.forget([keys.session_id(key)])  # tell the reason once only
        except SessionStoreUnavailable as exc:
            return _unavailable(request, exc)
        if request.path == urlsplit(get_settings().login_url).path:
            # Already on the way to sign in again: the session is ended above; redirecting
            # the login page to itself would only wrap its own URL into ?next=.
            return None
        return timeout_response(request, reason)

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        session = getattr(request, "session", None)
        try:
            if (
                isinstance(session, SessionStore)
                and response.status_code < 500
                and touch_due(session)
            ):
                session.touch()
            if isinstance(session, SessionStore) and session.loaded_user_id():
                # A signed-in page must never be kept by a shared or back/forward cache.
                response.headers.setdefault("Cache-Control", "no-store")
            return super().process_response(request, response)
        except SessionStoreUnavailable as exc:
            return _unavailable(request, exc)


def get_user(request: HttpRequest) -> AbstractBaseUser | AnonymousUser:
    """``request.user``: from the copy cached beside the session, else as Django does it.

    The copy is used only while the session still names the same user, backend and auth
    hash it was stored with (usercache); otherwise Django's ``get_user`` loads and verifies
    the user, and the result is cached for the session's next requests.
    """
    if not hasattr(request, "_cached_user"):
        request._cached_user = _load_user(request)
    return request._cached_user


def _load_user(request: HttpRequest) -> AbstractBaseUser | AnonymousUser:
    session = request.session
    if not isinstance(session, SessionStore) or session.meta is None:
        return auth.get_user(request)
    user_id = session.meta.user_id
    backend = session.get(auth.BACKEND_SESSION_KEY)
    # The copy belongs to the user the session had when loaded: after a login() of someone
    # else in this request the session names another user, and Django's path is taken.
    if user_id and backend and session.cached_user and session.get(auth.SESSION_KEY) == user_id:
        user = usercache.decode(session.cached_user, user_id)
        if user is not None:
            user.backend = backend
            return user
    user = auth.get_user(request)
    if user.is_authenticated:
        usercache.fill(session, user)
    return user


class AuthenticationMiddleware(DjangoAuthMiddleware):
    """Django's AuthenticationMiddleware, with ``request.user`` from the cached copy."""

    def process_request(self, request: HttpRequest) -> None:
        if not hasattr(request, "session"):
            super().process_request(request)  # raises Django's explanation
        request.user = SimpleLazyObject(partial(get_user, request))
        request.auser = partial(aget_user, request)


async def aget_user(request: HttpRequest) -> AbstractBaseUser | AnonymousUser:
    """``request.auser()``: as get_user, in a thread (the session client is synchronous).

    Cached apart from ``request.user``, as Django does, so a logout() that replaced
    ``request.user`` is not undone by a user cached before it.
    """
    if not hasattr(request, "_acached_user"):
        request._acached_user = await sync_to_async(_load_user)(request)
    return request._acached_user
