"""Every signed-in read the site serves: one Redis round trip (the session's read) and no
database query, once the user's copy is cached and no touch is due. The same counts are
taken over HTTP by bench/overhead.py's smoke mode, against `make serve`."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from cart.models import Product
from tests.redis_tools import monitor, read_commands
from tests.settings import TEST_REDIS_DB

READS = ["/api/profile", "/api/cart", "/api/sessions", "/accounts/profile/", "/accounts/sessions/"]
PASSWORD = "correct horse 9"


@pytest.fixture
def shopper(make_user, redis) -> Client:
    """Signed in on two devices (so "your sessions" lists two), with a 2-line cart."""
    user = make_user("alice", password=PASSWORD)
    other = Client()
    other.force_login(user)
    client = Client(HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Firefox/128.0")
    login = {"username": "alice", "password": PASSWORD}
    assert client.post("/api/login", login, content_type="application/json").status_code == 200
    for name in ("Mug", "Kettle"):
        product = Product.objects.create(name=name, price="9.50", stock=10)
        added = client.post("/api/cart/items", {"product_id": product.pk}, "application/json")
        assert added.status_code == 200
    return client


@pytest.mark.parametrize("path", READS)
def test_a_signed_in_read_is_one_round_trip_and_no_query(shopper, redis, path):
    assert shopper.get(path).status_code == 200  # the user's copy cached, caches warm
    with CaptureQueriesContext(connection) as queries, monitor(redis, TEST_REDIS_DB) as log:
        response = shopper.get(path)
    assert response.status_code == 200
    assert [q["sql"] for q in queries.captured_queries] == []
    # The session's read; pages listing the user's sessions read them in the same script.
    assert log.names() == (["EVALSHA"] if "sessions" in path else read_commands(redis)), (
        log.commands
    )
    assert log.reads == 1
    # And the page or answer holds what it is about, from that one round trip.
    expected = {
        "/api/profile": "alice@example.com",
        "/api/cart": "Kettle",
        "/api/sessions": "Firefox on Linux",
        "/accounts/profile/": "alice@example.com",
        "/accounts/sessions/": "Firefox on Linux",
    }[path]
    assert expected in response.content.decode()


def test_your_sessions_from_the_load_lists_every_session_of_the_user(shopper):
    assert len(shopper.get("/api/sessions").json()["results"]) == 2
