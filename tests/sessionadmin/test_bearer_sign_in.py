"""A request carrying a bearer token cannot sign in or out on any view: its session is the
token's. A page's sign-in made a session nobody held (a bearer answer sets no cookie),
counted against the user's limit, and a page's sign-out ended the token."""

from __future__ import annotations

import pytest
from django.test import Client

from sessionadmin import services

pytestmark = pytest.mark.usefixtures("redis")

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
    before = len(services.list_user_sessions(alice.pk))
    response = bearer(token).post(path, {"username": who, "password": PASSWORD})
    assert response.status_code == 400, (response.status_code, response.content[:300])
    assert services.list_user_sessions(carol.pk) == []  # no session nobody holds
    if who == "alice":  # the same user: the token is left exactly as it was
        assert len(services.list_user_sessions(alice.pk)) == before
        assert token_works(token)


def test_a_sign_out_page_refuses_a_bearer_request(alice, token):
    response = bearer(token).post("/accounts/logout/")
    assert response.status_code == 400, response.content[:300]
    assert token_works(token)
