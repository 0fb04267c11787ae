"""SECURITY.md items the accounts app answers for: session ids and cookies, CSRF on every
unsafe method, headers, no session key in any body, hash upgrade, production checks."""

from __future__ import annotations

import io
import logging
import os
import re
import secrets
import string
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client, override_settings

from sessionadmin import services
from sessionadmin.store import keys

BASE_DIR = Path(__file__).resolve().parent.parent.parent
PASSWORD = "correct horse 9"
NEW_PASSWORD = "a brand new passphrase 42"
ARGON2_FIRST = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.MD5PasswordHasher",
]


def post(client: Client, path: str, data=None, **extra):
    return client.post(
        path, {} if data is None else data, content_type="application/json", **extra
    )


def login(client: Client, username: str = "alice", password: str = PASSWORD, **extra):
    return post(client, "/api/login", {"username": username, "password": password}, **extra)


def signed_in_client(username: str = "alice") -> Client:
    client = Client()
    assert login(client, username).status_code == 200
    return client


def is_signed_in(client: Client) -> bool:
    return client.get("/api/session").json()["authenticated"]


def session_key(client: Client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


@pytest.fixture
def user(make_user, redis):
    return make_user("alice")


# --- Session id and cookie (items 1-3) ----------------------------------------------------


def test_a_forged_session_cookie_is_never_adopted(redis, db):
    forged = "f" * 32
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = forged
    body = client.get("/api/session").json()
    assert body["authenticated"] is False
    assert body["views"] == 1
    assert session_key(client) != forged
    assert len(session_key(client)) == 32
    assert not redis.exists(keys.session_key_name(keys.session_id(forged)))


def test_the_session_cookie_is_httponly_lax_secure_and_host_prefixed(user):
    response = login(Client())
    assert settings.SESSION_COOKIE_NAME == "__Host-sessionid"
    morsel = response.cookies["__Host-sessionid"]
    assert morsel.value
    assert morsel["httponly"] is True
    assert morsel["secure"] is True
    assert morsel["samesite"] == "Lax"
    assert morsel["path"] == "/"
    assert morsel["domain"] == ""  # __Host- cookies must not name a domain


def test_the_csrf_cookie_is_lax_and_secure(redis, db):
    response = Client().get("/api/csrf")
    assert settings.CSRF_COOKIE_NAME == "__Host-csrftoken"
    morsel = response.cookies["__Host-csrftoken"]
    assert morsel.value
    assert morsel["samesite"] == "Lax"
    assert morsel["secure"] is True
    assert morsel["path"] == "/"
    assert morsel["domain"] == ""


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


@pytest.mark.parametrize("path", ["/accounts/login/", "/accounts/register/", "/"])
def test_pages_send_a_strict_content_security_policy_and_security_headers(redis, db, path):
    response = Client().get(path)
    assert response.status_code == 200
    header = response["Content-Security-Policy"]
    directives = csp_directives(header)
    assert directives["script-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert "unsafe-inline" not in header
    assert "unsafe-eval" not in header
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"]


def test_api_responses_send_the_security_headers(user):
    for response in (Client().get("/api/csrf"), login(Client())):
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"]


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/accounts/profile/",
        "/accounts/sessions/",
        "/accounts/password/",
        "/api/profile",
        "/api/sessions",
        "/api/session",
    ],
)
def test_signed_in_responses_are_never_cached(user, path):
    response = signed_in_client().get(path)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_the_session_key_never_appears_in_a_response_or_a_log_line(user, caplog):
    other = signed_in_client()
    client = Client(HTTP_USER_AGENT="pytest-walker")
    seen = []
    with caplog.at_level(logging.DEBUG):
        seen.append(client.get("/"))
        pre_login_key = session_key(client)
        seen.append(login(client))
        key = session_key(client)
        for path in [
            "/",
            "/api/session",
            "/api/profile",
            "/api/sessions",
            "/api/csrf",
            "/accounts/profile/",
            "/accounts/sessions/",
            "/accounts/password/",
            "/accounts/login/",
        ]:
            response = client.get(path)
            assert response.status_code == 200, path
            seen.append(response)
        seen.append(post(client, "/api/session/keepalive"))
        seen.append(client.delete(f"/api/sessions/{session_key(other)}"))  # by key: 404
    assert seen[-1].status_code == 404
    secrets_to_hide = [pre_login_key, key, session_key(other)]
    for response in seen:
        body = response.content.decode()
        visible_headers = {
            name: value for name, value in response.headers.items() if name != "Set-Cookie"
        }
        for secret in secrets_to_hide:
            assert secret not in body, response.request["PATH_INFO"]
            assert secret not in str(visible_headers)
    for secret in secrets_to_hide:
        assert secret not in caplog.text
    # The page and the API name the session by its public id instead.
    listing = client.get("/api/sessions").json()["results"]
    assert {s["id"] for s in listing} == {
        keys.session_id(key),
        keys.session_id(session_key(other)),
    }


@pytest.mark.parametrize("param", ["sessionid", "__Host-sessionid", "session_key"])
def test_a_session_key_in_the_query_string_is_ignored(user, param):
    key = session_key(signed_in_client())
    stranger = Client()
    response = stranger.get(f"/api/profile?{param}={key}")
    assert response.status_code == 401
    assert response.json()["code"] == "AUTH_REQUIRED"
    assert stranger.get(f"/api/session?{param}={key}").json()["authenticated"] is False
    page = stranger.get(f"/accounts/profile/?{param}={key}")
    assert page.status_code == 302
    assert page["Location"].startswith("/accounts/login/")


# --- CSRF on every unsafe method (item 17) ------------------------------------------------


UNSAFE_API_CALLS = [
    ("post", "/api/login", {"username": "alice", "password": PASSWORD}, False, 200),
    (
        "post",
        "/api/register",
        {"username": "newbie", "email": "newbie@example.com", "password": NEW_PASSWORD},
        False,
        201,
    ),
    ("post", "/api/logout", None, True, 200),
    ("post", "/api/password", {"old_password": PASSWORD, "new_password": NEW_PASSWORD}, True, 200),
    ("post", "/api/sessions/revoke-others", None, True, 200),
    ("delete", "/api/sessions/{other}", None, True, 204),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "signed_in", "ok"),
    UNSAFE_API_CALLS,
    ids=[f"{m.upper()} {p}" for m, p, *_ in UNSAFE_API_CALLS],
)
def test_every_unsafe_api_method_needs_the_csrf_token(user, method, path, body, signed_in, ok):
    client = Client(enforce_csrf_checks=True)
    token = client.get("/api/csrf").json()["csrfToken"]
    other = signed_in_client()
    if signed_in:
        assert login(client, HTTP_X_CSRFTOKEN=token).status_code == 200
        token = client.get("/api/csrf").json()["csrfToken"]  # login rotated it
    path = path.format(other=keys.session_id(session_key(other)))
    users_before = get_user_model().objects.count()

    def send(**extra):
        return getattr(client, method)(
            path, {} if body is None else body, content_type="application/json", **extra
        )

    for extra in ({}, {"HTTP_X_CSRFTOKEN": "x" * 32}, {"HTTP_X_CSRFTOKEN": ""}):
        response = send(**extra)
        assert response.status_code == 403, extra
        assert response["Content-Type"] == "application/json"
        assert response.json()["code"] == "CSRF_FAILED"
    # Nothing happened.
    assert is_signed_in(client) is signed_in
    assert is_signed_in(other)
    assert get_user_model().objects.count() == users_before
    assert get_user_model().objects.get(username="alice").check_password(PASSWORD)
    # With the token the very same request goes through: the refusal was the token's.
    assert send(HTTP_X_CSRFTOKEN=token).status_code == ok


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/accounts/logout/", {}),
        ("/accounts/sessions/revoke-others/", {}),
        ("/accounts/password/", {"old_password": PASSWORD, "new_password1": NEW_PASSWORD}),
        ("/accounts/login/", {"username": "alice", "password": PASSWORD}),
        (
            "/accounts/register/",
            {"username": "newbie", "email": "newbie@example.com", "password": NEW_PASSWORD},
        ),
    ],
)
def test_every_page_form_needs_the_csrf_token(user, path, data):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    other = signed_in_client()
    response = client.post(path, data)
    assert response.status_code == 403
    assert is_signed_in(client) and is_signed_in(other)
    assert get_user_model().objects.count() == 1
    assert get_user_model().objects.get(username="alice").check_password(PASSWORD)


def test_a_session_revoke_form_needs_the_csrf_token(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    other = signed_in_client()
    sid = keys.session_id(session_key(other))
    assert client.post(f"/accounts/sessions/{sid}/revoke/").status_code == 403
    assert is_signed_in(other)


# --- Passwords and rate limits (items 14-16) ----------------------------------------------


def test_a_login_with_an_older_hash_upgrades_it_to_argon2(user):
    assert user.password.startswith("md5$")
    with override_settings(PASSWORD_HASHERS=ARGON2_FIRST):
        assert login(Client()).status_code == 200
        user.refresh_from_db()
        assert user.password.startswith("argon2")
        assert login(Client()).status_code == 200  # and the new hash works


@override_settings(PASSWORD_HASHERS=ARGON2_FIRST, LOGIN_RATE_LIMIT="2/15m")
def test_a_rate_limited_login_does_not_check_the_password(user):
    for _ in range(2):
        assert login(Client(), password="wrong password").status_code == 401
    user.refresh_from_db()
    assert user.password.startswith("md5$")  # a wrong password upgrades nothing
    response = login(Client())
    assert response.status_code == 429
    user.refresh_from_db()
    # Had the right password been checked, Django would have upgraded the hash.
    assert user.password.startswith("md5$")


# --- Production checks (item 19) ----------------------------------------------------------


def test_check_deploy_with_production_settings_reports_no_issues():
    alphabet = string.ascii_letters + string.digits + string.punctuation.replace("'", "")
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "sessionsite.settings",
            "DEBUG": "0",
            "SECRET_KEY": "".join(secrets.choice(alphabet) for _ in range(60)),
            "ALLOWED_HOSTS": "example.com",
            "SECURE_SSL_REDIRECT": "1",
            "SECURE_HSTS_SECONDS": "31536000",
            "SECURE_HSTS_PRELOAD": "1",
            "REDIS_URL": os.environ["REDIS_URL"],
        }
    )
    env.pop("HTTPS", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "no issues" in output, output


# --- Demo users ---------------------------------------------------------------------------

PRINTED = re.compile(r"(\w+) \((superuser|user)\) password: (\S+)")


def test_seed_demo_creates_admin_and_alice_once_and_prints_passwords_once(db, settings):
    settings.DEBUG = True
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    printed = {name: (role, password) for name, role, password in PRINTED.findall(out.getvalue())}
    assert set(printed) == {"admin", "alice"}
    users = get_user_model().objects
    admin, alice = users.get(username="admin"), users.get(username="alice")
    assert admin.is_superuser and admin.is_staff and printed["admin"][0] == "superuser"
    assert not alice.is_superuser and not alice.is_staff and printed["alice"][0] == "user"
    assert admin.check_password(printed["admin"][1])
    assert alice.check_password(printed["alice"][1])
    assert printed["admin"][1] != printed["alice"][1]

    again = io.StringIO()
    call_command("seed_demo", stdout=again)
    assert "password:" not in again.getvalue()
    assert printed["admin"][1] not in again.getvalue()
    assert users.count() == 2
    admin.refresh_from_db()
    assert admin.check_password(printed["admin"][1])  # unchanged


def test_seed_demo_refuses_without_debug(db, settings):
    settings.DEBUG = False
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("seed_demo", stdout=out)
    assert get_user_model().objects.count() == 0
    assert "password" not in out.getvalue()


def test_seeded_users_sign_in_through_the_api(db, settings, redis):
    settings.DEBUG = True
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    printed = {name: password for name, _, password in PRINTED.findall(out.getvalue())}
    settings.DEBUG = False
    client = Client()
    response = login(client, "admin", printed["admin"])
    assert response.status_code == 200
    assert response.json()["user"]["is_staff"] is True
    assert [r.user_id for r in services.list_user_sessions(response.json()["user"]["id"])] == [
        str(response.json()["user"]["id"])
    ]
