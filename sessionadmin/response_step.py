"""SessionMiddleware's response step, besides Django's: what a request left to settle
(a sign-in attempt, a device cookie, an outage...), the new-session limit, and the
response of a session only read, which needs nothing of Django's step but its Vary."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers

from sessionadmin import bearer, errors
from sessionadmin.auth import limits, trusted
from sessionadmin.backends.redis import SessionStore
from sessionadmin.bearer import bearer_response
from sessionadmin.conf import get_settings
from sessionadmin.errors import (
    RateLimited,
    error_response,
    is_json_request,
    store_failure,
    store_unavailable_response,
)
from sessionadmin.exceptions import SessionStoreUnavailable
from sessionadmin.new_sessions import allow_new_session
from sessionadmin.request import client_ip

# What a request may leave for its response step: a sign-in attempt or its refusal, an
# old password checked, a device cookie, an outage Django answered 500, a bearer. Nearly
# every request leaves none, and its response step skips them (pending).
SETTLED = frozenset(
    (*limits.RESPONSE_STATE, *trusted.RESPONSE_STATE, *errors.RESPONSE_STATE,
     *bearer.RESPONSE_STATE)
)  # fmt: skip


def pending(request: HttpRequest) -> bool:
    """Whether the request holds anything ``settle`` settles (an attribute named in SETTLED)."""
    return not SETTLED.isdisjoint(request.__dict__)


def settle(
    request: HttpRequest, response: HttpResponse, changed: frozenset[str]
) -> tuple[HttpResponse, bool]:
    """The response step for what the request left (SETTLED); return the response, and
    whether it is final (an outage's 503, a bearer's answer)."""
    failed = store_failure(request)
    if failed is not None and response.status_code == 500:
        return store_unavailable_response(request, failed), True  # (note_store_failure)
    try:
        limits.settle(request, response.status_code)
    except SessionStoreUnavailable as exc:
        return store_unavailable_response(request, exc), True
    if getattr(request, "bearer", False):
        return bearer_response(request, response), True
    response = _answer_refused_login(request, response)
    limits.settle_password_check(request, changed)
    trusted.set_cookie(request, response)
    return response, False


def read_only(session: SessionStore) -> bool:
    """Whether all Django's response step would do is vary on Cookie (if the session was
    read): nothing to save (nor saved on every request) and no cookie to delete. Nearly
    every request, which then skips its settings reads and header parsing."""
    return (
        not session.modified and not get_settings().save_every_request and not session.is_empty()
    )


def vary_on_cookie(response: HttpResponse) -> None:
    """``patch_vary_headers(response, ("Cookie",))``, spelled out for the response with no
    Vary header yet (nearly every one), which needs no parsing of it."""
    if "Vary" in response.headers:
        patch_vary_headers(response, ("Cookie",))
    else:
        response.headers["Vary"] = "Cookie"


def may_store_new(request: HttpRequest, session: SessionStore) -> bool:
    """Whether a guest session this request would create may be stored (new_sessions)."""
    if session.session_key is not None or not session.modified or session.is_empty():
        return True  # not a new session: nothing to limit
    try:
        return allow_new_session(client_ip(request))
    except SessionStoreUnavailable:
        return True  # the save that follows answers 503 by itself


def _answer_refused_login(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """Make a sign-in refused by the login limit a 429, whatever the view answered."""
    refused = limits.refusal(request)
    if refused is None or response.status_code == 429:
        return response
    if is_json_request(request):
        return error_response(RateLimited(retry_after=refused.retry_after))
    if response.status_code == 200:  # the login form again, with its message (SessionMiddleware)
        response.status_code = 429
        response["Retry-After"] = str(refused.retry_after)
    return response
