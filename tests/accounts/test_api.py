"""The accounts JSON API (API.md): register, login, logout, rate limits, roles, your sessions,
the per-user session limit, password change and deactivation, all over HTTP in-process."""

from __future__ import annotations

import json
import time

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.test import Client, override_settings

from sessionadmin import services
from sessionadmin.decorators import login_required, staff_required
from sessionadmin.store import keys
from tests.helpers import user_session_ids

PASSWORD = "correct horse 9"
NEW_PASSWORD = "a brand new passphrase 42"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)


def post(client: Client, path: str, data=None, **extra):
    return client.post(
        path, {} if data is None else data, content_type="application/json", **extra
    )


def login(client: Client, username: str, password: str = PASSWORD, **extra):
    return post(client, "/api/login", {"username": username, "password": password}, **extra)


def signed_in_client(username: str = "alice", password: str = PASSWORD, **defaults) -> Client:
    client = Client(**defaults)
    response = login(client, username, password)
    assert response.status_code == 200, response.content
    return client


def is_signed_in(client: Client) -> bool:
    response = client.get("/api/profile")
    assert response.status_code in (200, 401), response.content
    if response.status_code == 401:
        assert response.json()["code"] == "AUTH_REQUIRED"
    return response.status_code == 200


def assert_anonymous(client: Client) -> None:
    response = client.get("/api/session")
    assert response.status_code == 200, response.content
    assert response.json()["authenticated"] is False
    assert not is_signed_in(client)


def session_key(client: Client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def my_session_id(client: Client) -> str:
    return keys.session_id(session_key(client))


@pytest.fixture
def api(redis, db):
    return Client()


@pytest.fixture
def user(make_user, redis):
    return make_user("alice")


# --- Register ---------------------------------------------------------------------------


def test_register_creates_the_user_and_signs_the_caller_in(api):
    response = post(
        api,
        "/api/register",
        {"username": "newbie", "email": "newbie@example.com", "password": NEW_PASSWORD},
    )
    assert response.status_code == 201
    created = get_user_model().objects.get(username="newbie")
    assert response.json() == {
        "user": {
            "id": created.pk,
            "username": "newbie",
            "email": "newbie@example.com",
            "is_staff": False,
        }
    }
    assert created.check_password(NEW_PASSWORD)
    profile = api.get("/api/profile")
    assert profile.status_code == 200
    assert profile.json()["user"]["username"] == "newbie"
    assert profile.json()["session"]["current"] is True


@pytest.mark.parametrize(
    ("body", "bad_fields"),
    [
        (
            {"username": "ALICE", "email": "other@example.com", "password": NEW_PASSWORD},
            {"username"},
        ),
        ({"username": "bob", "email": "Alice@EXAMPLE.com", "password": NEW_PASSWORD}, {"email"}),
        ({"username": "bob", "email": "not-an-email", "password": NEW_PASSWORD}, {"email"}),
        ({"username": "bob", "email": "bob@example.com", "password": "password"}, {"password"}),
        ({"username": "bob", "email": "bob@example.com", "password": "12345"}, {"password"}),
        ({}, {"username", "email", "password"}),
        ({"username": "bob"}, {"email", "password"}),
    ],
    ids=[
        "duplicate-username-other-case",
        "duplicate-email-other-case",
        "bad-email",
        "common-password",
        "short-numeric-password",
        "all-missing",
        "email-and-password-missing",
    ],
)
def test_register_with_invalid_data_is_400_validation_error_with_fields(
    api, user, body, bad_fields
):
    users_before = get_user_model().objects.count()
    response = post(api, "/api/register", body)
    assert response.status_code == 400
    data = response.json()
    assert data["code"] == "VALIDATION_ERROR"
    assert data["error"]
    assert set(data["fields"]) == bad_fields
    for messages in data["fields"].values():
        assert messages and all(isinstance(m, str) and m for m in messages)
    assert get_user_model().objects.count() == users_before
    assert not is_signed_in(api)


@pytest.mark.parametrize("raw", [b"[1, 2]", b'"alice"', b"{", b"null"])
def test_register_with_a_body_that_is_not_a_json_object_is_400_bad_json(api, raw):
    response = api.post("/api/register", raw, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "BAD_JSON"
    assert not is_signed_in(api)


# --- Login ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "identifier", ["alice", "ALICE", "alice@example.com", "Alice@EXAMPLE.com"]
)
def test_login_by_username_or_email_in_any_case(api, user, identifier):
    response = login(api, identifier)
    assert response.status_code == 200
    assert response.json() == {
        "user": {
            "id": user.pk,
            "username": "alice",
            "email": "alice@example.com",
            "is_staff": False,
        }
    }
    profile = api.get("/api/profile")
    assert profile.status_code == 200
    assert profile.json()["user"]["id"] == user.pk


def test_wrong_password_unknown_user_and_inactive_user_get_the_identical_answer(
    user, make_user, redis
):
    make_user("ghost", is_active=False)
    answers = []
    for username, password in [
        ("alice", "not the password"),
        ("nobody-here", PASSWORD),
        ("ghost", PASSWORD),
    ]:
        client = Client()
        response = login(client, username, password)
        answers.append((response.status_code, response.content, response["Content-Type"]))
        assert not is_signed_in(client)
    assert answers[0] == answers[1] == answers[2]
    status, content, _ = answers[0]
    assert status == 401
    body = json.loads(content)
    assert body["code"] == "INVALID_CREDENTIALS"
    assert set(body) == {"error", "code"}


def test_login_gives_a_new_session_key_and_the_pre_login_cookie_is_dead(api, user):
    assert api.get("/api/session").json()["views"] == 1
    api.get("/api/csrf")
    before = session_key(api)
    csrf_before = api.cookies[settings.CSRF_COOKIE_NAME].value
    response = login(api, "alice")
    assert response.status_code == 200
    after = session_key(api)
    assert after and after != before
    assert response.cookies[settings.CSRF_COOKIE_NAME].value != csrf_before  # new CSRF token

    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = before
    body = replay.get("/api/session").json()
    assert body["authenticated"] is False
    assert body["views"] == 1  # a fresh session: the old one's data is gone with it
    assert session_key(replay) not in (before, after)
    assert is_signed_in(api)


def test_the_anonymous_session_data_survives_login(api, user):
    api.get("/api/session")
    assert api.get("/api/session").json()["views"] == 2
    assert login(api, "alice").status_code == 200
    body = api.get("/api/session").json()
    assert body["authenticated"] is True
    assert body["user"] == {"id": user.pk, "username": "alice"}
    assert body["views"] == 3


@override_settings(LOGIN_RATE_LIMIT="3/15m")
def test_malformed_logins_are_400_and_do_not_count_toward_the_rate_limit(api, user):
    for _ in range(4):
        response = post(api, "/api/login", {"username": "alice"})
        assert response.status_code == 400
        assert response.json()["code"] == "VALIDATION_ERROR"
        assert "password" in response.json()["fields"]
        response = api.post(
            "/api/login", b'{"username": "alice",', content_type="application/json"
        )
        assert response.status_code == 400
        assert response.json()["code"] == "BAD_JSON"
    assert login(api, "alice").status_code == 200


# --- Logout -----------------------------------------------------------------------------


def test_logout_deletes_the_session_its_index_entries_and_clears_the_cookie(api, user, redis):
    login(api, "alice")
    key = session_key(api)
    sid = keys.session_id(key)
    uid = str(user.pk)
    assert redis.exists(keys.session_key_name(sid))
    assert user_session_ids(redis, uid) == {sid}
    assert redis.zscore(keys.auth_index(keys.id_shard(sid)), sid) is not None

    response = post(api, "/api/logout")
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert response["Clear-Site-Data"] == '"cookies"'
    cleared = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cleared.value == ""
    assert cleared["max-age"] == 0 or "1970" in cleared["expires"]

    assert not redis.exists(keys.session_key_name(sid))
    shard = keys.id_shard(sid)
    for index_key in (keys.guest_index(shard), keys.auth_index(shard)):
        assert redis.zscore(index_key, sid) is None
    assert user_session_ids(redis, uid) == set()
    assert redis.zscore(keys.users_bucket(uid), uid) is None
    assert services.list_user_sessions(user.pk) == []

    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = key
    assert_anonymous(replay)
    assert_anonymous(api)


# --- Rate limit -------------------------------------------------------------------------


def assert_rate_limited(response) -> None:
    assert response.status_code == 429, response.content
    body = response.json()
    assert body["code"] == "RATE_LIMITED"
    assert isinstance(body["retry_after"], int)
    assert 0 < body["retry_after"] <= 15 * 60
    assert int(response["Retry-After"]) == body["retry_after"]


def test_five_wrong_passwords_then_even_the_right_one_is_refused(api, user):
    for _ in range(5):
        response = login(api, "alice", "wrong password")
        assert response.status_code == 401
        assert response.json()["code"] == "INVALID_CREDENTIALS"
    response = login(api, "alice", PASSWORD)
    assert_rate_limited(response)
    assert not is_signed_in(api)


@pytest.mark.parametrize(("rate", "status"), [("2/15m", 429), ("5/15m", 200)])
def test_the_login_rate_limit_setting_is_read_at_call_time(redis, user, rate, status):
    with override_settings(LOGIN_RATE_LIMIT=rate):
        client = Client()
        for _ in range(2):
            assert login(client, "alice", "wrong password").status_code == 401
        assert login(client, "alice").status_code == status


@override_settings(LOGIN_RATE_LIMIT="3/15m")
def test_the_per_username_limit_holds_from_other_ips(user):
    for n in range(1, 4):
        response = login(Client(), "alice", "wrong password", REMOTE_ADDR=f"10.0.0.{n}")
        assert response.status_code == 401
    # Another IP, another spelling of the same name, the right password: still refused.
    assert_rate_limited(login(Client(), " ALICE ", PASSWORD, REMOTE_ADDR="10.0.0.99"))
    assert_rate_limited(login(Client(), "alice", PASSWORD, REMOTE_ADDR="10.0.0.98"))


@override_settings(LOGIN_RATE_LIMIT="3/15m")
def test_the_per_ip_limit_holds_across_usernames(user):
    for n in range(3):
        response = login(Client(), f"nobody{n}", "wrong password", REMOTE_ADDR="10.0.0.5")
        assert response.status_code == 401
    assert_rate_limited(login(Client(), "alice", PASSWORD, REMOTE_ADDR="10.0.0.5"))
    # The limit is per IP, not global: alice from elsewhere gets in.
    assert login(Client(), "alice", PASSWORD, REMOTE_ADDR="10.0.0.6").status_code == 200


@override_settings(LOGIN_RATE_LIMIT="3/15m")
def test_a_spoofed_x_forwarded_for_does_not_reset_the_count(user):
    assert settings.TRUST_X_FORWARDED_FOR is False
    for n in range(3):
        response = login(
            Client(), f"nobody{n}", "wrong password", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}"
        )
        assert response.status_code == 401
    response = login(Client(), "alice", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert_rate_limited(response)


@override_settings(LOGIN_RATE_LIMIT="3/15m")
def test_successful_logins_do_not_count(user):
    for _ in range(4):
        assert login(Client(), "alice", PASSWORD).status_code == 200
    for _ in range(2):
        assert login(Client(), "alice", "wrong password").status_code == 401
    assert login(Client(), "alice", PASSWORD).status_code == 200
    assert login(Client(), "alice", "wrong password").status_code == 401
    assert_rate_limited(login(Client(), "alice", PASSWORD))


# --- Roles ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/profile"),
        ("get", "/api/sessions"),
        ("post", "/api/password"),
        ("post", "/api/sessions/revoke-others"),
        ("delete", "/api/sessions/" + "a" * 24),
    ],
)
def test_anonymous_callers_get_401_auth_required(api, method, path):
    response = getattr(api, method)(path, content_type="application/json")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": "You need to sign in.", "code": "AUTH_REQUIRED"}


def test_staff_required_guards_pages_and_api_by_role(rf, make_user):
    @staff_required
    def view(request):
        return HttpResponse("staff only")

    def call(path, user):
        request = rf.get(path)
        request.user = user or AnonymousUser()
        return view(request)

    page = call("/staff/page/?x=1", None)
    assert page.status_code == 302
    assert page["Location"] == "/accounts/login/?next=/staff/page/%3Fx%3D1"
    api = call("/api/staff-thing", None)
    assert api.status_code == 401
    assert json.loads(api.content)["code"] == "AUTH_REQUIRED"

    customer = make_user("customer")
    with pytest.raises(PermissionDenied):
        call("/staff/page/", customer)
    forbidden = call("/api/staff-thing", customer)
    assert forbidden.status_code == 403
    assert json.loads(forbidden.content)["code"] == "FORBIDDEN"

    retired = make_user("retired", is_staff=True, is_active=False)
    with pytest.raises(PermissionDenied):
        call("/staff/page/", retired)

    staff = make_user("boss", is_staff=True)
    for path in ("/staff/page/", "/api/staff-thing"):
        response = call(path, staff)
        assert response.status_code == 200
        assert response.content == b"staff only"


def test_login_required_lets_any_signed_in_user_through(rf, make_user):
    @login_required
    def view(request):
        return HttpResponse("hello")

    request = rf.get("/api/thing")
    request.user = AnonymousUser()
    response = view(request)
    assert response.status_code == 401
    assert json.loads(response.content)["code"] == "AUTH_REQUIRED"
    request = rf.get("/page/")
    request.user = make_user("plain")
    assert view(request).content == b"hello"


# --- Your sessions ----------------------------------------------------------------------


def test_my_sessions_lists_device_ip_and_marks_only_the_caller_current(user, make_user):
    firefox = signed_in_client(HTTP_USER_AGENT=FIREFOX, REMOTE_ADDR="10.0.0.7")
    chrome = signed_in_client(HTTP_USER_AGENT=CHROME_MAC, REMOTE_ADDR="10.0.0.8")
    make_user("bob")
    signed_in_client("bob")  # someone else's session: not listed

    response = firefox.get("/api/sessions")
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 2
    by_id = {s["id"]: s for s in results}
    mine, other = by_id[my_session_id(firefox)], by_id[my_session_id(chrome)]
    assert mine["current"] is True and other["current"] is False
    assert mine["device"] == "Firefox on Linux"
    assert mine["ip"] == "10.0.0.7"
    assert mine["user_agent"] == FIREFOX
    assert mine["user"] == {"id": user.pk, "username": "alice"}
    assert other["ip"] == "10.0.0.8"
    assert other["device"] == "Chrome on Mac OS X"
    for session in results:
        assert {
            "id", "current", "user", "ip", "user_agent", "device", "created_at",
            "last_activity", "login_at", "expires_at", "requests",
        } <= set(session)  # fmt: skip
        assert session["login_at"] is not None

    # The other client sees the same two, with itself as current.
    seen = {s["id"]: s["current"] for s in chrome.get("/api/sessions").json()["results"]}
    assert seen == {my_session_id(firefox): False, my_session_id(chrome): True}


def test_deleting_another_of_my_sessions_ends_it_at_once(user):
    me, other = signed_in_client(), signed_in_client()
    response = me.delete(f"/api/sessions/{my_session_id(other)}")
    assert response.status_code == 204
    assert response.content == b""
    assert_anonymous(other)
    assert is_signed_in(me)
    assert [r.id for r in services.list_user_sessions(user.pk)] == [my_session_id(me)]


def test_deleting_another_users_session_is_404_and_it_lives_on(user, make_user):
    make_user("bob")
    me, bob = signed_in_client(), signed_in_client("bob")
    response = me.delete(f"/api/sessions/{my_session_id(bob)}")
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"
    assert is_signed_in(bob)
    assert is_signed_in(me)


@pytest.mark.parametrize("bad_id", ["nope", "x" * 24, "A" * 24, "0" * 25, "0" * 24])
def test_deleting_a_malformed_or_unknown_session_id_is_404(user, bad_id):
    me = signed_in_client()
    response = me.delete(f"/api/sessions/{bad_id}")
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"
    assert is_signed_in(me)


def test_deleting_by_the_raw_session_key_is_404(user):
    me, other = signed_in_client(), signed_in_client()
    response = me.delete(f"/api/sessions/{session_key(other)}")
    assert response.status_code == 404
    assert is_signed_in(other)


def test_revoke_others_leaves_only_the_callers_session(user, make_user):
    make_user("bob")
    me = signed_in_client()
    others = [signed_in_client() for _ in range(2)]
    bob = signed_in_client("bob")
    response = post(me, "/api/sessions/revoke-others")
    assert response.status_code == 200
    assert response.json() == {"revoked": 2}
    for client in others:
        assert_anonymous(client)
    assert is_signed_in(me)
    assert is_signed_in(bob)
    results = me.get("/api/sessions").json()["results"]
    assert [(s["id"], s["current"]) for s in results] == [(my_session_id(me), True)]
    assert post(me, "/api/sessions/revoke-others").json() == {"revoked": 0}


# --- Per-user session limit -------------------------------------------------------------


@override_settings(SESSION_MAX_PER_USER=2)
def test_a_login_beyond_the_per_user_limit_ends_the_oldest_session(user):
    first = signed_in_client()
    time.sleep(0.01)
    second = signed_in_client()
    time.sleep(0.01)
    third = signed_in_client()
    assert_anonymous(first)
    assert is_signed_in(second)
    assert is_signed_in(third)
    assert {r.id for r in services.list_user_sessions(user.pk)} == {
        my_session_id(second),
        my_session_id(third),
    }


@override_settings(SESSION_MAX_PER_USER=2, SESSION_TOUCH_INTERVAL=0)
def test_the_per_user_limit_ends_the_least_recently_active_session(user):
    first = signed_in_client()
    time.sleep(0.01)
    second = signed_in_client()
    time.sleep(0.01)
    assert is_signed_in(first)  # activity: now the second is the least recent
    time.sleep(0.01)
    third = signed_in_client()
    assert_anonymous(second)
    assert is_signed_in(first)
    assert is_signed_in(third)


@override_settings(SESSION_MAX_PER_USER=0)
def test_a_per_user_limit_of_zero_means_no_limit(user):
    clients = [signed_in_client() for _ in range(12)]
    assert all(is_signed_in(c) for c in clients)
    assert len(services.list_user_sessions(user.pk)) == 12


# --- Password change --------------------------------------------------------------------


def test_password_change_with_a_wrong_old_password_is_400_on_old_password(user):
    me = signed_in_client()
    response = post(me, "/api/password", {"old_password": "nope", "new_password": NEW_PASSWORD})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert set(body["fields"]) == {"old_password"}
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


@pytest.mark.parametrize("weak", ["123", "password", "alice1"])
def test_password_change_to_a_weak_password_is_400_on_new_password(user, weak):
    me = signed_in_client()
    response = post(me, "/api/password", {"old_password": PASSWORD, "new_password": weak})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert "new_password" in body["fields"]
    assert "new_password1" not in body["fields"] and "new_password2" not in body["fields"]
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_password_change_with_missing_fields_is_400(user):
    me = signed_in_client()
    response = post(me, "/api/password", {})
    assert response.status_code == 400
    assert {"old_password", "new_password"} <= set(response.json()["fields"])


def test_password_change_keeps_the_caller_under_a_new_key_and_ends_other_sessions(user):
    me = signed_in_client()
    others = [signed_in_client() for _ in range(2)]
    before = session_key(me)
    response = post(me, "/api/password", {"old_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert session_key(me) != before
    assert is_signed_in(me)
    for client in others:
        assert_anonymous(client)
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = before
    assert_anonymous(replay)
    assert [r.id for r in services.list_user_sessions(user.pk)] == [my_session_id(me)]

    old = login(Client(), "alice", PASSWORD)
    assert old.status_code == 401
    assert old.json()["code"] == "INVALID_CREDENTIALS"
    assert login(Client(), "alice", NEW_PASSWORD).status_code == 200


# --- Deactivation -----------------------------------------------------------------------


def test_making_a_user_inactive_ends_all_their_sessions(
    user, make_user, django_capture_on_commit_callbacks
):
    make_user("bob")
    clients = [signed_in_client() for _ in range(2)]
    bob = signed_in_client("bob")
    alice = get_user_model().objects.get(pk=user.pk)
    with django_capture_on_commit_callbacks(execute=True):
        alice.is_active = False
        alice.save()
    for client in clients:
        assert_anonymous(client)
    assert services.list_user_sessions(user.pk) == []
    assert is_signed_in(bob)
    response = login(Client(), "alice", PASSWORD)
    assert response.status_code == 401
    assert response.json()["code"] == "INVALID_CREDENTIALS"


def test_listing_your_own_sessions_makes_no_database_query(
    make_user, redis, django_assert_num_queries
):
    from tests.helpers import browser

    user = make_user("alice")
    client, other = browser(user), browser(user)
    client.get("/api/sessions")  # the user's copy is cached beside the session
    with django_assert_num_queries(0):
        response = client.get("/api/sessions")
    rows = response.json()["results"]
    assert len(rows) == 2 and {r["user"]["username"] for r in rows} == {"alice"}
    assert other.get("/api/profile").json()["session"]["user"]["username"] == "alice"
