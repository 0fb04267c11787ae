"""Timeouts, lazy touch and the one-round-trip read, through the real middleware."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.test import override_settings

from sessionadmin.backends.redis import SessionMeta, SessionStore
from sessionadmin.store import codec, keys
from sessionadmin.store.client import now_ms
from sessionadmin.timeouts import timeout_reason
from tests.redis_tools import monitor, read_commands
from tests.settings import TEST_REDIS_DB

pytestmark = pytest.mark.urls("tests.urls")


def session_hash(redis, client) -> dict[str, bytes]:
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    return {
        k.decode(): v
        for k, v in redis.hgetall(keys.session_key_name(keys.session_id(key))).items()
    }


@pytest.fixture
def signed_in(client, make_user, redis):
    user = make_user()
    client.force_login(user)
    return client


@override_settings(SESSION_IDLE_TIMEOUT=1, SESSION_TOUCH_INTERVAL=0)
def test_idle_timeout_ends_an_api_session_with_the_reason(signed_in):
    assert signed_in.get("/test/whoami").json()["user"]
    time.sleep(1.3)
    response = signed_in.get("/api/session")
    assert response.status_code == 401
    assert response.json() == {
        "error": "You were signed out after a period of inactivity.",
        "code": "SESSION_TIMEOUT",
        "reason": "idle",
    }
    # The reason is told once; the cookie is gone and the next request is anonymous.
    assert signed_in.cookies[settings.SESSION_COOKIE_NAME].value == ""
    assert signed_in.get("/api/session").json()["authenticated"] is False


@override_settings(SESSION_IDLE_TIMEOUT=30, SESSION_ABSOLUTE_TIMEOUT=2, SESSION_TOUCH_INTERVAL=0)
def test_absolute_timeout_ends_an_active_session(signed_in):
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:  # keep it busy: idle never triggers
        assert signed_in.get("/test/whoami").status_code == 200
        time.sleep(0.25)
    time.sleep(0.8)
    response = signed_in.get("/api/session")
    assert response.status_code == 401
    assert response.json()["reason"] == "absolute"


@override_settings(SESSION_IDLE_TIMEOUT=1, SESSION_TOUCH_INTERVAL=0)
def test_idle_timeout_on_a_page_redirects_to_login_saying_why(signed_in):
    time.sleep(1.3)
    response = signed_in.get("/?x=1")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?reason=idle&next=%2F%3Fx%3D1"


@override_settings(SESSION_IDLE_TIMEOUT=1, SESSION_TOUCH_INTERVAL=0)
def test_an_idle_guest_session_just_starts_afresh(client, redis):
    assert client.get("/api/session").json()["views"] == 1
    time.sleep(1.3)
    response = client.get("/api/session")
    assert response.status_code == 200
    assert response.json()["views"] == 1


@override_settings(SESSION_IDLE_TIMEOUT=2, SESSION_TOUCH_INTERVAL=0)
def test_activity_keeps_a_session_past_its_idle_timeout(signed_in):
    for _ in range(4):
        time.sleep(0.8)
        assert signed_in.get("/test/whoami").json()["user"]


def test_timeout_reason_is_judged_from_the_stored_timestamps(settings):
    settings.SESSION_IDLE_TIMEOUT, settings.SESSION_ABSOLUTE_TIMEOUT = 60, 600
    now = now_ms()
    session = SessionStore()
    session.meta = SessionMeta("7", now - 700_000, now - 1_000, now - 601_000, 3)
    assert timeout_reason(session, now) == "absolute"
    session.meta = SessionMeta("7", now - 70_000, now - 61_000, now - 70_000, 3)
    assert timeout_reason(session, now) == "idle"
    session.meta = SessionMeta("7", now - 70_000, now - 59_000, now - 70_000, 3)
    assert timeout_reason(session, now) is None
    session.meta = SessionMeta("", now - 70_000, now - 61_000, None, 3)
    assert timeout_reason(session, now) is None  # guests have no deadline to report


@override_settings(SESSION_TOUCH_INTERVAL=60)
def test_authenticated_read_costs_one_round_trip(signed_in, redis):
    signed_in.get("/test/whoami")  # warm up: scripts loaded, connection open
    before = session_hash(redis, signed_in)
    with monitor(redis, TEST_REDIS_DB) as log:
        response = signed_in.get("/test/whoami")
    assert response.json()["user"]
    assert log.names() == read_commands(redis) and log.reads == 1, (log.commands, log.reads)
    after = session_hash(redis, signed_in)
    assert after["a"] == before["a"]  # no touch was due: activity not written back
    assert int(after["n"]) == int(before["n"]) + 1  # yet the request was counted


def test_the_profile_with_its_own_session_record_costs_one_round_trip(signed_in, redis):
    signed_in.get("/api/profile")  # warm up: scripts loaded, the user's copy stored
    with monitor(redis, TEST_REDIS_DB) as log:
        response = signed_in.get("/api/profile", HTTP_USER_AGENT="Mozilla/5.0 " + "x" * 60)
    assert response.status_code == 200
    # The record came with the read.
    assert log.names() == read_commands(redis) and log.reads == 1, (log.commands, log.reads)
    record = response.json()["session"]
    assert record["current"] is True
    assert record["id"] == keys.session_id(signed_in.cookies[settings.SESSION_COOKIE_NAME].value)
    listed = signed_in.get("/api/sessions").json()["results"][0]
    for field in ("id", "ip", "user_agent", "created_at", "login_at", "kind", "name"):
        assert record[field] == listed[field], field


@override_settings(SESSION_TOUCH_INTERVAL=1)
def test_touch_is_written_back_once_the_interval_has_passed(signed_in, redis):
    signed_in.get("/test/whoami")
    before = session_hash(redis, signed_in)
    time.sleep(1.1)
    with monitor(redis, TEST_REDIS_DB) as log:
        signed_in.get("/test/whoami", HTTP_USER_AGENT="Firefox/1", REMOTE_ADDR="10.1.2.3")
    assert log.reads == 2, log.commands  # the read, then one touch
    after = session_hash(redis, signed_in)
    assert int(after["a"]) > int(before["a"])
    assert after["ip"] == b"\x02\x0a\x01\x02\x03"  # packed (agent.lua)
    assert codec.ip_text(after["ip"]) == "10.1.2.3"
    assert after["ua"] == b"Firefox/1"


def test_keepalive_resets_the_idle_timer(signed_in, redis):
    signed_in.get("/test/whoami")
    before = int(session_hash(redis, signed_in)["a"])
    time.sleep(0.05)
    response = signed_in.post("/api/session/keepalive")
    assert response.status_code == 200
    body = response.json()
    assert body["authenticated"] is True
    assert body["idle_expires_at"] and body["absolute_expires_at"]
    assert int(session_hash(redis, signed_in)["a"]) > before


def test_a_forged_cookie_is_never_adopted(client, redis):
    client.cookies[settings.SESSION_COOKIE_NAME] = "madeupsessionkey1234567890abcdef"
    response = client.get("/api/session")
    assert response.status_code == 200
    new_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert new_key and new_key != "madeupsessionkey1234567890abcdef"


def test_no_raw_session_key_anywhere_in_redis(signed_in, redis):
    signed_in.get("/api/session")
    raw = signed_in.cookies[settings.SESSION_COOKIE_NAME].value.encode()
    for key in redis.scan_iter():
        assert raw not in key
        kind = redis.type(key)
        if kind == b"hash":
            assert not any(raw in v for v in redis.hgetall(key).values())
        elif kind == b"zset":
            assert not any(raw in m for m in redis.zrange(key, 0, -1))
        elif kind == b"string":
            assert raw not in redis.get(key)
    signed_in.post("/api/session/keepalive")
    assert all(raw not in key for key in redis.scan_iter())


@override_settings(SESSION_IDLE_TIMEOUT=1, SESSION_TOUCH_INTERVAL=0)
def test_an_ended_session_asking_for_the_login_page_gets_it_not_a_redirect(signed_in, redis):
    time.sleep(1.3)
    response = signed_in.get("/accounts/login/?reason=idle&next=/accounts/profile/")
    assert response.status_code == 200  # not redirected to itself with a nested ?next=
    assert b"after a period of inactivity" in response.content
    assert signed_in.get("/api/session").json()["authenticated"] is False
