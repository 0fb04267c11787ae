"""A session saved by code outside any request (a task, a shell, a signal handler using
``SessionStore(key)``, as Django documents) is not activity: its idle deadline, its last
activity, IP and agent stay what its last request left. Before, each such save pushed the
idle deadline back (a task could keep an idle session alive for ever) and blanked the
activity record's IP and agent."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.test import Client, override_settings

from sessionadmin.backends.redis import SessionStore
from sessionadmin.store import codec, keys

pytestmark = [pytest.mark.urls("tests.urls"), pytest.mark.usefixtures("redis")]

PASSWORD = "correct horse 9"
AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def key_of(client: Client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def stored(redis, key: str) -> dict[bytes, bytes]:
    return redis.hgetall(keys.session_key_name(keys.session_id(key)))


def signed_in(make_user) -> Client:
    make_user("bob", password=PASSWORD)
    client = Client()
    body = {"username": "bob", "password": PASSWORD}
    assert client.post("/api/login", body, content_type="application/json").status_code == 200
    return client


def saves_by_a_task(key: str, seconds: float) -> None:
    """A task saving the session every 0.5 s for ``seconds``, as code outside a request."""
    started = time.monotonic()
    while time.monotonic() < started + seconds:
        task = SessionStore(key)
        task["beat"] = time.monotonic()
        task.save()
        time.sleep(0.5)


def test_a_save_outside_a_request_keeps_the_activity_record_and_the_deadline(make_user, redis):
    make_user("bob", password=PASSWORD)
    client = Client(HTTP_USER_AGENT=AGENT, REMOTE_ADDR="203.0.113.9")
    body = {"username": "bob", "password": PASSWORD}
    assert client.post("/api/login", body, content_type="application/json").status_code == 200
    assert client.get("/test/whoami").json() == {"user": "bob"}
    key = key_of(client)
    before = stored(redis, key)
    deadline = redis.pttl(keys.session_key_name(keys.session_id(key)))
    time.sleep(0.05)

    task = SessionStore(key)
    task["note"] = "from a task"
    task.save()

    after = stored(redis, key)
    assert after[b"a"] == before[b"a"] and after[b"ua"] == before[b"ua"]
    assert codec.ip_text(after[b"ip"]) == "203.0.113.9"
    assert b"from a task" in after[b"d"]
    assert redis.pttl(keys.session_key_name(keys.session_id(key))) <= deadline
    assert client.get("/test/whoami").json() == {"user": "bob"}  # still the same session


@override_settings(SESSION_IDLE_TIMEOUT=2, SESSION_TOUCH_INTERVAL=0)
def test_saves_outside_requests_never_keep_an_idle_session_alive(make_user, redis):
    client = Client()
    client.force_login(make_user("alice"))
    assert client.get("/test/whoami").json() == {"user": "alice"}
    key = key_of(client)
    saves_by_a_task(key, seconds=3)  # every 0.5 s, past the 2 s
    response = client.get("/test/whoami")  # its idle timeout ended it: to the login page
    assert response.status_code == 302 and "reason=idle" in response["Location"]


@override_settings(SESSION_IDLE_TIMEOUT=1800, SESSION_TOUCH_INTERVAL=0)
def test_a_short_expiry_is_counted_from_the_last_activity_not_from_a_tasks_save(make_user, redis):
    # set_expiry(2): "2 s without activity". A task's saves are no activity, so they
    # cannot keep the session alive either (each counted 2 s from itself).
    client = signed_in(make_user)
    key = key_of(client)
    task = SessionStore(key)
    task.set_expiry(2)
    task.save()
    saves_by_a_task(key, seconds=3)
    response = client.get("/test/whoami")  # ended by its inactivity: to the login page
    assert response.status_code == 302 and "reason=idle" in response["Location"]


@override_settings(SESSION_IDLE_TIMEOUT=2, SESSION_TOUCH_INTERVAL=0)
def test_a_tasks_save_counts_from_the_activity_stored_not_from_the_one_it_loaded(make_user, redis):
    # The task loads the session, works longer than the idle timeout while the user goes on
    # using it, then saves: the user's activity since must count, not the task's old copy.
    client = signed_in(make_user)
    task = SessionStore(key_of(client))
    assert task.get("_auth_user_id")  # loaded now, and kept as loaded until its save
    started = time.monotonic()
    while time.monotonic() < started + 2.6:
        assert client.get("/test/whoami").json() == {"user": "bob"}
        time.sleep(0.4)
    task["export"] = "done"
    task.save()
    assert client.get("/test/whoami").json() == {"user": "bob"}
    assert b"done" in stored(redis, key_of(client))[b"d"]


def test_a_session_the_projects_code_puts_on_the_request_records_the_request(make_user, redis):
    # A project middleware (below ours) that takes the session key from a header: its
    # SessionStore is this request's session, and its save is this request's activity.
    make_user("bob", password=PASSWORD)
    app = Client()
    body = {"username": "bob", "password": PASSWORD}
    assert app.post("/api/login", body, content_type="application/json").status_code == 200
    key = key_of(app)
    before = stored(redis, key)
    time.sleep(0.05)
    middleware = list(settings.MIDDLEWARE)
    at = middleware.index("sessionadmin.middleware.AuthenticationMiddleware")
    middleware.insert(at, "tests.helpers.SessionFromHeader")
    with override_settings(MIDDLEWARE=middleware):
        mobile = Client(REMOTE_ADDR="198.51.100.7", HTTP_X_SESSION=key)
        assert mobile.get("/api/session").status_code == 200  # writes its view counter
    after = stored(redis, key)
    assert int(after[b"a"]) > int(before[b"a"])
    assert codec.ip_text(after[b"ip"]) == "198.51.100.7"
