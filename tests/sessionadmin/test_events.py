"""Session events in-process: the signals, the event log in Redis, its API, dashboard page
and command, one ending of each reason, exactly once, against the real Redis and database.
"""

from __future__ import annotations

import json
import time
from io import StringIO

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.sessions.backends.base import UpdateError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings

from sessionadmin import events, services
from sessionadmin.backends.redis import SessionStore
from sessionadmin.models import REVOKE_PERMISSION, VIEW_PERMISSION
from sessionadmin.signals import session_ended
from sessionadmin.store import keys
from tests.helpers import browser, client_id, cookie_key, grant, guest_write_in_shard

PASSWORD = "correct horse 9"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def endings(sent) -> list[tuple[str, object, str]]:
    return [(k["session_id"], k["user"], k["reason"]) for name, k in sent if name == "ended"]


def logged(**filters) -> list[events.Event]:
    found, _ = events.recent(limit=200, **filters)
    return found


def login(client: Client, username: str, password: str = PASSWORD, **extra):
    return client.post(
        "/api/login",
        {"username": username, "password": password},
        content_type="application/json",
        **extra,
    )


@pytest.fixture
def staff(make_user, redis):
    user = make_user("boss", is_staff=True)
    return grant(user, VIEW_PERMISSION, REVOKE_PERMISSION)


def test_a_sign_in_is_logged_and_signalled_with_ip_and_device(make_user, redis, signals):
    user = make_user("alice")
    client = Client(HTTP_USER_AGENT=FIREFOX, REMOTE_ADDR="203.0.113.9")
    assert login(client, "alice").status_code == 200
    sid = client_id(client)
    [(name, sent)] = signals
    assert name == "started"
    assert (sent["session_id"], sent["user"]) == (sid, user.pk)
    assert sent["request"].user == user
    [event] = logged()
    assert (event.event, event.session_id, event.user_id) == ("login", sid, str(user.pk))
    assert (event.ip, event.device) == ("203.0.113.9", "Firefox on Linux")


def test_logout_ends_once_with_reason_logout(make_user, redis, signals):
    user = make_user("alice")
    client = browser(user)
    sid = client_id(client)
    assert client.post("/api/logout").status_code == 200
    assert endings(signals) == [(sid, user.pk, "logout")]
    event = logged(kind="logout")[0]
    assert (event.event, event.reason, event.session_id) == ("logout", "logout", sid)
    # Nothing more is reported: the session ended once.
    services.revoke_session(sid)
    events.report_ended([])
    assert len(endings(signals)) == 1


def test_revocations_say_who_revoked(make_user, staff, redis, signals):
    user = make_user("alice")
    by_staff, by_user, by_command = browser(user), browser(user), browser(user)
    own = browser(user)
    admin = browser(staff)
    assert admin.delete(f"/api/admin/sessions/{client_id(by_staff)}").status_code == 204
    assert own.delete(f"/api/sessions/{client_id(by_user)}").status_code == 204
    call_command("sessions", "revoke", client_id(by_command), stdout=StringIO())
    assert [r for _, _, r in endings(signals)] == ["revoked"] * 3
    found = {e.session_id: e.by for e in logged(kind="revoked")}
    assert found == {
        client_id(by_staff): "staff",
        client_id(by_user): "user",
        client_id(by_command): "command",
    }


@override_settings(SESSION_MAX_PER_USER=2)
def test_the_per_user_limit_evicts_with_reason_evicted(make_user, redis, signals):
    user = make_user("alice")
    first = browser(user)
    browser(user), browser(user)
    assert endings(signals) == [(client_id(first), user.pk, "evicted")]
    assert [e.session_id for e in logged(kind="evicted")] == [client_id(first)]


def test_a_password_change_ends_the_others_with_reason_password_changed(make_user, redis, signals):
    user = make_user("alice")
    other, me = browser(user), browser(user)
    response = me.post(
        "/api/password",
        {"old_password": PASSWORD, "new_password": "a much better one 7"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert endings(signals) == [(client_id(other), user.pk, "password_changed")]


def test_a_password_changed_elsewhere_ends_the_session_on_its_next_request(
    make_user, redis, signals
):
    user = make_user("alice")
    client = browser(user)
    sid = client_id(client)
    user.set_password("changed behind its back 5")
    user.save()  # no view of ours: the auth hash no longer verifies
    assert client.get("/api/profile").status_code == 401
    assert endings(signals) == [(sid, user.pk, "password_changed")]


@pytest.mark.django_db(transaction=True)
def test_deactivating_or_deleting_a_user_ends_with_reason_user_deactivated(
    make_user, redis, signals
):
    alice, bob = make_user("alice"), make_user("bob")
    one, two = browser(alice), browser(bob)
    alice.is_active = False
    alice.save()
    bob_id = bob.pk
    bob.delete()
    assert sorted(endings(signals), key=lambda e: e[0]) == sorted(
        [(client_id(one), alice.pk, "user_deactivated"),
         (client_id(two), bob_id, "user_deactivated")], key=lambda e: e[0]
    )  # fmt: skip
    # The deleted user's events are still found by id.
    assert [e.reason for e in logged(user_id=str(bob_id), kind="ended")] == ["user_deactivated"]


def signed_in_then_idle(make_user, seconds: float) -> tuple:
    """Sign alice in, then let ``seconds`` pass; return (user, client, session id)."""
    user = make_user("alice")
    client = browser(user)
    sid = client_id(client)
    time.sleep(seconds)
    return user, client, sid


@override_settings(SESSION_IDLE_TIMEOUT=1, SESSION_TOUCH_INTERVAL=0)
def test_an_idle_session_ends_on_the_request_that_finds_it(make_user, redis, signals):
    user, client, sid = signed_in_then_idle(make_user, 1.2)
    response = client.get("/api/profile")
    assert response.json()["reason"] == "idle"
    assert endings(signals) == [(sid, user.pk, "idle")]
    client.get("/api/profile")  # told once; reported once
    assert len(endings(signals)) == 1


@override_settings(SESSION_IDLE_TIMEOUT=1, SESSION_TOUCH_INTERVAL=0)
def test_an_idle_expiry_no_request_sees_is_found_by_the_trim_of_other_writes(
    make_user, redis, signals
):
    # Its TTL passes, and the clock slack (min(60, idle) = 1 s) too.
    user, _, sid = signed_in_then_idle(make_user, 2.3)
    assert not redis.exists(keys.session_key_name(sid))
    guest_write_in_shard(keys.id_shard(sid))  # somebody else's write trims the index
    assert endings(signals) == [(sid, user.pk, "idle")]
    [event] = logged(kind="ended")
    assert (event.reason, event.session_id, event.user_id) == ("idle", sid, str(user.pk))


@override_settings(SESSION_IDLE_TIMEOUT=60, SESSION_ABSOLUTE_TIMEOUT=1)
def test_an_absolute_deadline_ends_with_reason_absolute(make_user, redis, signals):
    user, client, sid = signed_in_then_idle(make_user, 1.1)
    assert client.get("/api/profile").json()["reason"] == "absolute"
    assert endings(signals) == [(sid, user.pk, "absolute")]


def test_failed_and_rate_limited_sign_ins_are_logged(make_user, redis):
    user = make_user("alice")
    client = Client(REMOTE_ADDR="198.51.100.7")
    for _ in range(5):
        assert login(client, "alice", "wrong").status_code == 401
    assert login(client, "alice", "wrong").status_code == 429
    failed, limited = logged(kind="login_failed"), logged(kind="rate_limited")
    assert len(failed) == 5 and len(limited) == 1
    assert {e.user_id for e in failed + limited} == {str(user.pk)}
    assert {e.ip for e in failed} == {"198.51.100.7"}
    login(Client(), "nobody-at-all", "wrong")
    assert logged(kind="login_failed")[0].user_id == ""  # a name that is nobody's


def test_a_receiver_that_fails_does_not_fail_the_request(make_user, redis):
    def broken(sender, **kwargs):
        raise RuntimeError("a broken receiver")

    session_ended.connect(broken, dispatch_uid="broken")
    try:
        client = browser(make_user("alice"))
        assert client.post("/api/logout").status_code == 200
    finally:
        session_ended.disconnect(dispatch_uid="broken")


@override_settings(SESSIONADMIN_EVENTS_MAX=0)
def test_with_no_event_log_the_signals_still_go(make_user, redis, signals):
    client = browser(make_user("alice"))
    client.post("/api/logout")
    assert [name for name, _ in signals] == ["started", "ended"]
    assert not any(redis.exists(keys.events_log(shard)) for shard in keys.shards())


@override_settings(SESSIONADMIN_EVENTS_MAX=10)
def test_the_log_is_capped(redis):
    for _ in range(300):
        events.record("login_failed", ip="192.0.2.1")
    # Each shard keeps its share of the cap; MAXLEN ~ trims whole stream nodes (100
    # entries each): about the cap, never all.
    total = sum(redis.xlen(keys.events_log(shard)) for shard in keys.shards())
    assert 1 <= total <= 110


# --- the staff API ---------------------------------------------------------------------


def test_the_api_lists_events_newest_first_and_pages_by_cursor(make_user, staff, redis):
    user = make_user("alice")
    for _ in range(3):
        browser(user).post("/api/logout")
    admin = browser(staff)
    seen, cursor = [], ""
    while True:
        response = admin.get("/api/admin/sessions/events", {"page_size": 2, "cursor": cursor})
        assert response.status_code == 200, response.content
        body = response.json()
        seen += body["results"]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert [r["event"] for r in seen] == ["login"] + ["logout", "login"] * 3
    times = [r["at"] for r in seen]
    assert times == sorted(times, reverse=True)
    row = seen[1]
    assert set(row) >= {"at", "event", "reason", "session_id", "user", "ip", "device"}
    assert row["user"] == {"id": user.pk, "username": "alice"}
    assert row["reason"] == "logout"


def test_the_api_filters_by_user_and_kind(make_user, staff, redis):
    alice, bob = make_user("alice"), make_user("bob")
    browser(alice).post("/api/logout")
    browser(bob)
    admin = browser(staff)
    body = admin.get("/api/admin/sessions/events", {"user": "alice"}).json()
    assert {r["user"]["username"] for r in body["results"]} == {"alice"}
    body = admin.get("/api/admin/sessions/events", {"kind": "logout"}).json()
    assert [r["user"]["username"] for r in body["results"]] == ["alice"]


@pytest.mark.parametrize(
    "query, field",
    [({"kind": "nope"}, "kind"), ({"cursor": "yesterday"}, "cursor"),
     ({"user": "nobody-here"}, "user"), ({"page_size": "0"}, "page_size"),
     ({"since": "forever"}, "since")],
)  # fmt: skip
def test_bad_filters_are_400_validation_errors(staff, query, field):
    response = browser(staff).get("/api/admin/sessions/events", query)
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert field in response.json()["fields"]


def test_the_api_needs_the_view_permission(make_user, redis):
    assert Client().get("/api/admin/sessions/events").json()["code"] == "AUTH_REQUIRED"
    plain = browser(make_user("alice", is_staff=True))
    assert plain.get("/api/admin/sessions/events").status_code == 403


# --- the dashboard page and the command --------------------------------------------------


def test_the_dashboard_lists_events_and_links_a_staff_revoke_to_its_log_entry(
    make_user, staff, redis
):
    user = make_user("alice")
    target = client_id(browser(user))
    admin = browser(staff)
    assert admin.delete(f"/api/admin/sessions/{target}").status_code == 204
    page = admin.get("/admin/sessionadmin/activesession/events/")
    assert page.status_code == 200
    html = page.content.decode()
    assert target in html and "revoked" in html and "by staff" in html
    entry = LogEntry.objects.get(object_id=target)
    link = f"/admin/sessionadmin/activesession/events/log/{entry.pk}/"
    assert link in html
    audit = admin.get(link).content.decode()
    assert "boss" in audit and target in audit
    assert (
        admin.get("/admin/sessionadmin/activesession/")
        .content.decode()
        .count("/admin/sessionadmin/activesession/events/")
    )
    filtered = admin.get("/admin/sessionadmin/activesession/events/", {"kind": "login"})
    assert "by staff" not in filtered.content.decode()


def test_the_command_lists_and_filters_events(make_user, redis):
    user = make_user("alice")
    sid = client_id(browser(user))
    services.revoke_session(sid, by="command")
    out = StringIO()
    call_command("sessions", "events", "--json", "--user", "alice", "--since", "10m", stdout=out)
    rows = json.loads(out.getvalue())
    assert [(r["event"], r["reason"]) for r in rows] == [("ended", "revoked"), ("login", None)]
    out = StringIO()
    call_command("sessions", "events", "--kind", "revoked", stdout=out)
    assert sid in out.getvalue() and "1 event(s)" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("sessions", "events", "--since", "a while", stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("sessions", "events", "--user", "nobody-here", stdout=StringIO())


def test_an_ended_session_is_never_reported_by_a_later_save(make_user, redis, signals):
    user = make_user("alice")
    client = browser(user)
    in_flight = SessionStore(cookie_key(client))
    assert in_flight.get("_auth_user_id") == str(user.pk)  # loaded, as a request would
    services.revoke_session(client_id(client))
    in_flight["x"] = 1
    with pytest.raises(UpdateError):  # never written back
        in_flight.save()
    assert len(endings(signals)) == 1
