"""``CSRF_USE_SESSIONS``: Django keeps the CSRF secret in the session, and the store
never holds it as it is (store/sealing.py). It is sealed under a key derived from the
session's own key, which Redis never sees; the CSRF check works as before."""

from __future__ import annotations

import logging

import pytest
from django.conf import settings
from django.test import Client, override_settings

from cart.models import Product
from sessionadmin.backends.redis import SessionStore
from sessionadmin.store import keys, sealing

pytestmark = pytest.mark.usefixtures("redis", "csrf_in_session")
PASSWORD = "correct horse 9"


@pytest.fixture
def csrf_in_session():
    with override_settings(CSRF_USE_SESSIONS=True):
        yield


@pytest.fixture
def lamp(db):
    return Product.objects.create(name="Lamp", price="12.50", stock=50)


def everything_stored(redis) -> bytes:
    """Tests only: every name, field and value Redis holds, uncompressed, to search."""
    parts: list[bytes] = []
    for name in redis.keys("*"):
        kind = redis.type(name)
        parts.append(name)
        if kind == b"hash":
            parts += [b for pair in redis.hgetall(name).items() for b in pair]
        elif kind == b"string":
            parts.append(redis.get(name) or b"")
        elif kind == b"zset":
            parts += redis.zrange(name, 0, -1)
        elif kind == b"stream":
            parts += [v for _, entry in redis.xrange(name) for pair in entry.items() for v in pair]
    return b"\n".join(parts)


def session_of(client: Client) -> tuple[str, str]:
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    return key, keys.session_key_name(keys.session_id(key))


def add_to_cart(client: Client, token: str, product: Product) -> int:
    body = {"product_id": product.pk}
    response = client.post("/api/cart/items", body, "application/json", HTTP_X_CSRFTOKEN=token)
    return response.status_code


def test_the_csrf_secret_is_sealed_in_redis_and_the_check_still_works(redis, lamp):
    client = Client(enforce_csrf_checks=True)
    token = client.get("/api/csrf").json()["csrfToken"]
    key, name = session_of(client)
    secret = SessionStore(key).load()["_csrftoken"]  # as Django reads it back
    assert len(secret) == 32
    assert secret.encode() not in everything_stored(redis)
    payload = redis.hget(name, "d")
    assert payload[:1] == sealing.MARK and len(payload) <= 64
    assert redis.object("encoding", name) == b"listpack"  # still a compact hash
    assert add_to_cart(client, token, lamp) == 200
    assert add_to_cart(client, "x" * 32, lamp) == 403


def test_a_sign_in_gives_a_new_secret_sealed_under_the_new_key(redis, lamp, make_user):
    make_user("alice", password=PASSWORD)
    client = Client(enforce_csrf_checks=True)
    token = client.get("/api/csrf").json()["csrfToken"]
    before_key, _ = session_of(client)
    before = SessionStore(before_key).load()["_csrftoken"]
    body = {"username": "alice", "password": PASSWORD}
    signed_in = client.post("/api/login", body, "application/json", HTTP_X_CSRFTOKEN=token)
    assert signed_in.status_code == 200, signed_in.content
    token = client.get("/api/csrf").json()["csrfToken"]
    key, _ = session_of(client)
    after = SessionStore(key).load()["_csrftoken"]
    assert key != before_key and after != before
    assert after.encode() not in everything_stored(redis)
    assert add_to_cart(client, token, lamp) == 200


def test_a_sealed_secret_opens_under_its_own_session_key_only(redis, caplog):
    one, other = Client(), Client()
    one.get("/api/csrf")
    other.get("/api/csrf")
    (one_key, one_name), (other_key, other_name) = (session_of(c) for c in (one, other))
    # Another session's sealed secret, copied in (say, by someone who can write to Redis).
    redis.hset(other_name, "d", redis.hget(one_name, "d"))
    with caplog.at_level(logging.WARNING, logger="django.security.SuspiciousSession"):
        assert "_csrftoken" not in SessionStore(other_key).load()
    assert "CSRF secret does not open" in caplog.text
    assert SessionStore(one_key).load()["_csrftoken"]
    assert sealing.unseal(sealing.seal("abc", one_key), other_key) is None
    assert sealing.unseal(sealing.seal("abc", one_key), one_key) == "abc"


def test_a_secret_stored_unsealed_by_an_earlier_release_reads_and_is_sealed_next(redis):
    client = Client()
    client.get("/api/session")
    key, name = session_of(client)
    redis.hset(name, "d", b'{"views":1,"_csrftoken":"' + b"k" * 32 + b'"}')
    session = SessionStore(key)
    assert session.load()["_csrftoken"] == "k" * 32
    session["views"] = 2
    session.save()
    assert redis.hget(name, "d")[:1] == sealing.MARK
    assert b"k" * 32 not in everything_stored(redis)
    assert SessionStore(key).load() == {"views": 2, "_csrftoken": "k" * 32}
