"""The per-user session cap applied by a sign-in's own write (store/lua/cap.lua), and the
sign-ins it leaves to ``on_login``'s separate script: a token's, and a guest session's
carried over from another shard, whose move can still fail after the write."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.base import UpdateError
from django.test import Client, override_settings

from cart.models import Product
from sessionadmin.backends import redis as engine
from sessionadmin.backends.redis import SessionStore
from sessionadmin.index.actions import delete_session
from sessionadmin.store import keys

BACKEND = "django.contrib.auth.backends.ModelBackend"


def sign_in(store: SessionStore, user) -> SessionStore:
    """What login() and then on_login's save do to the store."""
    store.update(
        {SESSION_KEY: str(user.pk), BACKEND_SESSION_KEY: BACKEND,
         HASH_SESSION_KEY: user.get_session_auth_hash()}
    )  # fmt: skip
    store.restart_login = True
    store.save()
    return store


def signed_in_sessions(user, count: int) -> list[SessionStore]:
    stores = []
    for _ in range(count):
        stores.append(sign_in(SessionStore(), user))
        time.sleep(0.003)  # distinct activity times: the oldest is the one to end
    return stores


@override_settings(SESSION_MAX_PER_USER=2)
def test_a_browser_sign_in_ends_the_oldest_session_beyond_the_cap_as_it_writes(make_user, redis):
    user = make_user()
    stores = signed_in_sessions(user, 3)
    assert [store.capped for store in stores] == [True, True, True]
    assert [store.exists(store.session_key) for store in stores] == [False, True, True]


@override_settings(SESSION_MAX_PER_USER=2)
def test_writes_that_sign_nobody_in_and_tokens_ask_for_no_cap(make_user, redis):
    user = make_user()
    store = sign_in(SessionStore(), user)
    assert store.capped
    _, args = store.write_call("update", store._get_session())
    assert args[20] == 0  # a write after the sign-in (restart_login is over)
    token = SessionStore(keys.draw_key(keys.user_shard(str(user.pk)), keys.TOKEN_PREFIX))
    token.kind, token.restart_login = "token", True
    _, args = token.write_call("create", {SESSION_KEY: str(user.pk), BACKEND_SESSION_KEY: BACKEND})
    assert args[20] == 0  # a token's cap is its own (tokens.py)


@override_settings(SESSION_MAX_PER_USER=2)
def test_a_guest_session_carried_in_from_another_shard_is_capped_after_its_move(make_user, redis):
    user = make_user(password="correct horse 9")
    kept = signed_in_sessions(user, 2)
    lamp = Product.objects.create(name="Lamp", price="12.50", stock=5)
    client = Client()
    for _ in range(200):  # a guest (with a cart) whose session is outside the user's shard
        client.cookies.clear()
        added = client.post("/api/cart/items", {"product_id": lamp.pk}, "application/json")
        assert added.status_code == 200
        if keys.key_shard(client.cookies[settings.SESSION_COOKIE_NAME].value) != keys.user_shard(
            str(user.pk)
        ):
            break
    login = {"username": user.username, "password": "correct horse 9"}
    assert client.post("/api/login", login, content_type="application/json").status_code == 200
    # The cap still holds: on_login applied it once the move had succeeded.
    assert [store.exists(store.session_key) for store in kept] == [False, True]
    assert client.get("/api/cart").json()["items"][0]["product_id"] == lamp.pk


@override_settings(SESSION_MAX_PER_USER=2)
def test_a_sign_in_whose_move_fails_ends_none_of_the_users_sessions(make_user, redis, monkeypatch):
    user = make_user()
    kept = signed_in_sessions(user, 2)
    for _ in range(200):  # a guest session outside the user's shard
        guest = SessionStore()
        guest["visits"] = 1
        guest.save()
        if keys.key_shard(guest.session_key) != keys.user_shard(str(user.pk)):
            break
    guest = SessionStore(guest.session_key)
    guest.load()
    real_end = engine.end_carried

    def revoked_meanwhile(old_key: str, new_key: str) -> None:
        # Revoked between the new key's write and the old key's end (take.lua).
        delete_session(keys.session_id(old_key), "revoked")
        real_end(old_key, new_key)

    monkeypatch.setattr(engine, "end_carried", revoked_meanwhile)
    with pytest.raises(UpdateError):
        sign_in(guest, user)
    assert all(store.exists(store.session_key) for store in kept)
