"""Hijack signals in-process: a signed-in session changing network or browser mid-session
is flagged (once per kind of change), logged as suspicious, shown in both dashboards, and
ended with SESSION_ON_SUSPICIOUS = "end"; what is no evidence flags nothing."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from sessionadmin import events
from sessionadmin.models import VIEW_PERMISSION
from tests.helpers import browser, client_id, grant

PASSWORD = "correct horse 9"
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
FIREFOX_LINUX_NEWER = "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0"
CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)


def signed_in(make_user, ip="203.0.113.10", agent=FIREFOX_LINUX, name="alice") -> Client:
    make_user(name)
    client = Client(REMOTE_ADDR=ip, HTTP_USER_AGENT=agent)
    response = client.post(
        "/api/login", {"username": name, "password": PASSWORD}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    return client


def own_session(client: Client, **extra) -> dict:
    response = client.get("/api/sessions", **extra)
    assert response.status_code == 200, response.content
    [row] = [r for r in response.json()["results"] if r["current"]]
    return row


def suspicious_events() -> list[events.Event]:
    return events.recent(kind="suspicious")[0]


def test_a_new_network_flags_the_session_once(make_user, redis):
    client = signed_in(make_user)
    assert own_session(client)["suspicious"] == []
    moved = {"REMOTE_ADDR": "198.51.100.20"}
    assert own_session(client, **moved)["suspicious"] == ["network"]
    own_session(client, **moved)
    own_session(client, REMOTE_ADDR="203.0.113.10")  # back home: already flagged
    [event] = suspicious_events()
    assert (event.reason, event.ip, event.session_id) == (
        "network",
        "198.51.100.20",
        client_id(client),
    )


def test_the_same_network_and_a_browser_update_flag_nothing(make_user, redis):
    client = signed_in(make_user)
    own_session(client, REMOTE_ADDR="203.0.113.77")  # same /24
    own_session(client, HTTP_USER_AGENT=FIREFOX_LINUX_NEWER)  # same family and OS
    own_session(client, HTTP_USER_AGENT="")  # no header: tells nothing
    assert own_session(client)["suspicious"] == []
    assert suspicious_events() == []


def test_ipv6_is_judged_by_its_48(make_user, redis):
    client = signed_in(make_user, ip="2001:db8:1:2::10")
    assert own_session(client, REMOTE_ADDR="2001:db8:1:ffff::99")["suspicious"] == []
    assert own_session(client, REMOTE_ADDR="2001:db8:2::1")["suspicious"] == ["network"]


def test_the_cookie_replayed_by_a_script_flags_the_agent(make_user, redis):
    client = signed_in(make_user)
    assert own_session(client, HTTP_USER_AGENT="curl/8.5.0")["suspicious"] == ["agent"]


def test_another_browser_family_or_os_flags_the_agent(make_user, redis):
    client = signed_in(make_user)
    row = own_session(client, HTTP_USER_AGENT=CHROME_WINDOWS)
    assert row["suspicious"] == ["agent"]
    row = own_session(client, HTTP_USER_AGENT=CHROME_WINDOWS, REMOTE_ADDR="192.0.2.1")
    assert row["suspicious"] == ["network", "agent"]
    assert [e.reason for e in suspicious_events()] == ["network", "agent"]
    assert {e.device for e in suspicious_events()} == {"Chrome on Windows"}


def test_guests_are_never_flagged(redis):
    client = Client(REMOTE_ADDR="203.0.113.10")
    client.get("/api/session")
    client.get("/api/session", REMOTE_ADDR="198.51.100.1")
    assert suspicious_events() == []


def test_both_dashboards_show_the_flag(make_user, redis):
    client = signed_in(make_user)
    own_session(client, REMOTE_ADDR="198.51.100.20")
    page = client.get("/accounts/sessions/", REMOTE_ADDR="198.51.100.20").content.decode()
    assert "network changed" in page
    staff = grant(make_user("boss", is_staff=True), VIEW_PERMISSION)
    admin = browser(staff).get("/admin/sessionadmin/activesession/").content.decode()
    assert "network changed" in admin
    listed = browser(staff).get("/api/admin/sessions").json()["results"]
    assert [r["suspicious"] for r in listed if r["user"]["username"] == "alice"] == [["network"]]


@override_settings(SESSION_ON_SUSPICIOUS="end")
def test_with_end_the_session_ends_and_the_request_is_signed_out(make_user, redis):
    client = signed_in(make_user)
    sid = client_id(client)
    response = client.get("/api/profile", REMOTE_ADDR="198.51.100.20")
    assert response.status_code == 401
    assert response.json()["code"] == "AUTH_REQUIRED"
    assert client.get("/api/profile").status_code == 401  # from home too: it is gone
    ended = events.recent(kind="revoked")[0]
    assert [(e.session_id, e.by) for e in ended] == [(sid, "suspicious")]


@override_settings(SESSION_ON_SUSPICIOUS="off")
def test_off_checks_nothing(make_user, redis):
    client = signed_in(make_user)
    assert own_session(client, REMOTE_ADDR="198.51.100.20")["suspicious"] == []


@pytest.mark.parametrize("value", ["ignore", ""])
def test_a_bad_setting_is_a_system_check_error(value):
    from sessionadmin.checks import E009, check_events

    with override_settings(SESSION_ON_SUSPICIOUS=value):
        assert E009 in check_events()


def test_a_bad_metrics_network_is_a_system_check_error():
    from sessionadmin.checks import E010, check_events

    with override_settings(SESSIONADMIN_METRICS_NETWORKS=["loopback"]):
        assert E010 in check_events()
