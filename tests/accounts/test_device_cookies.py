"""Login limits an attacker cannot turn against the account's owner (OWASP device
cookies), over HTTP against a real server: the owner's browser that signed in before
keeps its own small budget while five other clients lock the account."""

from __future__ import annotations

import http.cookiejar
import re
import secrets
import urllib.error
import urllib.parse
import urllib.request

import pytest
from django.core import signing
from django.test import override_settings

from tests.servers import Browser, gunicorn

pytestmark = [pytest.mark.server, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse 9"
ARGON2 = "django.contrib.auth.hashers.Argon2PasswordHasher"
SERVER = {
    "LOGIN_RATE_LIMIT": "5/15m",
    "DEVICE_LOGIN_LIMIT": "3/15m",
    "TRUST_X_FORWARDED_FOR": "1",  # the test plays clients from several addresses
}


@pytest.fixture
def users(redis, django_user_model):
    with override_settings(PASSWORD_HASHERS=[ARGON2]):  # the server's own first hasher
        owner = django_user_model.objects.create_user(
            "owner", "owner@example.com", PASSWORD, is_staff=True, is_superuser=True
        )
        django_user_model.objects.create_user("mallory", "mallory@example.com", PASSWORD)
    return owner


class Client:
    """One browser (a cookie jar) at one address."""

    def __init__(self, base: str, ip: str) -> None:
        self.base, self.ip, self.browser = base, ip, Browser()

    def api(self, method: str, path: str, body=None) -> tuple[int, object]:
        headers = {"X-Forwarded-For": self.ip}
        if method != "GET":
            _, _, csrf = self.browser.request("GET", f"{self.base}/api/csrf", headers=headers)
            headers["X-CSRFToken"] = csrf["csrfToken"]
        status, _, body = self.browser.request(method, self.base + path, body, headers)
        return status, body

    def login(self, username: str, password: str) -> int:
        return self.api("POST", "/api/login", {"username": username, "password": password})[0]

    def admin_login(self, username: str, password: str) -> int:
        headers = {"X-Forwarded-For": self.ip}
        self.browser.request("GET", f"{self.base}/admin/login/", headers=headers)
        token = self.browser.cookie("csrftoken")
        form = urllib.parse.urlencode(
            {
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": token,
                "next": "/admin/",
            }
        )
        request = urllib.request.Request(
            f"{self.base}/admin/login/", data=form.encode(), method="POST",
            headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
        )  # fmt: skip
        opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.browser.jar), _NoRedirect
        )
        try:
            with opener.open(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    def device_cookie(self) -> str | None:
        return self.browser.cookie("sa_device")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def lock_out(base: str, username: str = "owner", admin: bool = False) -> None:
    """Five wrong passwords for the account, from five other clients."""
    for n in range(5):
        attacker = Client(base, f"203.0.113.{n + 1}")
        status = (
            attacker.admin_login(username, "guess") if admin else attacker.login(username, "guess")
        )
        assert status in (200, 401), status  # the admin's form answers 200


def test_the_owners_trusted_browser_signs_in_while_the_account_is_locked(users):
    with gunicorn(workers=1, threads=4, **SERVER) as (base, _log):
        owner = Client(base, "198.51.100.7")
        assert owner.login("owner", PASSWORD) == 200
        assert owner.device_cookie(), "a successful sign-in trusts the browser"
        assert owner.api("POST", "/api/logout")[0] == 200
        lock_out(base)
        # Without the device cookie, even the right password is refused...
        assert Client(base, "198.51.100.8").login("owner", PASSWORD) == 429
        # ...with it, the owner gets in.
        assert owner.login("owner", PASSWORD) == 200


def test_another_accounts_or_a_forged_device_cookie_gives_no_privilege(users):
    with gunicorn(workers=1, threads=4, **SERVER) as (base, _log):
        other = Client(base, "198.51.100.9")
        assert other.login("mallory", PASSWORD) == 200  # trusted, for mallory only
        assert other.api("POST", "/api/logout")[0] == 200
        lock_out(base)
        assert other.login("owner", PASSWORD) == 429
        forger = Client(base, "198.51.100.10")
        forged = f"acct:{users.pk}:{secrets.token_urlsafe(32)}"
        for value in (f"{forged}:not-a-signature", signing.Signer(salt="x").sign(forged)):
            forger.browser.jar.clear()
            forger.browser.request("GET", f"{base}/api/csrf")  # a jar for the site
            _set_cookie(forger, "sa_device", value)
            assert forger.login("owner", PASSWORD) == 429


def _set_cookie(client: Client, name: str, value: str) -> None:
    client.browser.jar.set_cookie(
        http.cookiejar.Cookie(0, name, value, None, False, "127.0.0.1", False, False, "/",
                              True, False, None, False, None, None, {})
    )  # fmt: skip


def test_a_trusted_device_that_keeps_failing_loses_its_privilege(users):
    with gunicorn(workers=1, threads=4, **SERVER) as (base, _log):
        owner = Client(base, "198.51.100.7")
        assert owner.login("owner", PASSWORD) == 200
        owner.api("POST", "/api/logout")
        lock_out(base)
        for _ in range(3):  # its own budget: wrong passwords are checked, and count there
            assert owner.login("owner", "a wrong one") == 401
        # Spent: the device is trusted no more, and the account is locked.
        assert owner.login("owner", "a wrong one") == 429
        assert owner.login("owner", PASSWORD) == 429


def test_the_admin_login_honours_the_trusted_device_too(users):
    with gunicorn(workers=1, threads=4, **SERVER) as (base, _log):
        owner = Client(base, "198.51.100.7")
        assert owner.admin_login("owner", PASSWORD) == 302
        assert owner.device_cookie()
        lock_out(base, admin=True)
        assert Client(base, "198.51.100.8").admin_login("owner", PASSWORD) == 429
        assert owner.admin_login("owner", PASSWORD) == 302
        assert re.fullmatch(r"[\w:.-]+", owner.device_cookie())


def test_successful_sign_ins_do_not_spend_the_devices_budget(users):
    with gunicorn(workers=1, threads=4, **SERVER) as (base, _log):
        owner = Client(base, "198.51.100.7")
        for _ in range(5):  # more than the device's budget of 3, all successful
            assert owner.login("owner", PASSWORD) == 200
            assert owner.api("POST", "/api/logout")[0] == 200
        lock_out(base)
        assert owner.login("owner", PASSWORD) == 200


def test_a_token_counts_as_a_device_of_its_own(users):
    with gunicorn(workers=1, threads=4, **SERVER) as (base, _log):
        script = Browser()
        body = {"username": "owner", "password": PASSWORD, "name": "CI runner"}
        headers = {"X-Forwarded-For": "198.51.100.20"}
        status, _, issued = script.request("POST", f"{base}/api/tokens", body, headers)
        assert status == 201, issued
        lock_out(base)
        # Without a token, issuing another is refused like any sign-in...
        status, _, _ = Browser().request("POST", f"{base}/api/tokens", body, headers)
        assert status == 429
        # ...while the holder of a live token of the account is judged on its own budget.
        bearer = {**headers, "Authorization": f"Bearer {issued['token']}"}
        status, _, again = script.request("POST", f"{base}/api/tokens", body, bearer)
        assert status == 201, again
        # A token of another account gives nothing.
        other = {"username": "mallory", "password": PASSWORD, "name": "x"}
        _, _, mallory = Browser().request("POST", f"{base}/api/tokens", other, headers)
        foreign = {**headers, "Authorization": f"Bearer {mallory['token']}"}
        status, _, _ = Browser().request("POST", f"{base}/api/tokens", body, foreign)
        assert status == 429
