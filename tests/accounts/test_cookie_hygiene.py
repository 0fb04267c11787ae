"""Session-cookie hygiene: a browser-session cookie by default, logout that clears site
data, a new absolute deadline at every sign-in, and no unbounded guest sessions."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.test import Client, override_settings

from sessionadmin import services
from sessionadmin.index import queries

pytestmark = pytest.mark.usefixtures("redis")

PASSWORD = "correct horse 9"


@pytest.fixture
def alice(make_user):
    return make_user("alice", password=PASSWORD)


def login(client: Client):
    return client.post(
        "/api/login", {"username": "alice", "password": PASSWORD}, content_type="application/json"
    )


def test_the_session_cookie_is_a_browser_session_cookie_by_default(alice):
    response = login(Client())
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie.value
    assert cookie["max-age"] == "" and cookie["expires"] == ""
    assert cookie["httponly"] and cookie["samesite"] == "Lax"


@override_settings(SESSION_EXPIRE_AT_BROWSER_CLOSE=False)
def test_a_setting_keeps_the_persistent_cookie(alice):
    cookie = login(Client()).cookies[settings.SESSION_COOKIE_NAME]
    assert int(cookie["max-age"]) == settings.SESSION_COOKIE_AGE


def test_the_html_logout_clears_site_data(alice):
    client = Client()
    login(client)
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert response["Clear-Site-Data"] == '"cookies"'
    assert not client.get("/api/session").json()["authenticated"]


def test_signing_in_again_starts_a_new_absolute_deadline(alice):
    client = Client()
    login(client)
    first = client.get("/api/session").json()["absolute_expires_at"]
    time.sleep(1.1)
    assert login(client).status_code == 200  # the same user, already signed in
    second = client.get("/api/session").json()["absolute_expires_at"]
    assert second > first


@override_settings(SESSIONADMIN_NEW_SESSIONS_PER_MINUTE=60)
def test_cookieless_visits_from_one_address_store_at_most_the_limit(db):
    statuses = []
    for _ in range(200):
        response = Client(REMOTE_ADDR="192.0.2.44").get("/")
        statuses.append(response.status_code)
    assert statuses == [200] * 200
    assert queries.counts()["active"] == 60
    # Another address is not held back by that one.
    assert Client(REMOTE_ADDR="192.0.2.45").get("/api/session").status_code == 200
    assert queries.counts()["active"] == 61


@override_settings(SESSIONADMIN_NEW_SESSIONS_PER_MINUTE=2)
def test_past_the_limit_a_visit_gets_no_cookie_and_sign_in_still_works(alice):
    for _ in range(2):
        assert Client().get("/").cookies.get(settings.SESSION_COOKIE_NAME)
    extra = Client()
    response = extra.get("/")
    assert response.status_code == 200
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    # Signing in is not a guest session: it is never held back.
    assert login(extra).status_code == 200
    assert services.list_user_sessions(alice.pk)


@override_settings(SESSIONADMIN_NEW_SESSIONS_PER_MINUTE=2)
def test_cart_adds_cannot_mint_guest_sessions_past_the_limit(db):
    from decimal import Decimal

    from cart.models import Product

    product = Product.objects.create(name="Mug", price=Decimal("9.00"), stock=50)
    statuses = []
    for _ in range(4):
        response = Client(REMOTE_ADDR="192.0.2.80").post(
            "/api/cart/items", {"product_id": product.pk}, content_type="application/json"
        )
        statuses.append(response.status_code)
    assert statuses == [200, 200, 429, 429]
    assert queries.counts()["active"] == 2


@override_settings(SESSIONADMIN_NEW_SESSIONS_PER_MINUTE=2)
def test_a_count_of_new_sessions_always_ends_with_its_minute(db, redis):
    # A count is one script (new_session.lua): counted, and given its minute if it has
    # none, so no count can be left to refuse an address for good (Redis 6.2 has no
    # EXPIRE ... NX to do that in plain commands).
    from sessionadmin.new_sessions import allow_new_session
    from sessionadmin.request import ip_network
    from sessionadmin.store import keys

    key = keys.new_sessions(ip_network("192.0.2.90"))
    assert allow_new_session("192.0.2.90")
    assert 55_000 < redis.pttl(key) <= 60_000
    redis.persist(key)  # as a crash between a count and its expiry would leave it
    assert allow_new_session("192.0.2.90")
    assert not allow_new_session("192.0.2.90")  # the third in the minute
    assert 55_000 < redis.pttl(key) <= 60_000
    redis.pexpire(key, 1)
    time.sleep(0.01)
    assert allow_new_session("192.0.2.90")  # a new minute


@override_settings(SESSION_ABSOLUTE_TIMEOUT=1)
def test_an_absolute_deadline_passed_during_a_request_is_still_told(alice):
    client = Client()
    login(client)
    time.sleep(1.1)
    from sessionadmin.backends.redis import SessionStore

    store = SessionStore(client.cookies[settings.SESSION_COOKIE_NAME].value)
    store["late"] = True  # its save finds no time left: deleted, and the reason kept
    store.save()
    response = client.get("/api/profile")
    assert response.status_code == 401
    assert response.json()["reason"] == "absolute"
