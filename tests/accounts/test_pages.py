"""The accounts pages: plain HTML forms that work without JavaScript, over real sessions."""

from __future__ import annotations

import html
import re

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client, override_settings

from sessionadmin import services
from sessionadmin.store import keys

PASSWORD = "correct horse 9"
NEW_PASSWORD = "a brand new passphrase 42"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def csrf_token_of(response) -> str:
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', response.content)
    assert match, "the page has no CSRF token in a form"
    return match.group(1).decode()


def form_actions(response) -> list[str]:
    return [
        html.unescape(a.decode())
        for a in re.findall(rb'<form method="post" action="([^"]+)"', response.content)
    ]


def page_login(client: Client, username: str = "alice", password: str = PASSWORD, **data):
    """Sign in through the login form, as a browser would: GET it, then POST with its token."""
    token = csrf_token_of(client.get("/accounts/login/"))
    return client.post(
        "/accounts/login/",
        {"username": username, "password": password, "csrfmiddlewaretoken": token, **data},
    )


def browser(**defaults) -> Client:
    return Client(enforce_csrf_checks=True, **defaults)


def signed_in_browser(username: str = "alice", **defaults) -> Client:
    client = browser(**defaults)
    response = page_login(client, username)
    assert response.status_code == 302, response.content
    return client


def is_signed_in(client: Client) -> bool:
    return client.get("/api/session").json()["authenticated"]


def session_id_of(client: Client) -> str:
    return keys.session_id(client.cookies[settings.SESSION_COOKIE_NAME].value)


@pytest.fixture
def user(make_user, redis):
    return make_user("alice")


def test_login_page_shows_a_form_with_a_csrf_token(user):
    response = browser().get("/accounts/login/")
    assert response.status_code == 200
    assert b'name="username"' in response.content
    assert b'name="password"' in response.content
    assert csrf_token_of(response)


def test_login_page_signs_in_and_goes_home(user):
    client = browser()
    client.get("/")
    before = client.cookies[settings.SESSION_COOKIE_NAME].value
    response = page_login(client)
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.cookies[settings.SESSION_COOKIE_NAME].value != before
    assert is_signed_in(client)
    assert b"alice" in client.get("/accounts/profile/").content


def test_login_page_post_without_the_csrf_token_is_refused(user):
    client = browser()
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 403
    assert not is_signed_in(client)


def test_login_page_with_a_wrong_password_shows_the_error_and_signs_nobody_in(user):
    client = browser()
    response = page_login(client, password="wrong password")
    assert response.status_code == 401
    assert b"Wrong username or password." in response.content
    assert not is_signed_in(client)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/accounts/profile/", "/accounts/profile/"),
        ("/accounts/sessions/?x=1", "/accounts/sessions/?x=1"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("http://testserver.evil.example/", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
def test_login_page_follows_next_only_within_the_site(user, target, expected):
    client = browser()
    response = page_login(client, next=target)
    assert response.status_code == 302
    assert response["Location"] == expected


def test_login_page_next_from_the_query_string_is_kept_in_the_form(user):
    client = browser()
    page = client.get("/accounts/login/?next=/accounts/profile/")
    assert b'name="next" value="/accounts/profile/"' in page.content
    token = csrf_token_of(page)
    response = client.post(
        "/accounts/login/?next=/accounts/profile/",
        {"username": "alice", "password": PASSWORD, "csrfmiddlewaretoken": token},
    )
    assert response["Location"] == "/accounts/profile/"


@override_settings(LOGIN_RATE_LIMIT="3/15m")
def test_login_page_says_clearly_when_rate_limited_and_answers_429(user):
    client = browser()
    for _ in range(3):
        assert page_login(client, password="wrong password").status_code == 401
    response = page_login(client)
    assert response.status_code == 429
    assert b"Too many failed attempts. Try again in" in response.content
    assert not is_signed_in(client)


def test_register_page_creates_the_account_and_signs_in(redis, db):
    client = browser()
    token = csrf_token_of(client.get("/accounts/register/"))
    response = client.post(
        "/accounts/register/",
        {
            "username": "newbie",
            "email": "newbie@example.com",
            "password": NEW_PASSWORD,
            "csrfmiddlewaretoken": token,
        },
    )
    assert response.status_code == 302
    assert get_user_model().objects.filter(username="newbie").exists()
    assert client.get("/api/session").json()["user"]["username"] == "newbie"


def test_register_page_shows_field_errors(user):
    client = browser()
    token = csrf_token_of(client.get("/accounts/register/"))
    response = client.post(
        "/accounts/register/",
        {
            "username": "Alice",
            "email": "bad",
            "password": "password",
            "csrfmiddlewaretoken": token,
        },
    )
    assert response.status_code == 200
    assert b"That username is taken." in response.content
    assert b"valid email" in response.content
    assert not is_signed_in(client)
    assert get_user_model().objects.count() == 1


def test_logout_page_is_a_post_that_ends_the_session(user, redis):
    client = signed_in_browser()
    sid = session_id_of(client)
    old_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    profile = client.get("/accounts/profile/")
    assert "/accounts/logout/" in form_actions(profile)
    assert client.get("/accounts/logout/").status_code == 405  # never a GET
    assert is_signed_in(client)
    response = client.post("/accounts/logout/", {"csrfmiddlewaretoken": csrf_token_of(profile)})
    assert response.status_code == 302
    # Clear-Site-Data would also clear a message cookie: the landing page says it.
    assert response["Location"] == "/?signed_out=1"
    assert response["Clear-Site-Data"] == '"cookies"'
    assert b"You have been signed out." in client.get(response["Location"]).content
    assert not redis.exists(keys.session_key_name(sid))
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = old_key
    assert not is_signed_in(replay)


@pytest.mark.parametrize(
    "path", ["/accounts/profile/", "/accounts/sessions/", "/accounts/password/"]
)
def test_anonymous_visitors_of_signed_in_pages_go_to_the_login_page(redis, db, path):
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={path}"


def test_sessions_page_lists_my_sessions_and_marks_this_device(user, make_user):
    me = signed_in_browser(HTTP_USER_AGENT=FIREFOX, REMOTE_ADDR="10.0.0.7")
    other = signed_in_browser(REMOTE_ADDR="10.0.0.8")
    make_user("bob")
    signed_in_browser("bob", REMOTE_ADDR="10.9.9.9")
    response = me.get("/accounts/sessions/")
    assert response.status_code == 200
    text = response.content.decode()
    assert "Firefox on Linux" in text
    assert "10.0.0.7" in text and "10.0.0.8" in text
    assert "10.9.9.9" not in text  # bob's session is not mine
    assert text.count("this device") == 1
    assert f"/accounts/sessions/{session_id_of(other)}/revoke/" in form_actions(response)
    # No form to sign out the current session from here (that is the logout button).
    assert f"/accounts/sessions/{session_id_of(me)}/revoke/" not in form_actions(response)


def test_sessions_page_revoke_form_ends_that_session(user):
    me, other, third = signed_in_browser(), signed_in_browser(), signed_in_browser()
    page = me.get("/accounts/sessions/")
    action = f"/accounts/sessions/{session_id_of(other)}/revoke/"
    assert action in form_actions(page)
    response = me.post(action, {"csrfmiddlewaretoken": csrf_token_of(page)})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/sessions/"
    assert not is_signed_in(other)
    assert is_signed_in(me) and is_signed_in(third)
    follow = me.get("/accounts/sessions/")
    assert b"That session has been signed out." in follow.content
    assert action not in form_actions(follow)


def test_sessions_page_revoke_of_someone_elses_session_changes_nothing(user, make_user):
    make_user("bob")
    me, bob = signed_in_browser(), signed_in_browser("bob")
    page = me.get("/accounts/profile/")  # alone, the sessions page has no form to read
    response = me.post(
        f"/accounts/sessions/{session_id_of(bob)}/revoke/",
        {"csrfmiddlewaretoken": csrf_token_of(page)},
    )
    assert response.status_code == 302
    assert is_signed_in(bob)
    assert b"That session no longer exists." in me.get("/accounts/sessions/").content


def test_sessions_page_sign_out_all_others_form(user):
    me = signed_in_browser()
    others = [signed_in_browser() for _ in range(2)]
    page = me.get("/accounts/sessions/")
    assert "/accounts/sessions/revoke-others/" in form_actions(page)
    response = me.post(
        "/accounts/sessions/revoke-others/", {"csrfmiddlewaretoken": csrf_token_of(page)}
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/sessions/"
    assert not any(is_signed_in(c) for c in others)
    assert is_signed_in(me)
    follow = me.get("/accounts/sessions/")
    assert b"Signed out 2 other sessions." in follow.content
    assert [r.id for r in services.list_user_sessions(user.pk)] == [session_id_of(me)]


def test_password_page_changes_the_password_and_ends_other_sessions(user):
    me, other = signed_in_browser(), signed_in_browser()
    before = me.cookies[settings.SESSION_COOKIE_NAME].value
    page = me.get("/accounts/password/")
    assert page.status_code == 200
    response = me.post(
        "/accounts/password/",
        {
            "old_password": PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
            "csrfmiddlewaretoken": csrf_token_of(page),
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/profile/"
    assert me.cookies[settings.SESSION_COOKIE_NAME].value != before
    assert is_signed_in(me)
    assert not is_signed_in(other)
    assert (
        b"Your password has been changed. 1 other session signed out."
        in me.get("/accounts/profile/").content
    )
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert page_login(browser(), password=PASSWORD).status_code == 401
    assert page_login(browser(), password=NEW_PASSWORD).status_code == 302


def test_password_page_with_a_wrong_old_password_shows_the_error(user):
    me, other = signed_in_browser(), signed_in_browser()
    page = me.get("/accounts/password/")
    response = me.post(
        "/accounts/password/",
        {
            "old_password": "not it",
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
            "csrfmiddlewaretoken": csrf_token_of(page),
        },
    )
    assert response.status_code == 200
    assert b"Your old password was entered incorrectly" in response.content
    assert is_signed_in(me) and is_signed_in(other)
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
