"""SessionMiddleware's response step: a session only read skips Django's step, and what it
answers must be what Django's would have (sessionadmin/response_step.py)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.http import HttpResponse
from django.test import RequestFactory, override_settings

from sessionadmin.middleware import SessionMiddleware
from sessionadmin.response_step import read_only

COOKIE = settings.SESSION_COOKIE_NAME


def respond(session_key: str | None, vary: str | None, *, django: bool = False) -> HttpResponse:
    """One GET through our SessionMiddleware (or Django's step alone, on a session our
    middleware loaded the same way), with a view answering with ``vary`` as its Vary."""

    def view(request):
        request.session.get("anything")  # a view that reads its session
        response = HttpResponse("ok")
        if vary is not None:
            response["Vary"] = vary
        return response

    request = RequestFactory().get("/test/whoami")
    if session_key is not None:
        request.COOKIES[COOKIE] = session_key
    middleware = SessionMiddleware(view)
    if not django:
        return middleware(request)
    middleware.process_request(request)
    return DjangoSessionMiddleware.process_response(middleware, request, view(request))


@pytest.mark.parametrize(
    ("vary", "expected"),
    [
        (None, "Cookie"),
        ("Accept-Language", "Accept-Language, Cookie"),
        ("cookie", "cookie"),  # already there, in any case: left as it is
        ("Accept-Encoding, Cookie", "Accept-Encoding, Cookie"),
        ("*", "*"),
    ],
)
def test_a_read_session_varies_on_cookie_as_djangos_step_does(make_session, vary, expected):
    key = make_session(cart={"1": 2}).session_key
    ours, djangos = respond(key, vary), respond(key, vary, django=True)
    assert ours["Vary"] == djangos["Vary"] == expected
    # Nothing saved, so no cookie sent again, by either.
    assert COOKIE not in ours.cookies and COOKIE not in djangos.cookies


def test_a_session_only_read_is_the_read_only_case(make_session):
    key = make_session(cart={"1": 2}).session_key
    request = RequestFactory().get("/test/whoami")
    request.COOKIES[COOKIE] = key
    middleware = SessionMiddleware(lambda r: HttpResponse())
    middleware.process_request(request)
    assert request.session.get("cart") == {"1": 2}
    assert read_only(request.session)
    request.session["cart"] = {"1": 3}
    assert not read_only(request.session)  # a change: Django's step saves it


@override_settings(SESSION_SAVE_EVERY_REQUEST=True)
def test_save_every_request_still_sends_the_cookie_on_a_read(make_session):
    key = make_session(cart={"1": 2}).session_key
    response = respond(key, None)
    assert response.cookies[COOKIE].value == key
    assert response["Vary"] == "Cookie"


def test_an_unknown_cookie_is_deleted_as_djangos_step_does(redis):
    response = respond("x" * 32, None)
    assert response.cookies[COOKIE].value == ""
    assert response.cookies[COOKIE]["max-age"] == 0
    assert response["Vary"] == "Cookie"


def test_a_signed_in_read_answers_vary_cookie_and_sets_no_cookie(client, make_user, redis):
    client.force_login(make_user())
    response = client.get("/api/cart")
    assert response.status_code == 200
    assert response["Vary"] == "Cookie"
    assert response["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"
    assert COOKIE not in response.cookies


def test_a_session_never_read_does_not_vary_on_cookie(make_session):
    # An exempt path (health checks) never loads the session: Django's step then adds no
    # Vary, and neither does ours.
    key = make_session(cart={"1": 2}).session_key
    request = RequestFactory().get("/healthz")
    request.COOKIES[COOKIE] = key
    response = SessionMiddleware(lambda r: HttpResponse("ok"))(request)
    assert not request.session.accessed
    assert "Vary" not in response
    assert COOKIE not in response.cookies


@override_settings(SESSION_COOKIE_NAME="other_session")
def test_the_session_cookie_name_follows_the_setting(make_session):
    key = make_session(cart={"1": 2}).session_key
    request = RequestFactory().get("/test/whoami")
    request.COOKIES["other_session"] = key
    request.COOKIES[COOKIE] = "x" * 32  # the default name: not this project's cookie now
    SessionMiddleware(lambda r: HttpResponse())(request)
    assert request.session.session_key == key
    assert request.session.get("cart") == {"1": 2}


def test_every_request_state_the_response_step_settles_is_looked_for():
    # settle() runs only when the request holds one of these: each module names its own.
    from sessionadmin import bearer, errors
    from sessionadmin.auth import limits, trusted
    from sessionadmin.response_step import SETTLED

    names = {limits._ATTEMPT, limits._REFUSED, limits._CHECKED, trusted._ISSUED}
    assert names | {errors._FAILED, "bearer"} <= SETTLED
    assert set(bearer.RESPONSE_STATE) | set(errors.RESPONSE_STATE) <= SETTLED
