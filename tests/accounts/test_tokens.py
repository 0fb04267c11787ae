"""Token sessions for scripts and apps, black-box over HTTP against a real server: issued
once, used as a bearer with no cookie and no CSRF token, listed and revoked like any
session, with their own timeouts and limits, and refused any other way."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from django.test import override_settings

from cart.models import Product
from tests.servers import Browser, gunicorn, signed_in_browser

pytestmark = [pytest.mark.server, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse 9"
ARGON2 = "django.contrib.auth.hashers.Argon2PasswordHasher"


@pytest.fixture
def alice(redis, django_user_model):
    with override_settings(PASSWORD_HASHERS=[ARGON2]):  # the server's own first hasher
        return django_user_model.objects.create_user("alice", "alice@example.com", PASSWORD)


class Api:
    """A script: no cookie jar of its own beyond what the server sets (and checks that)."""

    def __init__(self, base: str, token: str | None = None) -> None:
        self.base, self.token, self.browser = base, token, Browser()

    def call(self, method: str, path: str, body=None, headers=None):
        sent = dict(headers or {})
        if self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        status, head, answer = self.browser.request(method, self.base + path, body, sent)
        if self.token or headers:
            assert "Set-Cookie" not in head, f"a bearer answer set a cookie: {head}"
        return status, answer


def issue(base: str, name: str = "CI runner", password: str = PASSWORD):
    return Api(base).call(
        "POST", "/api/tokens", {"username": "alice", "password": password, "name": name}
    )


def test_a_token_is_issued_once_and_used_without_cookie_or_csrf(alice):
    product = Product.objects.create(name="Mug", price=Decimal("9.00"), stock=5)
    with gunicorn(workers=2, threads=2) as (base, _log):
        status, body = issue(base)
        assert status == 201, body
        token, session = body["token"], body["session"]
        assert token.startswith("sat_") and len(token) == 47
        assert session["kind"] == "token" and session["name"] == "CI runner"
        script = Api(base, token)
        status, profile = script.call("GET", "/api/profile")
        assert status == 200, profile
        assert profile["user"]["username"] == "alice"
        assert profile["session"]["id"] == session["id"] and profile["session"]["current"]
        status, cart = script.call("POST", "/api/cart/items", {"product_id": product.pk})
        assert status == 200, cart
        assert cart["total_items"] == 1
        assert script.call("GET", "/api/cart")[1]["total_items"] == 1
        assert token not in str(profile)  # shown once, in the answer that issued it


def test_the_token_is_listed_with_its_name_and_revocable_from_a_browser(alice):
    with gunicorn(workers=1, threads=2) as (base, _log):
        _, body = issue(base, name="Pixel 8")
        script = Api(base, body["token"])
        browser, csrf = signed_in_browser(base)
        _, _, mine = browser.request("GET", f"{base}/api/sessions")
        kinds = {s["kind"]: s for s in mine["results"]}
        assert set(kinds) == {"browser", "token"}
        assert kinds["token"]["name"] == "Pixel 8" and kinds["browser"]["name"] is None
        status, _, _ = browser.request(
            "DELETE", f"{base}/api/sessions/{kinds['token']['id']}", headers=csrf
        )
        assert status == 204
        status, answer = script.call("GET", "/api/profile")
        assert (status, answer["code"]) == (401, "AUTH_REQUIRED")


def test_a_token_ends_itself_and_a_password_change_ends_the_others(alice):
    with gunicorn(workers=1, threads=2) as (base, _log):
        first, second = (Api(base, issue(base)[1]["token"]) for _ in range(2))
        assert first.call("DELETE", "/api/tokens/current")[0] == 204
        assert first.call("GET", "/api/profile")[0] == 401
        browser, csrf = signed_in_browser(base)
        new = {"old_password": PASSWORD, "new_password": "a brand new passphrase 42"}
        status, _, _ = browser.request("POST", f"{base}/api/password", new, headers=csrf)
        assert status == 200
        status, answer = second.call("GET", "/api/profile")
        assert (status, answer["code"]) == (401, "AUTH_REQUIRED")


def test_idle_and_absolute_timeouts_of_tokens(alice):
    # Activity is written back at once (no lazy touch): the idle timeout is 2 s here.
    server = {
        "TOKEN_IDLE_TIMEOUT": "2",
        "TOKEN_ABSOLUTE_TIMEOUT": "4",
        "SESSION_TOUCH_INTERVAL": "0",
    }
    with gunicorn(workers=1, threads=2, **server) as (base, _log):
        idle = Api(base, issue(base)[1]["token"])
        busy = Api(base, issue(base)[1]["token"])
        issued = time.monotonic()
        for _ in range(3):  # the busy token keeps being used; the idle one does not
            time.sleep(0.8)
            assert busy.call("GET", "/api/profile")[0] == 200
        status, answer = idle.call("GET", "/api/profile")
        assert (status, answer["code"], answer["reason"]) == (401, "SESSION_TIMEOUT", "idle")
        while time.monotonic() - issued < 3.5:  # busy all along, up to its absolute age
            assert busy.call("GET", "/api/profile")[0] == 200
            time.sleep(0.4)
        time.sleep(max(0.0, 4.3 - (time.monotonic() - issued)))
        status, answer = busy.call("GET", "/api/profile")
        assert (status, answer["code"], answer["reason"]) == (401, "SESSION_TIMEOUT", "absolute")


def test_issuing_tokens_is_rate_limited_like_a_sign_in(alice):
    with gunicorn(workers=1, threads=2, LOGIN_RATE_LIMIT="3/15m") as (base, _log):
        for _ in range(3):
            status, answer = issue(base, password="wrong")
            assert (status, answer["code"]) == (401, "INVALID_CREDENTIALS")
        status, answer = issue(base)
        assert (status, answer["code"]) == (429, "RATE_LIMITED")
        assert answer["retry_after"] > 0


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer ", "Bearer sat_short", "Bearer sat_" + "x" * 43, "bearer a b",
     "Bearer " + "sat_" + "y" * 43 + " extra"],
    ids=["no-token", "blank", "short", "unknown", "two-words", "trailing"],
)  # fmt: skip
def test_a_wrong_or_malformed_authorization_header_is_401(alice, header):
    with gunicorn(workers=1, threads=2) as (base, _log):
        status, answer = Api(base).call("GET", "/api/products", headers={"Authorization": header})
        assert (status, answer["code"]) == (401, "AUTH_REQUIRED")


def test_a_token_sent_as_a_cookie_or_a_cookie_key_as_a_bearer_is_refused(alice):
    import http.cookiejar

    with gunicorn(workers=1, threads=2) as (base, _log):
        token = issue(base)[1]["token"]
        browser = Browser()
        browser.jar.set_cookie(
            http.cookiejar.Cookie(0, "sessionid", token, None, False, "127.0.0.1", False,
                                  False, "/", True, False, None, False, None, None, {})
        )  # fmt: skip
        status, _, answer = browser.request("GET", f"{base}/api/profile")
        assert (status, answer["code"]) == (401, "AUTH_REQUIRED")
        signed_in, _ = signed_in_browser(base)
        cookie_key = signed_in.cookie("sessionid")
        status, answer = Api(base, cookie_key).call("GET", "/api/profile")
        assert (status, answer["code"]) == (401, "AUTH_REQUIRED")
        # And the real token, as a bearer, still works: neither attempt harmed it.
        assert Api(base, token).call("GET", "/api/profile")[0] == 200


def test_tokens_have_their_own_per_user_limit(alice):
    with gunicorn(workers=1, threads=2, TOKEN_MAX_PER_USER="2", SESSION_MAX_PER_USER="1") as (
        base,
        _log,
    ):
        browser, _ = signed_in_browser(base)
        scripts = [Api(base, issue(base, name=f"t{n}")[1]["token"]) for n in range(3)]
        assert [s.call("GET", "/api/profile")[0] for s in scripts] == [401, 200, 200]
        # The browser session is not counted against the tokens, nor the reverse.
        status, _, _ = browser.request("GET", f"{base}/api/profile")
        assert status == 200


def test_a_token_changing_the_password_stays_and_cannot_sign_in_or_out(alice):
    with gunicorn(workers=1, threads=2) as (base, _log):
        script = Api(base, issue(base)[1]["token"])
        status, _ = script.call(
            "POST", "/api/password",
            {"old_password": PASSWORD, "new_password": "a brand new passphrase 42"},
        )  # fmt: skip
        assert status == 200
        assert script.call("GET", "/api/profile")[0] == 200  # the caller's token goes on
        for path in ("/api/login", "/api/logout"):
            status, answer = script.call("POST", path, {"username": "alice", "password": "x"})
            assert status == 400, answer
        assert script.call("GET", "/api/profile")[0] == 200


def test_issuing_a_token_takes_json_only(alice):
    with gunicorn(workers=1, threads=2) as (base, _log):
        status, _, answer = Browser().request(
            "POST", f"{base}/api/tokens", None,
            headers={"Content-Type": "text/plain"},
        )  # fmt: skip
        assert (status, answer["code"]) == (400, "BAD_JSON")
