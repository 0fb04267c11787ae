"""The two middleware that replace Django's SessionMiddleware and AuthenticationMiddleware.

``SessionMiddleware`` loads the session of any request with a cookie up front (one Redis
round trip, which also counts the request), then:

- ends it if its idle or absolute deadline has passed (``timeouts``): JSON paths answer
  401 ``SESSION_TIMEOUT`` with ``reason``, pages redirect to the login page;
- writes the activity record back at most once per ``SESSION_TOUCH_INTERVAL`` (lazy touch,
  as connect-mongo's ``touchAfter``), unless the request saves the session anyway;
- answers 503 ``SESSION_STORE_UNAVAILABLE`` when Redis does not answer, wherever it fails;
- answers a sign-in refused by the login limit with 429 and a clear message, whichever
  view asked (``auth.limits``).

``AuthenticationMiddleware`` builds ``request.user`` from the copy cached beside the
session (``auth.usercache``): a signed-in read makes no database query.
"""

from __future__ import annotations

from functools import partial
from urllib.parse import urlencode, urlsplit

from asgiref.sync import sync_to_async
from django.contrib import auth
from django.contrib.auth.middleware import AuthenticationMiddleware as DjangoAuthMiddleware
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.exceptions import SessionInterrupted
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.forms.forms import NON_FIELD_ERRORS
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.utils.functional import SimpleLazyObject

from sessionadmin import hijack, response_step
from sessionadmin.auth import limits, password_changes, usercache
from sessionadmin.backends.redis import NO_CLIENT, ClientInfo, SessionStore
from sessionadmin.bearer import BAD_BEARER, bearer_request, no_store
from sessionadmin.conf import get_settings
from sessionadmin.decorators import wants_own_sessions
from sessionadmin.errors import (
    AuthRequired,
    SessionTimeout,
    error_response,
    is_json_request,
    store_unavailable_response,
)
from sessionadmin.exceptions import SessionStoreUnavailable
from sessionadmin.index.queries import USER_SESSIONS_LIMIT
from sessionadmin.request import client_ip, user_agent
from sessionadmin.store import keys
from sessionadmin.timeouts import end_timed_out, timeout_reason, touch_if_due
from sessionadmin.tokens import MalformedAuthorization, bearer_token

_MESSAGES = {
    "idle": "You were signed out after a period of inactivity.",
    "absolute": "Your session reached its maximum length; please sign in again.",
}


def timeout_response(request: HttpRequest, reason: str) -> HttpResponse:
    """JSON: 401 SESSION_TIMEOUT with the reason; pages: to the login page, saying why."""
    if is_json_request(request):
        response = error_response(SessionTimeout(_MESSAGES[reason], reason=reason))
    else:
        query = urlencode({"reason": reason, "next": request.get_full_path()})
        response = HttpResponseRedirect(f"{resolve_url(get_settings().login_url)}?{query}")
    response["Cache-Control"] = "no-store"
    return response


class SessionMiddleware(DjangoSessionMiddleware):
    """Django's SessionMiddleware with activity, timeouts, login limits and 503 on outages."""

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        password_changes.begin(request)
        try:
            return self._open_session(request)
        except BaseException:
            password_changes.finish(request)  # no response will come back through here
            raise

    def _open_session(self, request: HttpRequest) -> HttpResponse | None:
        try:
            token = bearer_token(request)
        except MalformedAuthorization:
            return no_store(error_response(AuthRequired(BAD_BEARER)))
        if token is not None:
            return bearer_request(request, token)
        conf = get_settings()
        # Django's process_request, with the cookie's name from settings read once (conf).
        session = self.SessionStore(request.COOKIES.get(conf.cookie_name))
        request.session = session
        if not isinstance(session, SessionStore):
            return None
        session.client = ClientInfo(client_ip(request), user_agent(request))
        session.count_request = True
        key = session.session_key
        if key is None or request.path.startswith(conf.exempt_paths):
            return None
        if wants_own_sessions(request):
            session.list_own = USER_SESSIONS_LIMIT
        try:
            session._get_session()  # the request's one round trip
            reason = timeout_reason(session)
            if reason is None:
                hijack.check(session)  # ended: the request goes on signed out
                return None
            end_timed_out(session, keys.session_id(key), reason)
        except SessionStoreUnavailable as exc:
            return store_unavailable_response(request, exc)
        if request.path == urlsplit(resolve_url(conf.login_url)).path:
            # Already on the way to sign in again: the session is ended above; redirecting
            # the login page to itself would only wrap its own URL into ?next=.
            return None
        return timeout_response(request, reason)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        limits.failed(request)  # a sign-in attempt it cut short stays counted (settle)
        # A Redis outage anywhere in a view (a sign-in's limit, a listing) is a 503, in
        # any project, not only in one whose error handlers know about it.
        if isinstance(exception, SessionStoreUnavailable):
            return store_unavailable_response(request, exception)
        if isinstance(exception, UpdateError):
            # The session ended while the view ran (cycle_key() of a revoked session):
            # what Django's own middleware says when a save finds it gone.
            raise SessionInterrupted(
                "The request's session was deleted before the request completed."
            ) from exception
        return None

    def process_view(self, request: HttpRequest, view, args, kwargs) -> HttpResponse | None:
        # The admin's and Django's password change check the old password with no hook of ours.
        if not limits.is_unlimited_password_change(request):
            return None
        try:
            limits.count_password_check(request, request.user)
        except limits.LoginLimited as refused:
            response = HttpResponse(
                f"<h1>Password change</h1><p>{refused.message}</p>", status=429
            )
            response["Retry-After"] = str(refused.retry_after)
            return response
        except SessionStoreUnavailable as exc:
            return store_unavailable_response(request, exc)
        return None

    def process_template_response(
        self, request: HttpRequest, response: HttpResponse
    ) -> HttpResponse:
        # A login form refused by the limit (the admin's, a third party's) says why,
        # instead of "wrong username or password".
        refused = limits.refusal(request)
        form = (getattr(response, "context_data", None) or {}).get("form")
        if refused is not None and form is not None and form.is_bound:
            form.errors[NON_FIELD_ERRORS] = form.error_class(
                [refused.message], error_class="nonfield", renderer=form.renderer
            )
        return response

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        changed = password_changes.finish(request)
        if response_step.pending(request):
            response, final = response_step.settle(request, response, changed)
            if final:
                return response
        session = getattr(request, "session", None)
        ours = isinstance(session, SessionStore)
        if ours:
            if session.client is NO_CLIENT:
                # One the project's own code made for this request (a key from a header):
                # its save is this request's activity, not a task's quiet save.
                session.client = ClientInfo(client_ip(request), user_agent(request))
            if not response_step.may_store_new(request, session):
                session.modified = False  # served as usual, but nothing stored, no cookie
            if response.status_code < 500:
                touch_if_due(session)  # (by the clock now: the view may have been long)
        try:
            if ours and session.loaded_user_id():
                # A signed-in page must never be kept by a shared or back/forward cache.
                response.headers.setdefault("Cache-Control", "no-store")
            if ours and response_step.read_only(session):
                if session.accessed:
                    response_step.vary_on_cookie(response)
            else:
                response = super().process_response(request, response)
        except SessionStoreUnavailable as exc:
            return store_unavailable_response(request, exc)
        if ours:
            session.report_sign_in(request)
        return response


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
        user = usercache.decode(session.cached_user, user_id, session.user_generation)
        if user is not None:
            user.backend = backend
            return user
    current = session.get(auth.SESSION_KEY)
    if current and (session.user_generation is None or str(current) != user_id):
        # Read before the user is: a change of the user after this is never cached over.
        session.user_generation = usercache.generation(str(current))
    # Django flushes a session whose auth hash no longer verifies: its password changed.
    session.end_reason = "password_changed"
    try:
        user = auth.get_user(request)
    finally:
        session.end_reason = None
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
