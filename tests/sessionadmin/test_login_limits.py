"""The failed-login limit on every sign-in path: the admin's login, the site's API and
pages, a third-party login view, and the old-password check of a password change."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.contrib.auth import authenticate
from django.test import Client, override_settings

from sessionadmin import services
from sessionadmin.auth import limits
from sessionadmin.store import keys

pytestmark = [pytest.mark.urls("tests.urls"), pytest.mark.usefixtures("redis")]

PASSWORD = "correct horse 9"
WRONG = "not the password"


@pytest.fixture
def alice(make_user):
    return make_user("alice", password=PASSWORD, is_staff=True, is_superuser=True)


def admin_login(client: Client, username: str, password: str, **extra):
    client.get("/admin/login/", **extra)  # sets the CSRF cookie, as a browser would
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    return client.post(
        "/admin/login/",
        {"username": username, "password": password, "csrfmiddlewaretoken": token,
         "next": "/admin/"},
        **extra,
    )  # fmt: skip


def api_login(client: Client, username: str, password: str, **extra):
    data = {"username": username, "password": password}
    return client.post("/api/login", data, content_type="application/json", **extra)


def signed_in(client: Client) -> bool:
    return client.get("/api/session").json()["authenticated"]


@override_settings(LOGIN_RATE_LIMIT="5/15m")
def test_twelve_wrong_admin_logins_are_limited_and_the_right_password_is_then_refused(alice):
    client = Client(enforce_csrf_checks=True)
    statuses = [admin_login(client, "alice", WRONG).status_code for _ in range(12)]
    assert statuses == [200] * 5 + [429] * 7
    refused = admin_login(client, "alice", PASSWORD)
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 15 * 60
    html = refused.content.decode()
    # The admin's own form, saying why: not "wrong username or password".
    assert 'id="login-form"' in html
    assert "Too many failed sign-in attempts. Try again in 15 minutes." in html
    assert "Please enter the correct" not in html
    assert not signed_in(client)


@override_settings(LOGIN_RATE_LIMIT="3/15m")
def test_the_admin_login_and_the_api_login_share_one_count(alice):
    for _ in range(2):
        assert admin_login(Client(), "alice", WRONG).status_code == 200
    assert api_login(Client(), "alice", WRONG).status_code == 401
    response = api_login(Client(), "alice", PASSWORD, REMOTE_ADDR="10.9.9.9")
    assert response.status_code == 429
    assert response.json()["code"] == "RATE_LIMITED"
    assert admin_login(Client(), "ALICE", PASSWORD, REMOTE_ADDR="10.9.9.8").status_code == 429


@override_settings(LOGIN_RATE_LIMIT="3/15m")
def test_username_email_and_case_variants_are_one_account(alice):
    for name in ("alice", "Alice@Example.com", " ALICE "):
        assert api_login(Client(), name, WRONG, REMOTE_ADDR="10.1.1.1").status_code == 401
    response = api_login(Client(), "alice@example.com", PASSWORD, REMOTE_ADDR="10.1.1.2")
    assert response.status_code == 429


@override_settings(LOGIN_RATE_LIMIT="3/15m")
def test_a_third_party_login_view_is_limited_too(alice):
    # Django's own LoginView, mounted by the tests: no code of ours in the view.
    client = Client()
    for _ in range(3):
        response = client.post("/test/django-login/", {"username": "alice", "password": WRONG})
        assert response.status_code == 200
    response = client.post("/test/django-login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.content.decode()
    assert not signed_in(client)


@override_settings(LOGIN_RATE_LIMIT="3/15m")
def test_authenticate_without_a_request_still_counts_per_account(alice):
    for _ in range(3):
        assert authenticate(None, username="alice", password=WRONG) is None
    # Over the limit authenticate() refuses even the right password, without a hash.
    assert authenticate(None, username="alice", password=PASSWORD) is None
    assert api_login(Client(), "alice", PASSWORD).status_code == 429


@override_settings(LOGIN_RATE_LIMIT="3/15m")
@pytest.mark.parametrize(
    ("first", "second", "shared"),
    [
        ("2001:db8:1:2::1", "2001:db8:1:2:ffff::9", True),  # one /64
        ("2001:db8:1:2::1", "2001:db8:1:3::1", False),  # the next /64
        ("203.0.113.7", "::ffff:203.0.113.7", True),  # IPv4 and its mapped form
        ("203.0.113.7", "203.0.113.8", False),
    ],
)
def test_ipv6_clients_are_counted_by_their_64(db, first, second, shared):
    for n in range(3):
        assert api_login(Client(), f"nobody{n}", WRONG, REMOTE_ADDR=first).status_code == 401
    response = api_login(Client(), "someone-else", WRONG, REMOTE_ADDR=second)
    assert response.status_code == (429 if shared else 401)


@override_settings(LOGIN_RATE_LIMIT="3/15m")
def test_an_empty_remote_addr_is_not_one_shared_bucket(alice):
    for n in range(5):
        response = api_login(Client(), f"nobody{n}", WRONG, REMOTE_ADDR="")
        assert response.status_code == 401
    assert api_login(Client(), "alice", PASSWORD, REMOTE_ADDR="").status_code == 200


@override_settings(LOGIN_RATE_LIMIT="3/15m")
def test_the_old_password_check_of_a_password_change_is_limited(alice, redis):
    client = Client()
    client.force_login(alice)
    data = {"old_password": WRONG, "new_password": "a brand new passphrase 42"}
    for _ in range(3):
        response = client.post("/api/password", data, content_type="application/json")
        assert response.status_code == 400
        assert "old_password" in response.json()["fields"]
    right = {**data, "old_password": PASSWORD}
    response = client.post("/api/password", right, content_type="application/json")
    assert response.status_code == 429
    assert response.json()["code"] == "RATE_LIMITED"
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)  # unchanged
    # The same account count: the sign-in page refuses the right password too.
    assert api_login(Client(), "alice", PASSWORD).status_code == 429


@override_settings(LOGIN_RATE_LIMIT="3/15m")
@pytest.mark.parametrize("path", ["/api/password", "/admin/password_change/"])
def test_old_password_checks_count_per_client_ip_too(alice, redis, path):
    # As a sign-in's: wrong old passwords from one address count against that address,
    # so they cannot be spread over accounts (one stolen session each) from it.
    client = Client(REMOTE_ADDR="10.9.8.7")
    client.force_login(alice)
    new = "x9 brand new phrase"
    wrong = {"old_password": WRONG, "new_password": new, "new_password1": new,
             "new_password2": new}  # fmt: skip
    for _ in range(3):
        if path.startswith("/api/"):
            assert client.post(path, wrong, content_type="application/json").status_code == 400
        else:
            assert client.post(path, wrong).status_code == 200  # the form, with its error
    assert int(redis.get(keys.login_attempts("ip:10.9.8.7"))) == 3
    # Another account, from the same address: refused before any password check.
    assert api_login(Client(), "nobody", WRONG, REMOTE_ADDR="10.9.8.7").status_code == 429


@override_settings(LOGIN_RATE_LIMIT="3/15m", SESSIONADMIN_DEVICE_LOGIN_LIMIT="2/15m")
def test_an_accounts_tokens_share_one_budget_of_guesses(alice, redis):
    # A live token sent as the bearer of a new token's sign-in is a device: attacks on
    # the account do not lock it out. Whoever holds several gets no more guesses.
    def issue(token: str | None, password: str):
        extra = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        body = {"username": "alice", "password": password, "name": "CI"}
        return Client().post("/api/tokens", body, content_type="application/json", **extra)

    tokens = [issue(None, PASSWORD).json()["token"] for _ in range(2)]
    for _ in range(2):
        assert issue(tokens[0], WRONG).status_code == 401
    assert int(redis.get(keys.login_attempts(limits.user_bucket(alice))) or 0) == 0
    # The second token finds the shared budget spent: the account's count, from here.
    assert issue(tokens[1], WRONG).status_code == 401
    assert int(redis.get(keys.login_attempts(limits.user_bucket(alice)))) == 1


@override_settings(LOGIN_RATE_LIMIT="3/15m")
def test_the_password_page_says_when_the_old_password_check_is_limited(alice):
    client = Client()
    client.force_login(alice)
    form = {"old_password": WRONG, "new_password1": "x9 brand new phrase",
            "new_password2": "x9 brand new phrase"}  # fmt: skip
    for _ in range(3):
        assert client.post("/accounts/password/", form).status_code == 200
    response = client.post("/accounts/password/", {**form, "old_password": PASSWORD})
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.content.decode()


@override_settings(LOGIN_RATE_LIMIT="3/15m")
def test_a_successful_sign_in_takes_its_attempt_back(alice, redis):
    for _ in range(2):
        assert api_login(Client(), "alice", WRONG).status_code == 401
    for _ in range(5):
        assert api_login(Client(), "alice", PASSWORD).status_code == 200
    bucket = keys.login_attempts(limits.user_bucket(alice))
    assert int(redis.get(bucket)) == 2


@override_settings(LOGIN_RATE_LIMIT="3/15m")
@pytest.mark.parametrize("wrapped", ["0", "1"], ids=["django", "wrapped-as-drf"])
def test_a_right_password_checked_without_login_is_taken_back(alice, redis, wrapped):
    # HTTP Basic (Django REST framework's BasicAuthentication, a "confirm your password"
    # view): authenticate() on every request and no login(). Right answers must never
    # add up to a lockout; wrong ones count as any sign-in's.
    import base64

    def basic(password: str) -> int:
        encoded = base64.b64encode(f"alice:{password}".encode()).decode()
        return (
            Client(REMOTE_ADDR="10.5.5.5")
            .get(f"/test/basic?wrapped={wrapped}", HTTP_AUTHORIZATION=f"Basic {encoded}")
            .status_code
        )

    for _ in range(6):
        assert basic(PASSWORD) == 200
    account, ip = (keys.login_attempts(b) for b in (limits.user_bucket(alice), "ip:10.5.5.5"))
    assert int(redis.get(account) or 0) == 0 and int(redis.get(ip) or 0) == 0
    assert basic(WRONG) == 401
    assert basic(WRONG) == 401
    assert int(redis.get(account)) == 2 and int(redis.get(ip)) == 2
    assert basic(PASSWORD) == 200  # the third attempt of three: still allowed, taken back
    assert basic(WRONG) == 401
    assert basic(PASSWORD) == 401  # now over the limit: refused before any hash
    assert api_login(Client(), "alice", PASSWORD).status_code == 429


LIMITED_MODEL_BACKEND = ["sessionadmin.auth.backends.LimitedModelBackend"]


@override_settings(LOGIN_RATE_LIMIT="3/15m", AUTHENTICATION_BACKENDS=LIMITED_MODEL_BACKEND)
def test_the_one_backend_install_limits_every_path_and_login_needs_no_backend(alice, redis):
    # The README's install: Django's ModelBackend under the limit, one backend. With two
    # (LoginLimitBackend, then ModelBackend), a sign-up's login(request, user) raised
    # ValueError: Django could not tell which backend had signed the user in.
    response = Client().post("/test/sign-up", {"username": "newcomer"})
    assert response.json() == {"user": "newcomer"}
    for _ in range(2):  # Django's own LoginView, then the async path: one count each
        response = Client().post("/test/django-login/", {"username": "alice", "password": WRONG})
        assert response.status_code == 200
    from asgiref.sync import async_to_sync
    from django.contrib.auth import aauthenticate

    assert async_to_sync(aauthenticate)(None, username="alice", password=WRONG) is None
    assert api_login(Client(), "alice", PASSWORD).status_code == 429  # 3 of 3 spent
    bucket = keys.login_attempts(limits.user_bucket(alice))
    assert int(redis.get(bucket)) == 3


@override_settings(LOGIN_RATE_LIMIT="3/15m", AUTHENTICATION_BACKENDS=LIMITED_MODEL_BACKEND)
def test_the_one_backend_install_takes_a_right_password_back(alice, redis):
    for _ in range(5):
        client = Client()
        response = client.post("/test/django-login/", {"username": "alice", "password": PASSWORD})
        assert response.status_code == 302
        assert signed_in(client)
    assert int(redis.get(keys.login_attempts(limits.user_bucket(alice))) or 0) == 0


def test_a_backend_of_another_kind_names_its_accounts_by_the_login_fields(db, settings):
    # authenticate(request, phone=..., password=...): no username, no email. Unlisted,
    # every such attempt names no account (one count for all: the README says to list
    # the field). Listed in SESSIONADMIN_LOGIN_FIELDS, the phone names the account; any
    # other text (a one-time code beside it) never does, or each guess would be new.
    from sessionadmin.auth.backends import login_name

    quinn = {"phone": "+15550001", "otp": "123456", "password": WRONG}
    assert login_name(quinn) == ""
    settings.SESSIONADMIN_LOGIN_FIELDS = ("username", "email", "phone")
    assert login_name(quinn) == "+15550001"
    assert login_name({**quinn, "otp": "654321"}) == "+15550001"


@pytest.mark.parametrize(
    "backends",
    [["sessionadmin.auth.backends.LoginLimitBackend", "django.contrib.auth.backends.ModelBackend"],
     LIMITED_MODEL_BACKEND],
    ids=["limit-first", "limited-model"],
)  # fmt: skip
def test_a_wrong_guess_is_never_taken_back_when_a_later_backend_raises(alice, redis, backends):
    # ModelBackend finds the password wrong, then a directory backend raises: no
    # user_login_failed is sent. The attempt must stay counted, or guesses would be free
    # (each a 500, and a right one a 200: an oracle without a limit).
    down = [*backends, "tests.helpers.UnreachableDirectoryBackend"]
    with override_settings(LOGIN_RATE_LIMIT="3/15m", AUTHENTICATION_BACKENDS=down):
        import base64

        def basic(password: str) -> int:
            encoded = base64.b64encode(f"alice:{password}".encode()).decode()
            client = Client(REMOTE_ADDR="10.6.6.6", raise_request_exception=False)
            return client.get("/test/basic", HTTP_AUTHORIZATION=f"Basic {encoded}").status_code

        assert [basic(WRONG) for _ in range(3)] == [500, 500, 500]
        bucket = keys.login_attempts(limits.user_bucket(alice))
        assert int(redis.get(bucket)) == 3
        assert basic(PASSWORD) == 401  # over the limit: refused before any check


@override_settings(LOGIN_RATE_LIMIT="3/15m")
def test_counters_hold_no_raw_name_or_address_of_unknown_accounts(db, redis):
    api_login(Client(), "Mallory@Example.com", WRONG, REMOTE_ADDR="10.2.3.4")
    names = [k.decode() for k in redis.keys("{sa:login}:*")]
    assert len(names) == 2
    assert not any("mallory" in n.lower() for n in names)
    assert any(n.endswith("ip:10.2.3.4") for n in names)


def test_a_limited_admin_login_never_signs_in_even_with_the_right_password(alice):
    with override_settings(LOGIN_RATE_LIMIT="1/15m"):
        client = Client()
        admin_login(client, "alice", WRONG)
        response = admin_login(client, "alice", PASSWORD)
        assert response.status_code == 429
        assert re.search(r"Try again in \d+ minutes?", response.content.decode())
        assert services.list_user_sessions(alice.pk) == []


@override_settings(LOGIN_RATE_LIMIT="3/15m")
def test_the_admin_password_change_is_limited_too(alice):
    # Django's admin checks the old password with its own form, through no backend.
    client = Client()
    client.force_login(alice)
    new = {"new_password1": "x9 brand new phrase", "new_password2": "x9 brand new phrase"}
    for _ in range(3):
        response = client.post("/admin/password_change/", {"old_password": WRONG, **new})
        assert response.status_code == 200  # the form again, with its error
    response = client.post("/admin/password_change/", {"old_password": PASSWORD, **new})
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.content.decode()
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


@override_settings(LOGIN_RATE_LIMIT="3/15m")
def test_djangos_own_password_change_view_is_limited_too(alice, redis):
    # django.contrib.auth.urls' PasswordChangeView, with Django's form (no hook of ours):
    # counted by the middleware, as the admin's; a right old password is taken back.
    client = Client()
    client.force_login(alice)
    new = {"new_password1": "x9 brand new phrase", "new_password2": "x9 brand new phrase"}
    for _ in range(2):
        response = client.post("/test/django-password/", {"old_password": WRONG, **new})
        assert response.status_code == 200  # the form again, with its error
    bucket = keys.login_attempts(limits.user_bucket(alice))
    assert int(redis.get(bucket)) == 2
    response = client.post("/test/django-password/", {"old_password": PASSWORD, **new})
    assert response.status_code == 302
    assert int(redis.get(bucket)) == 2  # the right one taken back
    alice.refresh_from_db()  # its new password hash: the session's auth hash
    client.force_login(alice)
    for _ in range(2):
        client.post("/test/django-password/", {"old_password": WRONG, **new})
    response = client.post(
        "/test/django-password/", {"old_password": "x9 brand new phrase", **new}
    )
    assert response.status_code == 429
    alice.refresh_from_db()
    assert alice.check_password("x9 brand new phrase")  # unchanged by the refused one


@override_settings(LOGIN_RATE_LIMIT="3/15m")
def test_a_wrong_old_password_stays_counted_when_the_view_redirects_on_it(alice, redis):
    # A PasswordChangeView of a project's that redirects on a refused form: a redirect is
    # no sign that the old password was right; only a changed password is.
    client = Client()
    client.force_login(alice)
    new = {"new_password1": "x9 brand new phrase", "new_password2": "x9 brand new phrase"}
    path = "/test/django-password-redirecting/"
    for _ in range(2):
        response = client.post(path, {"old_password": WRONG, **new})
        assert response.status_code == 302
        assert response["Location"].endswith("refused=1")
    bucket = keys.login_attempts(limits.user_bucket(alice))
    assert int(redis.get(bucket)) == 2
    response = client.post(path, {"old_password": PASSWORD, **new})
    assert response.status_code == 302 and response["Location"] == "/test/whoami"
    assert int(redis.get(bucket)) == 2  # the right one taken back, the wrong ones kept
    alice.refresh_from_db()
    assert alice.check_password("x9 brand new phrase")


@override_settings(LOGIN_RATE_LIMIT="3/15m")
def test_a_right_old_password_is_taken_back_when_the_view_signs_the_user_out_after(alice, redis):
    # "Sign in again with your new password": the view logs the user out after the change,
    # so request.user is anonymous by the response; the attempt was still a right one.
    client = Client()
    client.force_login(alice)
    new = {"new_password1": "x9 brand new phrase", "new_password2": "x9 brand new phrase"}
    response = client.post(
        "/test/django-password-then-sign-out/", {"old_password": PASSWORD, **new}
    )
    assert response.status_code == 302
    bucket = keys.login_attempts(limits.user_bucket(alice))
    assert int(redis.get(bucket) or 0) == 0
    assert client.get("/test/whoami").json() == {"user": None}


@override_settings(LOGIN_RATE_LIMIT="2/15m")
def test_a_successful_admin_password_change_takes_its_attempt_back(alice, redis):
    client = Client()
    client.force_login(alice)
    new = {"new_password1": "x9 brand new phrase", "new_password2": "x9 brand new phrase"}
    response = client.post("/admin/password_change/", {"old_password": PASSWORD, **new})
    assert response.status_code == 302
    assert int(redis.get(keys.login_attempts(limits.user_bucket(alice))) or 0) == 0


def test_async_sign_in_goes_through_the_limit(alice, redis):
    from asgiref.sync import async_to_sync
    from django.contrib.auth import aauthenticate

    with override_settings(LOGIN_RATE_LIMIT="1/15m"):
        assert async_to_sync(aauthenticate)(None, username="alice", password=WRONG) is None
        # Counted, so the right password is now refused before any hash.
        assert async_to_sync(aauthenticate)(None, username="alice", password=PASSWORD) is None


def test_a_nul_in_a_login_name_is_a_failed_attempt_not_an_error(alice):
    response = api_login(Client(), "ali\x00ce", WRONG)
    assert response.status_code in (400, 401)
