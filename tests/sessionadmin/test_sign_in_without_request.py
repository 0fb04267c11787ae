"""Sign-ins no ``login()`` on a request drives: Channels' ``login(scope, user)``, which
sends ``user_logged_in`` with ``request=None`` before the consumer saves the session, and
a session built by hand. The per-user cap, ``session_started`` and the count of sign-ins
hold for them as for ``login()`` (backends/signing_in.py)."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.contrib.auth import (
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    user_logged_in,
)
from django.test import Client, override_settings

from sessionadmin import metrics
from sessionadmin.backends.redis import SessionStore
from sessionadmin.services import list_user_sessions
from sessionadmin.store import keys
from tests.sessionadmin.test_sign_in_cap import BACKEND, signed_in_sessions


def channels_login(session: SessionStore, user) -> None:
    """What channels.auth.login(scope, user) does to scope["session"] (Channels 4)."""
    auth_hash = user.get_session_auth_hash()
    if SESSION_KEY in session:
        if session[SESSION_KEY] != str(user.pk) or session.get(HASH_SESSION_KEY) != auth_hash:
            session.flush()
    else:
        session.cycle_key()
    session[SESSION_KEY] = user._meta.pk.value_to_string(user)
    session[BACKEND_SESSION_KEY] = BACKEND
    session[HASH_SESSION_KEY] = auth_hash
    user_logged_in.send(sender=user.__class__, request=None, user=user)


def stored_guest(user, *, same_shard: bool) -> SessionStore:
    """A guest session as Channels' SessionMiddleware finds it from the cookie, in the
    user's shard or not (another shard's is carried over at the sign-in)."""
    for _ in range(400):
        guest = SessionStore()
        guest["visits"] = 1
        guest.save()
        if (keys.key_shard(guest.session_key) == keys.user_shard(str(user.pk))) == same_shard:
            return SessionStore(guest.session_key)
    raise AssertionError("no guest session in the shard wanted")


def started(sent: list[tuple[str, dict]]) -> list[dict]:
    return [kwargs for name, kwargs in sent if name == "started"]


@pytest.mark.parametrize("same_shard", [True, False], ids=["same-shard", "carried"])
@override_settings(SESSION_MAX_PER_USER=2)
def test_a_channels_sign_in_keeps_the_per_user_limit(make_user, redis, same_shard):
    user = make_user()
    kept = signed_in_sessions(user, 2)
    time.sleep(0.003)
    session = stored_guest(user, same_shard=same_shard)
    channels_login(session, user)
    session.save()
    assert session.capped
    assert [store.exists(store.session_key) for store in kept] == [False, True]
    ids = {row.id for row in list_user_sessions(str(user.pk))}
    assert ids == {kept[1].session_id, session.session_id}
    assert session.load()["visits"] == 1  # the guest's data came with it


def test_a_channels_sign_in_sends_session_started_once(make_user, redis, signals):
    user = make_user()
    logins = metrics.LOGINS._value.get()
    session = stored_guest(user, same_shard=False)
    channels_login(session, user)
    session.save()
    session["theme"] = "dark"  # the consumer saves again: no second sign-in
    session.save()
    assert [(s["request"], s["session_id"], s["user"]) for s in started(signals)] == [
        (None, session.session_id, user.pk)
    ]
    assert type(started(signals)[0]["user"]) is type(user.pk)
    assert metrics.LOGINS._value.get() == logins + 1


@pytest.mark.parametrize("how", ["stale hash", "logout first"])
def test_a_channels_sign_in_again_after_a_flush_is_a_new_sign_in(make_user, redis, signals, how):
    # One store for a whole WebSocket connection: the user signs in, then again after
    # Channels' flush() (its password changed meanwhile), or after logout(scope).
    user = make_user()
    with override_settings(SESSION_MAX_PER_USER=1):
        session = stored_guest(user, same_shard=True)
        channels_login(session, user)
        session.save()
        if how == "stale hash":
            user.set_password("another horse 7")  # (no save: the hash alone changes)
        else:
            session.flush()  # what channels.auth.logout(scope) does to the session
        channels_login(session, user)
        session.save()
    assert session.capped
    ids = [s["session_id"] for s in started(signals)]
    assert len(ids) == 2 and ids[1] == session.session_id != ids[0]
    assert {r.id for r in list_user_sessions(str(user.pk))} == {session.session_id}


def test_a_session_built_by_hand_with_a_user_counts_as_a_sign_in(make_user, redis, signals):
    user = make_user()
    with override_settings(SESSION_MAX_PER_USER=1):
        first = signed_in_sessions(user, 1)[0]
        session = SessionStore()
        session.update(
            {SESSION_KEY: str(user.pk), BACKEND_SESSION_KEY: BACKEND,
             HASH_SESSION_KEY: user.get_session_auth_hash()}
        )  # fmt: skip
        session.save()
    assert not first.exists(first.session_key)
    assert [s["session_id"] for s in started(signals)] == [session.session_id]


def test_a_token_or_a_browser_sign_in_sends_session_started_once(make_user, redis, signals):
    # Both report their sign-in themselves (tokens.py, auth/receivers.py): the write that
    # stores it does not report it again.
    make_user("alice", password="correct horse 9")
    body = {"username": "alice", "password": "correct horse 9"}
    assert Client().post("/api/login", body, "application/json").status_code == 200
    issued = Client().post("/api/tokens", {**body, "name": "CI"}, "application/json")
    assert issued.status_code == 201, issued.content
    ids = [s["session_id"] for s in started(signals)]
    assert len(ids) == 2 and ids[1] == issued.json()["session"]["id"]


@pytest.fixture
def receiver_saving_first():
    """A project's user_logged_in receiver, connected before sessionadmin's (its app is
    listed first), that saves the session: it writes the sign-in before on_login runs."""

    def save_first(sender, request, **kwargs):
        request.session.save()

    connected = list(user_logged_in.receivers)
    user_logged_in.connect(save_first, dispatch_uid="tests.save_first")
    user_logged_in.receivers.insert(0, user_logged_in.receivers.pop())
    user_logged_in.sender_receivers_cache.clear()
    yield
    user_logged_in.receivers[:] = connected  # the same receivers, in the same order
    user_logged_in.sender_receivers_cache.clear()


def test_a_receiver_saving_before_ours_leaves_one_report_with_the_request(
    make_user, redis, signals, receiver_saving_first
):
    make_user("alice", password="correct horse 9")
    logins = metrics.LOGINS._value.get()
    body = {"username": "alice", "password": "correct horse 9"}
    assert Client().post("/api/login", body, "application/json").status_code == 200
    assert [s["request"] is not None for s in started(signals)] == [True]
    assert metrics.LOGINS._value.get() == logins + 1


@pytest.mark.urls("tests.urls")
def test_a_user_put_in_the_session_by_hand_in_a_view_is_reported_at_the_response(
    make_user, redis, signals
):
    user = make_user("alice")
    logins = metrics.LOGINS._value.get()
    browser = Client()
    assert browser.post("/test/sign-in-by-hand", {"username": "alice"}).status_code == 200
    assert browser.get("/test/whoami").json() == {"user": "alice"}
    sid = keys.session_id(browser.cookies[settings.SESSION_COOKIE_NAME].value)
    assert [(s["request"] is not None, s["session_id"], s["user"]) for s in started(signals)] == [
        (True, sid, user.pk)
    ]
    assert metrics.LOGINS._value.get() == logins + 1
