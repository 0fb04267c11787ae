"""The staff JSON API over active sessions (API.md's /api/admin/..., SECURITY.md 23-24):
roles and permissions, filters, search, pagination, validation, revocation and its audit
trail, and the stats, over HTTP in-process against the real Redis and database."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.test import Client
from django.utils import timezone

from sessionadmin import services
from sessionadmin.models import REVOKE_PERMISSION, VIEW_PERMISSION, ActiveSession
from sessionadmin.store import keys
from tests.helpers import SESSION_KEYS, browser, client_id, cookie_key, grant, pause, sid

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)
UNKNOWN_ID = "0" * keys.ID_HEX_CHARS


def assert_signed_out(client: Client) -> None:
    response = client.get("/api/profile")
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "AUTH_REQUIRED"


def assert_signed_in(client: Client) -> None:
    response = client.get("/api/profile")
    assert response.status_code == 200, response.content


def listed_ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def assert_no_raw_key_logged(*raw_keys: str) -> None:
    for entry in LogEntry.objects.all():
        fields = (
            entry.object_id,
            entry.object_repr,
            entry.change_message,
            entry.get_change_message(),
            str(entry),
        )
        for raw in raw_keys:
            assert raw
            for value in fields:
                assert raw not in (value or "")


@pytest.fixture
def boss(make_user, redis):
    return make_user("boss", is_staff=True, is_superuser=True)


@pytest.fixture
def viewer(make_user, redis):
    return grant(make_user("viewer", is_staff=True), VIEW_PERMISSION)


@pytest.fixture
def revoker(make_user, redis):
    return grant(make_user("revoker", is_staff=True), VIEW_PERMISSION, REVOKE_PERMISSION)


@pytest.fixture
def alice(make_user, redis):
    return make_user("alice")


# --- Roles ------------------------------------------------------------------------------

ENDPOINTS = [
    ("get", "/api/admin/sessions", "view"),
    ("get", "/api/admin/sessions/stats", "view"),
    ("delete", "/api/admin/sessions/{sid}", "revoke"),
    ("post", "/api/admin/users/{uid}/revoke-sessions", "revoke"),
]


def call(client: Client, method: str, path: str, target_sid: str, target_uid: int):
    return getattr(client, method)(path.format(sid=target_sid, uid=target_uid))


@pytest.mark.parametrize(("method", "path", "_needs"), ENDPOINTS)
def test_anonymous_gets_401_auth_required(redis, alice, make_session, method, path, _needs):
    victim = make_session(user=alice)
    response = call(Client(), method, path, sid(victim), alice.pk)
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "AUTH_REQUIRED"
    assert services.get_session(sid(victim)) is not None
    assert LogEntry.objects.count() == 0


@pytest.mark.parametrize(
    "role", ["user", "staff without permission", "non-staff holding the permissions"]
)
@pytest.mark.parametrize(("method", "path", "_needs"), ENDPOINTS)
def test_non_staff_and_staff_without_permission_get_403(
    redis, make_user, alice, make_session, method, path, _needs, role
):
    if role == "user":
        caller = make_user("mallory")
    elif role == "staff without permission":
        caller = make_user("clerk", is_staff=True)
    else:
        # Holding the permissions is not enough without is_staff.
        caller = grant(make_user("outsider"), VIEW_PERMISSION, REVOKE_PERMISSION)
    victim = make_session(user=alice)
    response = call(browser(caller), method, path, sid(victim), alice.pk)
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "FORBIDDEN"
    assert services.get_session(sid(victim)) is not None
    assert LogEntry.objects.count() == 0


@pytest.mark.parametrize(("method", "path", "needs"), ENDPOINTS)
def test_staff_with_view_only_can_read_but_not_revoke(
    redis, viewer, alice, make_session, method, path, needs
):
    victim = make_session(user=alice)
    response = call(browser(viewer), method, path, sid(victim), alice.pk)
    if needs == "view":
        assert response.status_code == 200, response.content
    else:
        assert response.status_code == 403, response.content
        assert response.json()["code"] == "FORBIDDEN"
    assert services.get_session(sid(victim)) is not None
    assert LogEntry.objects.count() == 0


@pytest.mark.parametrize(("method", "path", "needs"), ENDPOINTS)
def test_staff_with_both_permissions_may_call_every_endpoint(
    redis, revoker, alice, make_session, method, path, needs
):
    victim = make_session(user=alice)
    response = call(browser(revoker), method, path, sid(victim), alice.pk)
    assert response.status_code in (200, 204), response.content
    if needs == "revoke":
        assert services.get_session(sid(victim)) is None
        assert LogEntry.objects.filter(user=revoker, action_flag=DELETION).count() == 1


# --- Listing ----------------------------------------------------------------------------


def test_superuser_lists_every_session_with_the_contract_shape(redis, boss, alice, make_session):
    guest = make_session(ip="198.51.100.4", user_agent=FIREFOX)
    pause()
    signed_in = make_session(user=alice, ip="203.0.113.9", user_agent=CHROME_MAC)
    pause()
    client = browser(boss)
    response = client.get("/api/admin/sessions")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 3
    assert body["page"] == 1
    assert body["page_size"] == 50
    assert body["complete"] is True
    assert [row["id"] for row in body["results"]] == [
        client_id(client),
        sid(signed_in),
        sid(guest),
    ]
    for row in body["results"]:
        assert set(row) == SESSION_KEYS
    me, theirs, anonymous = body["results"]
    assert me["current"] is True
    assert me["user"] == {"id": boss.pk, "username": "boss"}
    assert theirs["current"] is False
    assert theirs["user"] == {"id": alice.pk, "username": "alice"}
    assert theirs["ip"] == "203.0.113.9"
    assert theirs["user_agent"] == CHROME_MAC
    assert theirs["device"] == "Chrome on Mac OS X"
    assert theirs["login_at"] is not None
    assert anonymous["user"] is None
    assert anonymous["current"] is False
    assert anonymous["device"] == "Firefox on Linux"
    assert anonymous["login_at"] is None
    for raw in (guest.session_key, signed_in.session_key, cookie_key(client)):
        assert raw not in response.content.decode()


def test_staff_with_view_permission_lists_sessions(redis, viewer, alice, make_session):
    other = make_session(user=alice)
    pause()
    client = browser(viewer)
    body = client.get("/api/admin/sessions").json()
    assert body["count"] == 2
    assert [row["id"] for row in body["results"]] == [client_id(client), sid(other)]


def test_only_the_callers_own_session_is_current(redis, boss, make_session):
    for _ in range(3):
        make_session()
    other_boss = browser(boss)
    pause()
    client = browser(boss)
    results = client.get("/api/admin/sessions").json()["results"]
    assert len(results) == 5
    current = [row["id"] for row in results if row["current"]]
    assert current == [client_id(client)]
    assert client_id(other_boss) != client_id(client)
    other_results = other_boss.get("/api/admin/sessions").json()["results"]
    assert [row["id"] for row in other_results if row["current"]] == [client_id(other_boss)]


@pytest.fixture
def mix(redis, boss, alice, make_user, make_session):
    """Two guests, two sessions of alice, one of bob, and the staff browser (newest)."""
    bob = make_user("bob")
    made = {}
    made["guest_ip"] = make_session(ip="192.0.2.77", user_agent="curl/8.5.0")
    pause()
    made["alice_ff"] = make_session(user=alice, ip="10.1.1.1", user_agent=FIREFOX)
    pause()
    made["guest_ua"] = make_session(ip="10.2.2.2", user_agent="Mozilla/5.0 SpecialBot/1.0")
    pause()
    made["alice_chrome"] = make_session(user=alice, ip="10.3.3.3", user_agent=CHROME_MAC)
    pause()
    made["bob"] = make_session(user=bob, ip="10.4.4.4", user_agent=CHROME_MAC)
    pause()
    client = browser(boss)
    ids = {name: sid(session) for name, session in made.items()}
    ids["boss"] = client_id(client)
    return client, ids, alice, bob


def test_filter_authenticated_true_lists_only_signed_in_sessions(mix):
    client, ids, _, _ = mix
    response = client.get("/api/admin/sessions", {"authenticated": "true"})
    assert listed_ids(response) == [ids["boss"], ids["bob"], ids["alice_chrome"], ids["alice_ff"]]
    assert response.json()["count"] == 4
    assert all(row["user"] is not None for row in response.json()["results"])


def test_filter_authenticated_false_lists_only_guests(mix):
    client, ids, _, _ = mix
    response = client.get("/api/admin/sessions", {"authenticated": "false"})
    assert listed_ids(response) == [ids["guest_ua"], ids["guest_ip"]]
    assert response.json()["count"] == 2
    assert all(row["user"] is None for row in response.json()["results"])


@pytest.mark.parametrize("by", ["id", "username"])
def test_filter_by_user_id_or_username(mix, by):
    client, ids, alice, _ = mix
    value = str(alice.pk) if by == "id" else "alice"
    response = client.get("/api/admin/sessions", {"user": value})
    assert listed_ids(response) == [ids["alice_chrome"], ids["alice_ff"]]
    assert response.json()["count"] == 2
    assert {row["user"]["username"] for row in response.json()["results"]} == {"alice"}


def test_user_filter_combined_with_authenticated_false_is_empty(mix):
    client, _, _, _ = mix
    response = client.get("/api/admin/sessions", {"user": "alice", "authenticated": "false"})
    assert listed_ids(response) == []
    assert response.json()["count"] == 0


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("192.0.2.77", ["guest_ip"]),
        ("192.0.2", ["guest_ip"]),
        ("specialbot", ["guest_ua"]),
        ("SPECIALBOT", ["guest_ua"]),
        ("firefox", ["alice_ff"]),
        ("alic", ["alice_chrome", "alice_ff"]),
        ("BOB", ["bob"]),
        ("no-such-thing", []),
    ],
)
def test_search_matches_ip_user_agent_and_username(mix, q, expected):
    client, ids, _, _ = mix
    response = client.get("/api/admin/sessions", {"q": q})
    assert listed_ids(response) == [ids[name] for name in expected]
    assert response.json()["count"] == len(expected)
    assert response.json()["complete"] is True


def test_search_combined_with_a_user_filter(mix):
    client, ids, _, _ = mix
    response = client.get("/api/admin/sessions", {"user": "alice", "q": "chrome"})
    assert listed_ids(response) == [ids["alice_chrome"]]
    response = client.get("/api/admin/sessions", {"authenticated": "true", "q": "10.4.4"})
    assert listed_ids(response) == [ids["bob"]]
    response = client.get("/api/admin/sessions", {"authenticated": "false", "q": "10."})
    assert listed_ids(response) == [ids["guest_ua"]]


@pytest.mark.parametrize("mode", ["all", "guests", "user"])
def test_pagination_most_recent_activity_first(redis, boss, alice, make_session, mode):
    if mode == "all":
        # Six made here and the staff's own browser, signed in last: seven in all.
        made = []
        for _ in range(6):
            made.append(sid(make_session()))
            pause()
        client = browser(boss)
        newest_first = [client_id(client), *reversed(made)]
        query = {}
    else:
        made = []
        for _ in range(7):
            made.append(sid(make_session(user=alice if mode == "user" else None)))
            pause()
        client = browser(boss)
        newest_first = list(reversed(made))
        query = {"authenticated": "false"} if mode == "guests" else {"user": str(alice.pk)}
    pages = []
    for number in (1, 2, 3):
        response = client.get("/api/admin/sessions", {**query, "page": number, "page_size": 3})
        body = response.json()
        assert response.status_code == 200, body
        assert body["count"] == 7
        assert body["page"] == number
        assert body["page_size"] == 3
        pages.append([row["id"] for row in body["results"]])
    assert [len(page) for page in pages] == [3, 3, 1]
    assert pages[0] + pages[1] + pages[2] == newest_first
    beyond = client.get("/api/admin/sessions", {**query, "page": 4, "page_size": 3}).json()
    assert beyond["results"] == []
    assert beyond["count"] == 7


def test_page_size_200_is_accepted(redis, boss):
    response = browser(boss).get("/api/admin/sessions", {"page_size": "200"})
    assert response.status_code == 200, response.content
    assert response.json()["page_size"] == 200


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("page", "abc"),
        ("page", "0"),
        ("page", "-1"),
        ("page", "1.5"),
        ("page", "²"),
        ("page_size", "0"),
        ("page_size", "201"),
        ("page_size", "x"),
        ("authenticated", "maybe"),
        ("authenticated", "1"),
        ("user", "nobody"),
    ],
)
def test_bad_query_values_are_400_validation_error(redis, boss, alice, param, value):
    response = browser(boss).get("/api/admin/sessions", {param: value})
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert isinstance(body["error"], str)
    assert param in body["fields"]
    assert body["fields"][param]
    assert all(isinstance(message, str) for message in body["fields"][param])


# --- Revoke one -------------------------------------------------------------------------


def test_delete_revokes_the_session_and_writes_an_audit_entry(redis, boss, alice):
    victim = browser(alice)
    assert_signed_in(victim)
    victim_id, victim_key = client_id(victim), cookie_key(victim)
    bystander = browser(alice)
    admin_client = browser(boss)
    response = admin_client.delete(f"/api/admin/sessions/{victim_id}")
    assert response.status_code == 204
    assert response.content == b""
    assert services.get_session(victim_id) is None
    assert_signed_out(victim)
    assert_signed_in(bystander)
    entry = LogEntry.objects.get()
    assert entry.action_flag == DELETION
    assert entry.object_id == victim_id
    assert entry.user_id == boss.pk
    assert victim_id in entry.object_repr
    assert "revoked by staff" in entry.change_message  # why
    assert abs((timezone.now() - entry.action_time).total_seconds()) < 60  # when
    assert entry.content_type.model_class() is ActiveSession
    assert_no_raw_key_logged(victim_key, cookie_key(admin_client), cookie_key(bystander))
    again = admin_client.delete(f"/api/admin/sessions/{victim_id}")
    assert again.status_code == 404
    assert LogEntry.objects.count() == 1


def test_staff_may_revoke_its_own_session_through_the_api(redis, revoker):
    client = browser(revoker)
    response = client.delete(f"/api/admin/sessions/{client_id(client)}")
    assert response.status_code == 204
    assert_signed_out(client)


@pytest.mark.parametrize(
    "target", [UNKNOWN_ID, "not-a-session-id", "ABCDEF" * 4, "0" * 25, "%2E%2E%2Fetc"]
)
def test_delete_unknown_or_malformed_id_is_404(redis, boss, make_session, target):
    survivor = make_session()
    response = browser(boss).delete(f"/api/admin/sessions/{target}")
    assert response.status_code == 404, response.content
    assert response.json()["code"] == "NOT_FOUND"
    assert services.get_session(sid(survivor)) is not None
    assert LogEntry.objects.count() == 0


def test_delete_needs_the_delete_method(redis, boss, make_session):
    victim = make_session()
    response = browser(boss).post(f"/api/admin/sessions/{sid(victim)}")
    assert response.status_code == 405
    assert response.json()["code"] == "METHOD_NOT_ALLOWED"
    assert services.get_session(sid(victim)) is not None


# --- Revoke all of a user ---------------------------------------------------------------


def test_revoke_user_sessions_ends_every_browser_of_that_user(
    redis, revoker, alice, make_user, make_session
):
    browsers = []
    for _ in range(3):
        browsers.append(browser(alice))
        pause()
    for each in browsers:
        assert_signed_in(each)
    raw_keys = [cookie_key(each) for each in browsers]
    bob = browser(make_user("bob"))
    guest = make_session()
    admin_client = browser(revoker)
    response = admin_client.post(f"/api/admin/users/{alice.pk}/revoke-sessions")
    assert response.status_code == 200, response.content
    assert response.json() == {"revoked": 3}
    for each in browsers:
        assert_signed_out(each)
    assert_signed_in(bob)
    assert services.get_session(sid(guest)) is not None
    assert services.list_user_sessions(alice.pk) == []
    entry = LogEntry.objects.get()
    assert entry.action_flag == DELETION
    assert entry.object_id == f"user:{alice.pk}"
    assert entry.user_id == revoker.pk
    assert_no_raw_key_logged(*raw_keys, cookie_key(admin_client))
    again = admin_client.post(f"/api/admin/users/{alice.pk}/revoke-sessions")
    assert again.status_code == 200
    assert again.json() == {"revoked": 0}


@pytest.mark.parametrize("target", ["999999", "0", "abc", "alice"])
def test_revoke_sessions_of_unknown_user_is_404(redis, boss, alice, target):
    victim = browser(alice)
    response = browser(boss).post(f"/api/admin/users/{target}/revoke-sessions")
    assert response.status_code == 404, response.content
    assert response.json()["code"] == "NOT_FOUND"
    assert_signed_in(victim)
    assert LogEntry.objects.count() == 0


# --- Stats ------------------------------------------------------------------------------


def test_stats_count_a_known_mix_of_sessions(redis, boss, alice, make_session):
    # 2 users (boss, alice), 3 signed-in sessions (boss's own, alice twice), 2 guests.
    make_session(user=alice)
    make_session(user=alice)
    make_session()
    make_session(user_agent=FIREFOX)
    response = browser(boss).get("/api/admin/sessions/stats")
    assert response.status_code == 200, response.content
    body = response.json()
    assert {k: body[k] for k in ("active", "authenticated", "anonymous", "users")} == {
        "active": 5,
        "authenticated": 3,
        "anonymous": 2,
        "users": 2,
    }
    assert body["activity"] == {"60": 5, "300": 5, "900": 5, "3600": 5, "86400": 5}


def test_stats_follow_revocations(redis, boss, alice, make_session):
    guest = make_session()
    make_session(user=alice)
    client = browser(boss)
    assert client.get("/api/admin/sessions/stats").json()["active"] == 3
    assert client.delete(f"/api/admin/sessions/{sid(guest)}").status_code == 204
    assert client.post(f"/api/admin/users/{alice.pk}/revoke-sessions").json() == {"revoked": 1}
    body = client.get("/api/admin/sessions/stats").json()
    assert (body["active"], body["authenticated"], body["anonymous"], body["users"]) == (
        1,
        1,
        0,
        1,
    )


@pytest.mark.parametrize("params", [{"q": "a\x00b"}, {"user": "x\x00"}, {"user": "1\x00"}])
def test_a_nul_in_a_listing_filter_is_never_a_500(redis, boss, params):
    response = browser(boss).get("/api/admin/sessions", params)
    assert response.status_code in (200, 400), response.content
