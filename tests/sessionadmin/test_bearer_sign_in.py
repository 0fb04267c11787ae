"""A request carrying a bearer token cannot sign in or out on any view: its session is the
token's. A page's sign-in made a session nobody held (a bearer answer sets no cookie),
counted against the user's limit, and a page's sign-out ended the token."""

from __future__ import annotations

import pytest
from django.test import Client

from sessionadmin import services

pytestmark = [pytest.mark.urls("tests.urls"), pytest.mark.usefixtures("redis")]

PASSWORD = "correct horse 9"


@pytest.fixture
def alice(make_user):
    return make_user("alice", password=PASSWORD, is_staff=True)


@pytest.fixture
def token(alice) -> str:
    body = {"username": "alice", "password": PASSWORD, "name": "CI"}
    response = Client().post("/api/tokens", body, content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()["token"]


def bearer(token: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def token_works(token: str) -> bool:
    response = bearer(token).get("/api/profile")
    return response.status_code == 200 and response.json()["user"]["username"] == "alice"


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
@pytest.mark.parametrize("who", ["carol", "alice"])
def test_a_sign_in_page_refuses_a_bearer_request(make_user, alice, token, path, who):
    carol = make_user("carol", password=PASSWORD, is_staff=True)  # the admin's too
    signer = {"carol": carol, "alice": alice}[who]
    signer.refresh_from_db()
    last_login = signer.last_login
    before = len(services.list_user_sessions(alice.pk))
    response = bearer(token).post(path, {"username": who, "password": PASSWORD})
    assert response.status_code == 400, (response.status_code, response.content[:300])
    assert services.list_user_sessions(carol.pk) == []  # no session nobody holds
    # The token is left exactly as it was: login() as another user flushes the session
    # before it says who signed in, and that flush no longer ends the token.
    assert len(services.list_user_sessions(alice.pk)) == before
    assert token_works(token)
    # Refused before Django's update_last_login runs, on the admin's page too.
    signer.refresh_from_db()
    assert signer.last_login == last_login


def test_the_sign_up_page_refuses_a_bearer_request_before_making_the_user(alice, token):
    from django.contrib.auth import get_user_model

    form = {"username": "zed", "email": "zed@example.com", "password": PASSWORD}
    response = bearer(token).post("/accounts/register/", form)
    assert response.status_code == 400
    assert not get_user_model().objects.filter(username="zed").exists()
    assert token_works(token)


def test_a_sign_out_page_refuses_a_bearer_request(alice, token):
    response = bearer(token).post("/accounts/logout/")
    assert response.status_code == 400, response.content[:300]
    assert token_works(token)


def test_a_token_whose_auth_hash_went_stale_still_ends_through_djangos_get_user(alice, token):
    # A password set behind Django's back (QuerySet.update(): no signal); third-party code
    # then reads the user with Django's get_user(), which flushes a session whose auth
    # hash no longer verifies. For a token that flush waits for the response (login()
    # may refuse it first), and then ends the token.
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    get_user_model().objects.filter(pk=alice.pk).update(password=make_password("changed 123"))
    response = bearer(token).get("/test/django-get-user")
    assert response.json() == {"user": None}
    assert services.list_user_sessions(alice.pk) == []
    assert bearer(token).get("/api/profile").json()["code"] == "AUTH_REQUIRED"


def test_an_async_sign_in_view_refuses_a_bearer_request_and_keeps_the_token(make_user, token):
    # alogin() as another user flushes the session with aflush(), Django's own copy of
    # flush(): the store's flush() must run for it too, or the token ends right there.
    make_user("carol", password=PASSWORD)
    response = bearer(token).post("/test/async-login", {"username": "carol", "password": PASSWORD})
    assert response.status_code == 400, response.content[:300]
    assert b"signed_in" not in response.content  # refused in alogin(), not by a bad password
    assert token_works(token)


def test_an_async_sign_out_view_refuses_a_bearer_request(alice, token):
    # alogout() sends user_logged_out (refused there) before its aflush().
    response = bearer(token).post("/test/async-logout")
    assert response.status_code == 400, response.content[:300]
    assert token_works(token)


def test_an_async_sign_in_view_signs_a_browser_in_and_out(alice):
    browser = Client()
    form = {"username": "alice", "password": PASSWORD}
    assert browser.post("/test/async-login", form).json() == {"signed_in": True}
    assert browser.get("/test/whoami").json() == {"user": "alice"}
    assert len(services.list_user_sessions(alice.pk)) == 1
    assert browser.post("/test/async-logout").json() == {"signed_out": True}
    assert browser.get("/test/whoami").json() == {"user": None}
    assert services.list_user_sessions(alice.pk) == []
