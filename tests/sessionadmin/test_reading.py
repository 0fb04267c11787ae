"""A session's read in plain commands (backends/reading.py), against the real Redis: what
its HINCRBY makes of a gone session never outlives the request nor passes for a session,
and the stored agent comes back from its reference."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.sessions.backends.base import UpdateError
from django.test import Client, override_settings

from sessionadmin.backends.reading import STRAY_MS
from sessionadmin.backends.redis import SessionStore
from sessionadmin.index.actions import delete_session, revoke_user
from sessionadmin.store import keys
from sessionadmin.store.client import run_script
from tests.redis_tools import monitor, read_commands
from tests.settings import TEST_REDIS_DB

pytestmark = pytest.mark.urls("tests.urls")
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
PASSWORD = "correct horse 9"
FIREFOX_NEXT = "Mozilla/5.0 (X11; Linux x86_64; rv:129.0) Gecko/20100101 Firefox/129.0"


def hash_name(client: Client) -> str:
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    return keys.session_key_name(keys.session_id(key))


@pytest.fixture
def browser(make_user, redis) -> Client:
    """Signed in through the API, so its agent is recorded (a long one: a reference)."""
    make_user("alice", password=PASSWORD)
    client = Client(HTTP_USER_AGENT=FIREFOX)
    login = {"username": "alice", "password": PASSWORD}
    assert client.post("/api/login", login, content_type="application/json").status_code == 200
    assert client.get("/api/profile").status_code == 200  # the user's copy stored
    return client


def test_a_read_of_a_gone_session_leaves_nothing_behind(browser, redis):
    name = hash_name(browser)
    redis.delete(name)  # gone as by its TTL
    response = browser.get("/api/session")
    assert response.status_code == 401  # told why, from the index's tombstone
    assert response.json()["code"] == "SESSION_TIMEOUT"
    assert not redis.exists(name)  # the read's HINCRBY made a hash: deleted again
    assert browser.get("/api/session").json()["authenticated"] is False
    assert not redis.exists(name)


def test_a_forged_cookie_leaves_nothing_behind(client, redis):
    forged = "madeupsessionkey1234567890abcdef"
    client.cookies[settings.SESSION_COOKIE_NAME] = forged
    assert client.get("/api/session").status_code == 200
    assert not redis.exists(keys.session_key_name(keys.session_id(forged)))


def test_the_read_never_shortens_a_sessions_life(browser, redis):
    browser.get("/api/profile")
    assert redis.pttl(hash_name(browser)) > STRAY_MS * 10  # the idle timeout, not the stray's


def test_a_stray_never_passes_for_the_session_it_was(browser, redis):
    """A request that loaded the session before it was revoked saves after a read of the
    gone session made its stray: the session is not written back, nor its cart."""
    name = hash_name(browser)
    in_flight = SessionStore(browser.cookies[settings.SESSION_COOKIE_NAME].value)
    assert in_flight.get("_auth_user_id")  # loaded, as a request's view has it
    redis.delete(name)  # revoked
    redis.hincrby(name, "n", 1)  # what a read of it makes, before MISS deletes it
    redis.pexpire(name, STRAY_MS)
    in_flight["seen"] = 1
    with pytest.raises(UpdateError):
        in_flight.save()
    assert run_script("ITEMS", [name], ["add", "cart", "7", 1, 99, 99, 50])[0] == -1
    assert redis.hgetall(name) == {b"n": b"1"}
    assert in_flight.touch() is False  # nor is its activity
    assert redis.hgetall(name) == {b"n": b"1"}


@override_settings(SESSION_TOUCH_INTERVAL=60)
def test_the_stored_agent_comes_back_from_its_reference(browser, redis):
    stored = redis.hget(hash_name(browser), "ua")
    assert stored.startswith(b"\x01")  # a long agent: a reference into the agent table
    with monitor(redis, TEST_REDIS_DB) as log:
        record = browser.get("/api/profile").json()["session"]
    assert record["user_agent"] == FIREFOX  # the request's own: no lookup
    assert log.names() == read_commands(redis) and log.reads == 1, (log.commands, log.reads)
    with monitor(redis, TEST_REDIS_DB) as log:
        record = browser.get("/api/profile", HTTP_USER_AGENT=FIREFOX_NEXT).json()["session"]
    assert record["user_agent"] == FIREFOX  # as recorded, read from the table
    assert log.names() == [*read_commands(redis), "HGET"], log.commands


def test_a_stray_is_no_session_to_end_or_revoke(browser, redis):
    """Ending a session that is gone, while a read's stray stands in its place, reports
    no logout or revocation of it (its timeout ended it)."""
    name = hash_name(browser)
    sid = keys.session_id(browser.cookies[settings.SESSION_COOKIE_NAME].value)
    uid = redis.hget(name, "u").decode()
    redis.delete(name)
    redis.hincrby(name, "n", 1)  # a read's stray
    assert revoke_user(uid) == 0  # (the session is still among the user's: found, gone)
    assert not redis.exists(name)
    redis.hincrby(name, "n", 1)
    assert delete_session(sid) is False
    assert not redis.exists(name)
