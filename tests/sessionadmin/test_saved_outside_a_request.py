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
    started = time.monotonic()
    while time.monotonic() < started + 3:  # a task saving it every 0.5 s, past the 2 s
        task = SessionStore(key)
        task["beat"] = time.monotonic()
        task.save()
        time.sleep(0.5)
    response = client.get("/test/whoami")  # its idle timeout ended it: to the login page
    assert response.status_code == 302 and "reason=idle" in response["Location"]
